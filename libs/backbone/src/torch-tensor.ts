import { fail } from '@lumen/core';
import { bfloat16ToFloat32, halfToFloat32 } from './half';
import type { SafeTensor, SafetensorsData, SafetensorsDtype } from './safetensors';

// torch's tensors as torch.save lays them out: a storage is a flat little-endian array of one
// dtype (the zip entry data/<key>), a tensor a (storage offset, size, stride) view of it,
// not necessarily contiguous, and several tensors may view one storage. Reading gives C-order
// data in what tfjs takes: floats as float32, int64 as int32 (when every value fits).

const FN = 'readPth';

/** torch's storage classes readPth reads, by name, and the dtype of their elements. */
export const STORAGE_DTYPES = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
} as const satisfies Record<string, SafetensorsDtype>;

export type StorageDtype = (typeof STORAGE_DTYPES)[keyof typeof STORAGE_DTYPES];

/** One storage of the archive, as its persistent id ('storage', type, key, location, numel) names it. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: StorageDtype,
    readonly numel: number,
  ) {}
}

/** A tensor as torch._utils._rebuild_tensor_v2's arguments place it in its storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly strides: readonly number[],
  ) {}
}

/** A storage's elements as a typed array (int64: pairs of int32 words). */
export type StorageWords = Float32Array | Float64Array | Uint16Array | Int32Array | Int16Array | Int8Array | Uint8Array;
type StorageWordsCtor = { new (length: number): StorageWords; new (buffer: ArrayBufferLike, byteOffset: number, length: number): StorageWords; BYTES_PER_ELEMENT: number };

/** How a storage's elements are held while reading: int64 as two int32 words (low first). */
const WORDS: Record<StorageDtype, { Ctor: StorageWordsCtor; perItem: number }> = {
  F64: { Ctor: Float64Array, perItem: 1 },
  F32: { Ctor: Float32Array, perItem: 1 },
  F16: { Ctor: Uint16Array, perItem: 1 },
  BF16: { Ctor: Uint16Array, perItem: 1 },
  I64: { Ctor: Int32Array, perItem: 2 },
  I32: { Ctor: Int32Array, perItem: 1 },
  I16: { Ctor: Int16Array, perItem: 1 },
  I8: { Ctor: Int8Array, perItem: 1 },
  U8: { Ctor: Uint8Array, perItem: 1 },
  BOOL: { Ctor: Uint8Array, perItem: 1 },
};

export function itemBytes(dtype: StorageDtype): number {
  return WORDS[dtype].Ctor.BYTES_PER_ELEMENT * WORDS[dtype].perItem;
}

/** Reverses each item's bytes in place (a storage written on a big-endian machine). */
export function swapByteOrder(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const byte = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = byte;
    }
  }
}

/** A storage's elements: a view of `bytes` where aligned, a copy otherwise. */
export function storageWords(bytes: Uint8Array, storage: StorageRef): StorageWords {
  const { Ctor, perItem } = WORDS[storage.dtype];
  const length = storage.numel * perItem;
  if (bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer, bytes.byteOffset, length);
  return new Ctor(bytes.slice(0, length * Ctor.BYTES_PER_ELEMENT).buffer, 0, length);
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** C order, ignoring the strides of size-1 dimensions (torch's is_contiguous). */
function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** out = the view's elements in C order (odometer over the outer dimensions, a run over the last). */
function gather(words: StorageWords, perItem: number, { offset, shape, strides }: TensorRef): StorageWords {
  const out = new (words.constructor as StorageWordsCtor)(product(shape) * perItem);
  const last = shape.length - 1;
  const index = new Array<number>(last).fill(0);
  let base = offset;
  let o = 0;
  for (;;) {
    for (let j = 0, src = base; j < shape[last]; j++, src += strides[last]) {
      for (let w = 0; w < perItem; w++) out[o++] = words[src * perItem + w];
    }
    let d = last - 1;
    for (; d >= 0; d--) {
      base += strides[d];
      if (++index[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      index[d] = 0;
    }
    if (d < 0) return out;
  }
}

function int64ToInt32(name: string, words: Int32Array): Int32Array {
  const out = new Int32Array(words.length / 2);
  for (let i = 0; i < out.length; i++) {
    const low = words[2 * i];
    const high = words[2 * i + 1];
    if (high !== low >> 31) {
      const value = (BigInt(high) << 32n) + BigInt(low >>> 0);
      fail(FN, `tensor '${name}' is int64 and holds ${value} (element ${i}), which int32 cannot: tfjs has no int64 tensors.`);
    }
    out[i] = low;
  }
  return out;
}

function converted(name: string, dtype: StorageDtype, elements: StorageWords): { dtype: SafetensorsDtype; data: SafetensorsData } {
  if (dtype === 'F64') return { dtype: 'F32', data: new Float32Array(elements as Float64Array) };
  if (dtype === 'F16') return { dtype: 'F32', data: halfToFloat32(elements as Uint16Array) };
  if (dtype === 'BF16') return { dtype: 'F32', data: bfloat16ToFloat32(elements as Uint16Array) };
  if (dtype === 'I64') return { dtype: 'I32', data: int64ToInt32(name, elements as Int32Array) };
  return { dtype, data: elements };
}

/**
 * The tensor `name` in C order, from its storage's elements. A contiguous float32 tensor is a
 * view of `words` (so tensors on one storage can share memory); other dtypes are converted.
 */
export function readTensor(name: string, ref: TensorRef, words: StorageWords): SafeTensor {
  const { dtype, numel, key } = ref.storage;
  const { perItem } = WORDS[dtype];
  const count = product(ref.shape);
  let elements: StorageWords = words.subarray(0, 0);
  if (count > 0) {
    const lastElement = ref.offset + ref.shape.reduce((sum, size, d) => sum + (size - 1) * ref.strides[d], 0);
    if (lastElement >= numel) {
      fail(FN, `tensor '${name}' (offset ${ref.offset}, size [${ref.shape.join(',')}], stride [${ref.strides.join(',')}]) reaches element ${lastElement} of storage '${key}', which holds ${numel}.`);
    }
    elements = isContiguous(ref.shape, ref.strides) ? words.subarray(ref.offset * perItem, (ref.offset + count) * perItem) : gather(words, perItem, ref);
  }
  return { shape: [...ref.shape], ...converted(name, dtype, elements) };
}
