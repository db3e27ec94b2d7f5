import * as tf from '@tensorflow/tfjs-core';
import { floatToBfloat16Bits, floatToHalfBits } from './safetensors';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors, type SafeTensor } from './index';
import { loadManifest, readBytes } from './testing/fixtures';

function header(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

/** A file with a hand-written header, as another writer could produce it. */
function rawFile(head: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(head));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('writeSafetensors / readSafetensors', () => {
  it('round-trips every dtype, with metadata, aligned', () => {
    const tensors: Record<string, SafeTensor> = {
      f64: { dtype: 'F64', shape: [2], data: new Float64Array([1.5, -(2 ** 60)]) },
      f32: { dtype: 'F32', shape: [2, 2], data: new Float32Array([0.1, -2, 3e-30, 4]) },
      f16: { dtype: 'F16', shape: [3], data: new Float32Array([1, -0.5, 65504]) },
      bf16: { dtype: 'BF16', shape: [2], data: new Float32Array([1, -3.5]) },
      i64: { dtype: 'I64', shape: [1], data: new BigInt64Array([-5n]) },
      i32: { dtype: 'I32', shape: [2], data: new Int32Array([7, -8]) },
      i16: { dtype: 'I16', shape: [1], data: new Int16Array([-300]) },
      i8: { dtype: 'I8', shape: [1], data: new Int8Array([-3]) },
      u8: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 255]) },
      bool: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
      empty: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
      scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
    };
    const bytes = writeSafetensors(tensors, { format: 'pt', note: 'x' });
    const back = readSafetensors(bytes);
    expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect([name, back[name].dtype, back[name].shape, Array.from(back[name].data as ArrayLike<unknown>)]).toEqual([name, t.dtype, t.shape, Array.from(t.data as ArrayLike<unknown>)]);
    }
    expect(readSafetensorsMetadata(bytes)).toEqual({ format: 'pt', note: 'x' });
    // Data start 8-aligned; entries by decreasing item size, so each is aligned to its own.
    const h = header(bytes);
    const headerBytes = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerBytes) % 8).toBe(0);
    const sizes: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, I8: 1, U8: 1, BOOL: 1 };
    for (const e of Object.values(h)) if ('dtype' in e) expect(e.data_offsets[0] % sizes[e.dtype]).toBe(0);
  });

  it('writes tfjs tensors (float32, int32, bool) as F32, I32, BOOL', () => {
    const a = tf.tensor2d([[1, 2, 3]]);
    const b = tf.tensor1d([4, 5], 'int32');
    const c = tf.tensor1d([true, false], 'bool');
    const back = readSafetensors(writeSafetensors({ a, b, c }));
    expect(back.a).toEqual({ dtype: 'F32', shape: [1, 3], data: new Float32Array([1, 2, 3]) });
    expect(back.b).toEqual({ dtype: 'I32', shape: [2], data: new Int32Array([4, 5]) });
    expect(back.c).toEqual({ dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) });
    tf.dispose([a, b, c]);
  });

  it('encodes float16 and bfloat16 round-to-nearest-even, as numpy and torch', () => {
    expect(floatToHalfBits(1)).toBe(0x3c00);
    expect(floatToHalfBits(-2)).toBe(0xc000);
    expect(floatToHalfBits(65504)).toBe(0x7bff);
    expect(floatToHalfBits(65520)).toBe(0x7c00); // rounds to infinity
    expect(floatToHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(floatToHalfBits(2 ** -25)).toBe(0x0000); // halfway to 0: even
    expect(floatToHalfBits(3 * 2 ** -25)).toBe(0x0002); // halfway between 1 and 2 ulps: even
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00); // halfway: even (down)
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway: even (up)
    expect(floatToHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalfBits(-Infinity)).toBe(0xfc00);
    expect(floatToBfloat16Bits(1)).toBe(0x3f80);
    expect(floatToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // halfway: even
    expect(floatToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    const values = new Float32Array([0, -0, 1e-8, 6.1e-5, 0.333, 1000.5, -7.25]);
    const back = readSafetensors(writeSafetensors({ h: { dtype: 'F16', shape: [7], data: values } })).h.data as Float32Array;
    // numpy: np.float16(np.float32(v)) for each v.
    expect(Array.from(back)).toEqual([0, -0, 0, 6.097555160522461e-5, 0.3330078125, 1000.5, -7.25]);
  });

  it('reads the F16 / I64 state dicts the Python fixture script wrote', () => {
    const c = loadManifest().cases[0];
    const file = readSafetensors(readBytes(c.weights));
    expect(file['conv1.weight']).toMatchObject({ dtype: 'F16', shape: [8, 3, 7, 7] });
    expect(file['conv1.weight'].data).toBeInstanceOf(Float32Array);
    expect(file['bn1.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data: new BigInt64Array([0n]) });
    expect(readSafetensorsMetadata(readBytes(c.weights))).toEqual({ format: 'pt', source: 'tools/fixtures/backbone_fixtures.py' });
  });

  it('reads unaligned buffers (copies) and views aligned ones', () => {
    const bytes = writeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    expect(Array.from(readSafetensors(shifted).x.data as Float32Array)).toEqual([1, 2]);
    expect((readSafetensors(bytes).x.data as Float32Array).buffer).toBe(bytes.buffer);
  });

  it('names what is wrong with a file', () => {
    const fn = 'Error in readSafetensors:';
    expect(() => readSafetensors(new Uint8Array(4))).toThrow(`${fn} 'bytes' is 4 bytes long: not a safetensors file (no 8-byte header length).`);
    const big = new Uint8Array(16);
    new DataView(big.buffer).setBigUint64(0, 1000n, true);
    expect(() => readSafetensors(big)).toThrow(`${fn} the header length 1000 does not fit in the 16 bytes given: not a safetensors file, or truncated.`);
    expect(() => readSafetensors(rawFile('x', new Uint8Array(0)))).toThrow(`${fn} the header is not a JSON object`);
    const bad = rawFile({ x: {} }, new Uint8Array(0));
    bad[8] = 0xff;
    expect(() => readSafetensors(bad)).toThrow(`${fn} the header is not valid UTF-8 JSON`);
    expect(() => readSafetensors(rawFile({ w: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)))).toThrow(
      `${fn} tensor 'w': dtype 'F8' is not one of F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL.`,
    );
    expect(() => readSafetensors(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(8)))).toThrow(
      `${fn} tensor 'w': data_offsets [0, 4] hold 4 bytes, but F32 [2] needs 8.`,
    );
    expect(() => readSafetensors(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)))).toThrow(
      `${fn} tensor 'w': data_offsets end 8 is past the end of the data (4 bytes): truncated file?`,
    );
    expect(() => readSafetensors(rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, new Uint8Array(0)))).toThrow(`${fn} tensor 'w': shape [-1] is not a list`);
    expect(() => readSafetensors(rawFile({ __metadata__: { a: 1 } }, new Uint8Array(0)))).toThrow(`${fn} '__metadata__.a' must be a string, but got 1.`);
  });

  it('names what is wrong with the tensors to write', () => {
    const fn = 'Error in writeSafetensors:';
    expect(() => writeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(`${fn} tensor 'x': shape [3] needs 3 values, but got 2.`);
    expect(() => writeSafetensors({ x: { dtype: 'Q' as 'F32', shape: [0], data: new Float32Array(0) } })).toThrow(`${fn} tensor 'x': dtype 'Q' is not one of`);
    expect(() => writeSafetensors({ __metadata__: tf.scalar(1) })).toThrow(`${fn} '__metadata__' is reserved for the metadata.`);
    expect(() => writeSafetensors({}, { a: 1 as unknown as string })).toThrow(`${fn} 'metadata.a' must be a string, but got 1.`);
    const gone = tf.scalar(1);
    gone.dispose();
    expect(() => writeSafetensors({ gone })).toThrow(`${fn} tensor 'gone' is disposed.`);
    const complex = tf.complex([1], [2]);
    expect(() => writeSafetensors({ complex })).toThrow(`${fn} tensor 'complex' is a complex64 tensor; safetensors holds float32, int32 and bool tensors.`);
    complex.dispose();
  });

  it('converts plain data to the declared dtype', () => {
    const back = readSafetensors(writeSafetensors({ a: { dtype: 'I64', shape: [2], data: new Int32Array([3, -4]) }, b: { dtype: 'F64', shape: [1], data: new Float32Array([0.5]) } }));
    expect(back.a.data).toEqual(new BigInt64Array([3n, -4n]));
    expect(back.b.data).toEqual(new Float64Array([0.5]));
  });
});
