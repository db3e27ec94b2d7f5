import { disposeParams, flattenParams } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { unzipSync, zipSync } from 'fflate';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectWeightsFormat, getBackbone, importWeights, importWeightsSync, readPth, readSafetensors, readWeightsFile, writeSafetensors, type SafeTensor } from './index';
import { FIXTURES, findCase, readBytes } from './testing/fixtures';

// Fixtures: tools/fixtures/pth_fixtures.py (torch.save's files and the tensors torch.load
// gives back); the broken archives and pickles are made here from them.

const PTH = join(FIXTURES, 'pth');

interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: number[];
}

const expected = JSON.parse(readFileSync(join(PTH, 'expected.json'), 'utf8')) as { files: Record<string, Record<string, ExpectedTensor>> };

const pth = (name: string): Uint8Array => readBytes(name, PTH);

/** The fixture's entries with some replaced (undefined: removed), zipped again. */
function rezipped(name: string, changes: Record<string, Uint8Array | undefined>, level: 0 | 6 = 0): Uint8Array {
  const entries: Record<string, Uint8Array> = { ...unzipSync(pth(name)) };
  for (const [entry, bytes] of Object.entries(changes)) {
    if (bytes === undefined) delete entries[entry];
    else entries[entry] = bytes;
  }
  return zipSync(entries, { level });
}

// A protocol-2 pickle assembler, for data.pkl files torch would not write.
const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const str = (s: string): number[] => [0x58, ...u32(utf8(s).length), ...utf8(s)]; // BINUNICODE
const int = (n: number): number[] => [0x4a, ...u32(n)]; // BININT
const global = (module: string, name: string): number[] => [0x63, ...utf8(`${module}\n${name}\n`)]; // GLOBAL
const tuple = (...items: number[][]): number[] => [0x28, ...items.flat(), 0x74]; // MARK … TUPLE
const dict = (...pairs: number[][]): Uint8Array => Uint8Array.from([0x80, 2, 0x7d, 0x28, ...pairs.flat(), 0x75, 0x2e]); // {} MARK … SETITEMS STOP

interface TensorArgs {
  storage?: string;
  numel?: number;
  offset?: number;
  size?: number[];
  stride?: number[];
}

/** 'w': _rebuild_tensor_v2(('storage', torch.<storage>, '0', 'cpu', numel), offset, size, stride, False, None). */
function tensorEntry({ storage = 'FloatStorage', numel = 4, offset = 0, size = [4], stride = [1] }: TensorArgs): number[] {
  const pid = tuple(str('storage'), global('torch', storage), str('0'), str('cpu'), int(numel));
  const args = tuple([...pid, 0x51], int(offset), tuple(...size.map(int)), tuple(...stride.map(int)), [0x89], [0x4e]);
  return [...str('w'), ...global('torch._utils', '_rebuild_tensor_v2'), ...args, 0x52];
}

/** An archive of one pickle and one float32 storage '0' of [0, 1, 2, 3]. */
function archive(pickle: Uint8Array, storage = new Uint8Array(new Float32Array([0, 1, 2, 3]).buffer)): Uint8Array {
  return zipSync({ 'archive/data.pkl': pickle, 'archive/data/0': storage }, { level: 0 });
}

function expectTensors(actual: Record<string, SafeTensor>, wanted: Record<string, ExpectedTensor>): void {
  expect(Object.keys(actual)).toEqual(Object.keys(wanted));
  for (const [name, e] of Object.entries(wanted)) {
    const t = actual[name];
    const values = e.dtype === 'F32' ? e.values.map(Math.fround) : e.values;
    expect([name, t.dtype, t.shape, Array.from(t.data as ArrayLike<number>)]).toEqual([name, e.dtype, e.shape, values]);
  }
}

