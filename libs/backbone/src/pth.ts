import { fail } from '@lumen/core';
import { unzipSync } from 'fflate';
import { PickleDict } from './pickle';
import type { SafeTensor } from './safetensors';
import { readTorchPickle } from './torch-pickle';
import { itemBytes, readTensor, storageWords, swapByteOrder, TensorRef, type StorageRef, type StorageWords } from './torch-tensor';
import { describe } from './validate';

// PyTorch's .pth files as torch.save (torch >= 1.6) writes them: a zip whose entries sit
// under one top folder (archive/ or the file's stem): data.pkl, the pickled object; data/<key>,
// each storage's raw bytes; byteorder ('little' or 'big', since torch 2.1; little when
// absent); version. The zip is read with fflate: torch stores entries uncompressed, and
// fflate copies each into a buffer of its own, which keeps every storage aligned for a
// typed-array view (and a big-endian one can be swapped in place).

const FN = 'readPth';
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const PICKLE_PROTO = 0x80;
/** The legacy format's first pickle: PROTO, then (after a FRAME from protocol 4 on) LONG1 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_MAGIC_WITHIN = 16;
const RESAVE = `python -c "import torch; torch.save(torch.load('old.pth'), 'new.pth')"`;
/** Where checkpoints keep their state dict, in the order tools/weights/pth_to_safetensors.py tries them. */
const STATE_DICT_KEYS = ['state_dict', 'model'];

export function startsWithZipMagic(bytes: Uint8Array): boolean {
  return ZIP_MAGIC.every((b, i) => bytes[i] === b);
}

/** torch.save before 1.6 (or with _use_new_zipfile_serialization=False): pickles, starting with a pickled magic number. */
export function isLegacyPth(bytes: Uint8Array): boolean {
  if (bytes[0] !== PICKLE_PROTO) return false;
  const head = bytes.subarray(0, LEGACY_MAGIC_WITHIN + LEGACY_MAGIC.length);
  for (let i = 2; i + LEGACY_MAGIC.length <= head.length; i++) {
    if (LEGACY_MAGIC.every((b, j) => head[i + j] === b)) return true;
  }
  return false;
}

function checkFormat(bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) fail(FN, `'bytes' must be a Uint8Array, but got ${describe(bytes)}.`);
  if (isLegacyPth(bytes)) {
    fail(FN, `the file is in torch.save's legacy format (before torch 1.6, or _use_new_zipfile_serialization=False), which readPth does not read. Re-save it with torch >= 1.6: ${RESAVE}`);
  }
  if (!startsWithZipMagic(bytes)) fail(FN, `the ${bytes.byteLength} bytes are not a PyTorch .pth file: it is a zip archive, starting with 'PK\\x03\\x04'.`);
}

/** The entries `keep` picks (by name, in the archive's order), as fflate reads them. */
function unzipEntries(bytes: Uint8Array, keep: (name: string) => boolean): Record<string, Uint8Array> {
  try {
    return unzipSync(bytes, { filter: (entry) => keep(entry.name) });
  } catch (e) {
    return fail(FN, `the zip archive cannot be read (${(e as Error).message}): the file is truncated or damaged.`);
  }
}

interface Archive {
  /** The top folder every entry sits in. */
  folder: string;
  pickle: Uint8Array;
  bigEndian: boolean;
}

/** data.pkl and byteorder, found under the folder of the first entry (as torch's reader does). */
function readArchive(bytes: Uint8Array): Archive {
  const names: string[] = [];
  let folder = '';
  const entries = unzipEntries(bytes, (name) => {
    if (names.length === 0) folder = name.slice(0, Math.max(0, name.indexOf('/')));
    names.push(name);
    return name === `${folder}/data.pkl` || name === `${folder}/byteorder`;
  });
  const listed = `${names.slice(0, 5).join(', ')}${names.length > 5 ? `, … ${names.length - 5} more` : ''}`;
  if (names.length === 0) fail(FN, 'the zip archive is empty: not a torch.save file.');
  if (folder === '') fail(FN, `the zip's first entry '${names[0]}' is not in a folder: not a torch.save archive.`);
  const pickle = entries[`${folder}/data.pkl`];
  if (pickle === undefined) fail(FN, `the zip has no '${folder}/data.pkl': not a torch.save archive (entries: ${listed}).`);
  const order = entries[`${folder}/byteorder`];
  const byteOrder = order === undefined ? 'little' : new TextDecoder().decode(order).trim();
  if (byteOrder !== 'little' && byteOrder !== 'big') fail(FN, `'${folder}/byteorder' says '${byteOrder}', not 'little' or 'big'.`);
  return { folder, pickle, bigEndian: byteOrder === 'big' };
}