describe('readPth', () => {
  it.each(Object.keys(expected.files))('reads %s: every tensor, its dtype, shape and values as torch.load gives them', (file) => {
    expectTensors(readPth(pth(file)), expected.files[file]);
  });

  it('gives float32 data as views, shared by tensors on one storage, and other dtypes in their own arrays', () => {
    const t = readPth(pth('views.pth'));
    expect(t.shared_a.data).toBeInstanceOf(Float32Array);
    expect(t.shared_a.data.buffer).toBe(t.shared_b.data.buffer);
    expect(t.int_scalar.data).toBeInstanceOf(Int32Array);
    const d = readPth(pth('dtypes.pth'));
    expect(Object.fromEntries(Object.entries(d).map(([n, v]) => [n, v.data.constructor.name]))).toEqual({
      f32: 'Float32Array', f16: 'Float32Array', bf16: 'Float32Array', f64: 'Float32Array', i64: 'Int32Array',
      i32: 'Int32Array', i16: 'Int16Array', i8: 'Int8Array', u8: 'Uint8Array', bool: 'Uint8Array',
    });
  });

  it('reads an archive whose entries were deflated (re-zipped by another tool)', () => {
    expectTensors(readPth(rezipped('state_dict.pth', {}, 6)), expected.files['state_dict.pth']);
  });

  it('says how to re-save a legacy (pre-1.6) file', () => {
    expect(() => readPth(pth('legacy.pth'))).toThrow(
      "Error in readPth: the file is in torch.save's legacy format (before torch 1.6, or _use_new_zipfile_serialization=False), which readPth does not read. " +
        `Re-save it with torch >= 1.6: python -c "import torch; torch.save(torch.load('old.pth'), 'new.pth')"`,
    );
  });

  it('names an int64 tensor that int32 cannot hold', () => {
    expect(() => readPth(pth('int64_overflow.pth'))).toThrow("Error in readPth: tensor 'big' is int64 and holds 2147483648 (element 1), which int32 cannot: tfjs has no int64 tensors.");
  });

  it('names what is wrong with bytes that are not a torch.save zip', () => {
    const whole = pth('state_dict.pth');
    expect(() => readPth('x.pth' as unknown as Uint8Array)).toThrow("Error in readPth: 'bytes' must be a Uint8Array, but got 'x.pth'.");
    expect(() => readPth(new Uint8Array([1, 2, 3]))).toThrow("Error in readPth: the 3 bytes are not a PyTorch .pth file: it is a zip archive, starting with 'PK\\x03\\x04'.");
    expect(() => readPth(whole.subarray(0, whole.length >> 1))).toThrow('Error in readPth: the zip archive cannot be read (invalid zip data): the file is truncated or damaged.');
    expect(() => readPth(Uint8Array.from([...whole.subarray(0, 4), ...zipSync({})]))).toThrow('Error in readPth: the zip archive is empty: not a torch.save file.');
    expect(() => readPth(zipSync({ 'data.pkl': dict() }))).toThrow("Error in readPth: the zip's first entry 'data.pkl' is not in a folder: not a torch.save archive.");
    expect(() => readPth(rezipped('state_dict.pth', { 'state_dict/data.pkl': undefined }))).toThrow(
      "Error in readPth: the zip has no 'state_dict/data.pkl': not a torch.save archive (entries: state_dict/data/0, state_dict/data/1, state_dict/data/2, state_dict/data/3, state_dict/data/4, … 4 more).",
    );
    expect(() => readPth(rezipped('state_dict.pth', { 'state_dict/byteorder': new TextEncoder().encode('middle') }))).toThrow("Error in readPth: 'state_dict/byteorder' says 'middle', not 'little' or 'big'.");
  });

  it('names a storage entry that is missing or shorter than its tensors need', () => {
    expect(() => readPth(rezipped('state_dict.pth', { 'state_dict/data/0': undefined }))).toThrow(
      "Error in readPth: the zip has no 'state_dict/data/0', the storage of tensor 'conv.weight': the file is damaged.",
    );
    expect(() => readPth(rezipped('state_dict.pth', { 'state_dict/data/0': new Uint8Array(100) }))).toThrow(
      "Error in readPth: 'state_dict/data/0' (the storage of tensor 'conv.weight') holds 100 bytes, but its 108 F32 elements need 432: the file is truncated or damaged.",
    );
    expect(() => readPth(archive(dict(tensorEntry({ numel: 4, offset: 2, size: [2, 2], stride: [1, 2] }))))).toThrow(
      "Error in readPth: tensor 'w' (offset 2, size [2,2], stride [1,2]) reaches element 5 of storage '0', which holds 4.",
    );
  });

  it('reads a hand-made tensor pickle (the assembler the error cases use)', () => {
    expect(readPth(archive(dict(tensorEntry({ offset: 1, size: [2, 2], stride: [0, 1] }))))).toEqual({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 1, 2]) } });
  });

  it('refuses every Python name but the few torch.save uses for tensors and dicts, naming it', () => {
    const system = Uint8Array.from([0x80, 2, ...global('os', 'system'), ...tuple(str('echo hi')), 0x52, 0x2e]);
    expect(() => readPth(archive(system))).toThrow(
      "Error in readPth: archive/data.pkl refers to the Python name 'os.system'. readPth reads tensors in dicts, lists and tuples, and refuses anything else (it runs no code); " +
        "if the file holds a whole model or other objects, save its tensors alone: torch.save(model.state_dict(), 'weights.pth').",
    );
    expect(() => readPth(archive(dict(tensorEntry({ storage: 'ComplexFloatStorage' }))))).toThrow(
      'Error in readPth: archive/data.pkl has a tensor on a torch.ComplexFloatStorage; readPth reads FloatStorage, DoubleStorage, HalfStorage, BFloat16Storage, LongStorage, IntStorage, ShortStorage, CharStorage, ByteStorage, BoolStorage.',
    );
  });

  it('names a pickle that holds no state dict, or malformed tensors', () => {
    expect(() => readPth(archive(Uint8Array.from([0x80, 2, ...tuple(int(1), int(2)), 0x2e])))).toThrow(
      'Error in readPth: archive/data.pkl holds an array of length 2, not a dict of tensors (a state dict) or a checkpoint dict holding one.',
    );
    expect(() => readPth(archive(dict(str('epoch'), int(3), str('model'), str('resnet'))))).toThrow(
      "Error in readPth: archive/data.pkl holds a dict with no tensors, and no dict of tensors under 'state_dict' or 'model' (its keys: 'epoch', 'model').",
    );
    expect(() => readPth(archive(dict(tensorEntry({ size: [4], stride: [1, 1] }))))).toThrow(
      "Error in readPth: a tensor on storage '0' has storage offset 0, size [4] and stride [1,1]: not a non-negative offset and two tuples of one length of non-negative integers.",
    );
    const badPid = Uint8Array.from([0x80, 2, 0x7d, ...str('w'), ...tuple(str('storage'), str('0')), 0x51, 0x73, 0x2e]);
    expect(() => readPth(archive(badPid))).toThrow("Error in readPth: archive/data.pkl has a persistent id that is not ('storage', torch.<Type>Storage, key, location, numel): an array of length 2.");
  });
});

describe('detectWeightsFormat / readWeightsFile', () => {
  const safetensors = readBytes(findCase('resnet34_w1_64').weights);

  it('tells the formats apart by content', () => {
    expect(detectWeightsFormat(pth('state_dict.pth'))).toBe('pth');
    expect(detectWeightsFormat(pth('legacy.pth'))).toBe('pth');
    expect(detectWeightsFormat(safetensors)).toBe('safetensors');
    // A header of 0x80 bytes: its first byte is pickle's PROTO, and still not a legacy .pth.
    const header128 = writeSafetensors({ ['a'.repeat(75)]: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    expect(header128[0]).toBe(0x80);
    expect(detectWeightsFormat(header128)).toBe('safetensors');
    expect(detectWeightsFormat(new Uint8Array([1, 2, 3]))).toBe('unknown');
  });

  it('reads either, and leaves what is neither to readSafetensors to name', () => {
    expect(readWeightsFile(pth('dtypes.pth'))).toEqual(readPth(pth('dtypes.pth')));
    expect(readWeightsFile(safetensors)).toEqual(readSafetensors(safetensors));
    expect(() => readWeightsFile(new Uint8Array(3))).toThrow('Error in readSafetensors: ');
    expect(() => readWeightsFile([1] as unknown as Uint8Array)).toThrow("Error in readWeightsFile: 'bytes' must be a Uint8Array, but got an array of length 1.");
  });
});

describe('importWeights from a .pth', () => {
  const c = findCase('resnet34_w1_64');
  const bb = getBackbone('resnet34');

  function flat(params: ReturnType<typeof importWeightsSync>): [string, number[]][] {
    return flattenParams(params).map(([name, v]) => [name, Array.from(v.dataSync())]);
  }

  it('imports a detector checkpoint as it imports the same weights from safetensors', async () => {
    const before = tf.memory().numTensors;
    const notices: string[] = [];
    const fromPth = importWeightsSync(bb, pth('backbone.pth'), { width: c.width, onNotice: (m) => notices.push(m) });
    const fromSafetensors = importWeightsSync(bb, readBytes(c.weights), { width: c.width, onNotice: () => undefined });
    expect(flat(fromPth)).toEqual(flat(fromSafetensors));
    expect(notices).toEqual([
      "importWeights: resnet34 parameters found under the prefix 'backbone.body.'. importWeights: resnet34 does not use 36 tensor(s) of the file: 36 BatchNorm num_batches_tracked counter(s).",
    ]);
    const fromPath = await importWeights(bb, join(PTH, 'backbone.pth'), { width: c.width, onNotice: () => undefined });
    expect(flat(fromPath)).toEqual(flat(fromSafetensors));
    for (const p of [fromPth, fromSafetensors, fromPath]) disposeParams(p);
    expect(tf.memory().numTensors).toBe(before);
  });
});