function holdsTensors(dict: PickleDict): boolean {
  for (const value of dict.entries.values()) if (value instanceof TensorRef) return true;
  return false;
}

function describeKeys(dict: PickleDict): string {
  const keys = [...dict.entries.keys()].map((k) => (typeof k === 'string' ? `'${k}'` : String(k)));
  return keys.length === 0 ? 'none' : `${keys.slice(0, 8).join(', ')}${keys.length > 8 ? `, … ${keys.length - 8} more` : ''}`;
}

/** The state dict: the pickled dict itself when it holds tensors, else the one a checkpoint keeps under 'state_dict' or 'model'. */
function tensorDict(root: unknown, source: string): PickleDict {
  if (!(root instanceof PickleDict)) fail(FN, `${source} holds ${describe(root)}, not a dict of tensors (a state dict) or a checkpoint dict holding one.`);
  if (holdsTensors(root)) return root;
  for (const key of STATE_DICT_KEYS) {
    const inner = root.entries.get(key);
    if (inner instanceof PickleDict && holdsTensors(inner)) return inner;
  }
  const wanted = STATE_DICT_KEYS.map((k) => `'${k}'`).join(' or ');
  return fail(FN, `${source} holds a dict with no tensors, and no dict of tensors under ${wanted} (its keys: ${describeKeys(root)}).`);
}

/** The tensors of the dict, by name (other values — counters, nested dicts — are left out). */
function tensorRefs(dict: PickleDict, source: string): Map<string, TensorRef> {
  const refs = new Map<string, TensorRef>();
  for (const [key, value] of dict.entries) {
    if (!(value instanceof TensorRef)) continue;
    if (typeof key !== 'string') fail(FN, `${source}: the state dict's key ${describe(key)} is not a string.`);
    refs.set(key, value);
  }
  return refs;
}

/** Each storage the tensors use, once, from its data/<key> entry (byte-swapped if the file is big-endian). */
function readStorages(bytes: Uint8Array, archive: Archive, refs: Map<string, TensorRef>): Map<StorageRef, StorageWords> {
  // Each storage with the first tensor on it, to name in errors.
  const storages = new Map<StorageRef, string>();
  for (const [tensor, ref] of refs) if (!storages.has(ref.storage)) storages.set(ref.storage, tensor);
  const entryName = (s: StorageRef): string => `${archive.folder}/data/${s.key}`;
  const wanted = new Set([...storages.keys()].map(entryName));
  const entries = unzipEntries(bytes, (name) => wanted.has(name));
  const words = new Map<StorageRef, StorageWords>();
  for (const [storage, tensor] of storages) {
    const name = entryName(storage);
    const entry = entries[name];
    if (entry === undefined) fail(FN, `the zip has no '${name}', the storage of tensor '${tensor}': the file is damaged.`);
    const needed = storage.numel * itemBytes(storage.dtype);
    if (entry.byteLength < needed) {
      fail(FN, `'${name}' (the storage of tensor '${tensor}') holds ${entry.byteLength} bytes, but its ${storage.numel} ${storage.dtype} elements need ${needed}: the file is truncated or damaged.`);
    }
    if (archive.bigEndian) swapByteOrder(entry.subarray(0, needed), itemBytes(storage.dtype));
    words.set(storage, storageWords(entry, storage));
  }
  return words;
}

/**
 * The tensors of a PyTorch .pth file (torch.save's zip format, torch >= 1.6) by name: a
 * state dict, an OrderedDict or plain dict of tensors, or a checkpoint dict holding one
 * under 'state_dict' or 'model' (its other entries — epoch, optimizer state — are skipped).
 * Data are in C order whatever the saved strides; float16, bfloat16 and float64 become F32,
 * int64 becomes I32 (an error names a tensor whose values do not fit). Contiguous float32
 * data are views of one copy of the storages, shared between tensors that share a storage:
 * copy them before changing them. The pickle is read by a restricted unpickler: any Python
 * name but the few torch.save uses for tensors and dicts is an error, and no code runs.
 */
export function readPth(bytes: Uint8Array): Record<string, SafeTensor> {
  checkFormat(bytes);
  const archive = readArchive(bytes);
  const source = `${archive.folder}/data.pkl`;
  const refs = tensorRefs(tensorDict(readTorchPickle(archive.pickle, source), source), source);
  const words = readStorages(bytes, archive, refs);
  const out: Record<string, SafeTensor> = {};
  for (const [name, ref] of refs) {
    // defineProperty: a name from the file ('__proto__') must not reach the prototype.
    Object.defineProperty(out, name, { value: readTensor(name, ref, words.get(ref.storage) as StorageWords), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
