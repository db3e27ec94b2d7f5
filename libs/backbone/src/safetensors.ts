import { fail } from '@lumen/core';
import { Tensor } from '@tensorflow/tfjs-core';
import { bfloat16ToFloat32, halfToFloat32 } from './half';
import { describe } from './validate';

// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON — { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__":
// { string: string } } — then the tensors' bytes, little-endian, row-major, offsets relative
// to the end of the header. Typed arrays here are in the platform's byte order, which is
// little-endian on every platform tfjs runs on.

export const SAFETENSORS_DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL'] as const;
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

export type SafetensorsData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/**
 * One tensor of a safetensors file. `data` is the natural typed array of `dtype`, except
 * F16 and BF16, which are decoded to a Float32Array (writing encodes them back).
 */
export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: SafetensorsData;
}

const ITEM_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** A header larger than this is not a safetensors file (the reference reader's limit). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

type TypedArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafetensorsData; BYTES_PER_ELEMENT: number };

const ARRAY_OF: Record<Exclude<SafetensorsDtype, 'F16' | 'BF16'>, TypedArrayCtor> = {
  F64: Float64Array,
  F32: Float32Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

// ---------------------------------------------------------------------------------------
// half and bfloat16 encoding (half.ts decodes)

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> float16 bits, round to nearest even (IEEE 754, as numpy and torch). */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midway = 1 << (shift - 1);
    return sign | (half + (rest > midway || (rest === midway && (half & 1) === 1) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? 1 : 0));
}

/** float32 -> bfloat16 bits, round to nearest even. */
export function floatToBfloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---------------------------------------------------------------------------------------
// reading

interface HeaderEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data_offsets: [number, number];
}

interface ParsedHeader {
  entries: Record<string, HeaderEntry>;
  metadata: Record<string, string>;
  dataStart: number;
}

function parseHeader(bytes: Uint8Array): ParsedHeader {
  const fn = 'readSafetensors';
  if (!(bytes instanceof Uint8Array)) fail(fn, `'bytes' must be a Uint8Array, but got ${describe(bytes)}.`);
  if (bytes.byteLength < 8) fail(fn, `'bytes' is ${bytes.byteLength} bytes long: not a safetensors file (no 8-byte header length).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = Number(view.getBigUint64(0, true));
  if (headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > bytes.byteLength) {
    fail(fn, `the header length ${headerBytes} does not fit in the ${bytes.byteLength} bytes given: not a safetensors file, or truncated.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (e) {
    fail(fn, `the header is not valid UTF-8 JSON (${(e as Error).message}): not a safetensors file.`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(fn, 'the header is not a JSON object: not a safetensors file.');
  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.byteLength - dataStart;
  const entries: Record<string, HeaderEntry> = {};
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(value);
      continue;
    }
    entries[name] = parseEntry(name, value, dataBytes);
  }
  return { entries, metadata, dataStart };
}

function parseMetadata(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('readSafetensors', `'${METADATA_KEY}' must be an object of strings, but got ${describe(value)}.`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail('readSafetensors', `'${METADATA_KEY}.${key}' must be a string, but got ${describe(v)}.`);
  }
  return { ...(value as Record<string, string>) };
}

function parseEntry(name: string, value: unknown, dataBytes: number): HeaderEntry {
  const fn = 'readSafetensors';
  const entry = value as Partial<HeaderEntry> | null;
  if (entry === null || typeof entry !== 'object') fail(fn, `tensor '${name}': the header entry is not an object.`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !(SAFETENSORS_DTYPES as readonly string[]).includes(dtype)) {
    fail(fn, `tensor '${name}': dtype ${describe(dtype)} is not one of ${SAFETENSORS_DTYPES.join(', ')}.`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    fail(fn, `tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers.`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
    fail(fn, `tensor '${name}': data_offsets ${JSON.stringify(offsets)} is not [begin, end].`);
  }
  const [begin, end] = offsets;
  const expected = shape.reduce((a, b) => a * b, 1) * ITEM_BYTES[dtype];
  if (end < begin || end - begin !== expected) {
    fail(fn, `tensor '${name}': data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} [${shape.join(',')}] needs ${expected}.`);
  }
  if (end > dataBytes) fail(fn, `tensor '${name}': data_offsets end ${end} is past the end of the data (${dataBytes} bytes): truncated file?`);
  return { dtype, shape, data_offsets: [begin, end] };
}

function decode(bytes: Uint8Array, start: number, entry: HeaderEntry): SafetensorsData {
  const [begin, end] = entry.data_offsets;
  const byteOffset = bytes.byteOffset + start + begin;
  const length = (end - begin) / ITEM_BYTES[entry.dtype];
  const itemBytes = ITEM_BYTES[entry.dtype];
  // A view when the platform allows one (aligned), a copy otherwise.
  const aligned = byteOffset % itemBytes === 0;
  const buffer = aligned ? bytes.buffer : bytes.slice(start + begin, start + end).buffer;
  const offset = aligned ? byteOffset : 0;
  if (entry.dtype === 'F16') return halfToFloat32(new Uint16Array(buffer, offset, length));
  if (entry.dtype === 'BF16') return bfloat16ToFloat32(new Uint16Array(buffer, offset, length));
  return new ARRAY_OF[entry.dtype](buffer, offset, length);
}

/**
 * The tensors of a safetensors file, by name. Data are views into `bytes` where alignment
 * allows (F16/BF16 decoded to float32): copy them before changing `bytes`.
 */
export function readSafetensors(bytes: Uint8Array): Record<string, SafeTensor> {
  const { entries, dataStart } = parseHeader(bytes);
  const out: Record<string, SafeTensor> = {};
  for (const [name, entry] of Object.entries(entries)) {
    out[name] = { dtype: entry.dtype, shape: [...entry.shape], data: decode(bytes, dataStart, entry) };
  }
  return out;
}

/** The file's `__metadata__` (string to string; empty when it has none). */
export function readSafetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  return parseHeader(bytes).metadata;
}

// ---------------------------------------------------------------------------------------
// writing

export type SafetensorsInput = Tensor | SafeTensor;

function fromTensor(name: string, tensor: Tensor): SafeTensor {
  if (tensor.isDisposed) fail('writeSafetensors', `tensor '${name}' is disposed.`);
  const values = tensor.dataSync();
  if (tensor.dtype === 'float32') return { dtype: 'F32', shape: [...tensor.shape], data: values as Float32Array };
  if (tensor.dtype === 'int32') return { dtype: 'I32', shape: [...tensor.shape], data: values as Int32Array };
  if (tensor.dtype === 'bool') return { dtype: 'BOOL', shape: [...tensor.shape], data: Uint8Array.from(values as ArrayLike<number>) };
  return fail('writeSafetensors', `tensor '${name}' is a ${tensor.dtype} tensor; safetensors holds float32, int32 and bool tensors.`);
}

/** The bytes of one entry in the file's byte order. */
function encode(name: string, t: SafeTensor): Uint8Array {
  const fn = 'writeSafetensors';
  if (!(SAFETENSORS_DTYPES as readonly string[]).includes(t.dtype)) fail(fn, `tensor '${name}': dtype ${describe(t.dtype)} is not one of ${SAFETENSORS_DTYPES.join(', ')}.`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(fn, `tensor '${name}': shape ${JSON.stringify(t.shape)} is not a list of non-negative integers.`);
  const size = t.shape.reduce((a, b) => a * b, 1);
  if (t.data == null || t.data.length !== size) fail(fn, `tensor '${name}': shape [${t.shape.join(',')}] needs ${size} values, but got ${t.data == null ? 'none' : t.data.length}.`);
  if (t.dtype === 'F16' || t.dtype === 'BF16') {
    const toBits = t.dtype === 'F16' ? floatToHalfBits : floatToBfloat16Bits;
    const bits = new Uint16Array(size);
    for (let i = 0; i < size; i++) bits[i] = toBits(Number(t.data[i]));
    return new Uint8Array(bits.buffer);
  }
  const Ctor = ARRAY_OF[t.dtype];
  const typed = t.data instanceof Ctor ? t.data : convert(name, t.dtype, t.data, Ctor, size);
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

function convert(name: string, dtype: SafetensorsDtype, data: SafetensorsData, Ctor: TypedArrayCtor, size: number): SafetensorsData {
  const out = new Ctor(new ArrayBuffer(size * Ctor.BYTES_PER_ELEMENT), 0, size);
  const bigint = out instanceof BigInt64Array || out instanceof BigUint64Array;
  for (let i = 0; i < size; i++) {
    const v = data[i];
    if (!bigint) (out as Float64Array)[i] = Number(v);
    else if (typeof v === 'bigint') (out as BigInt64Array)[i] = v;
    else if (Number.isInteger(v)) (out as BigInt64Array)[i] = BigInt(v);
    else fail('writeSafetensors', `tensor '${name}': value ${v} at index ${i} is not an integer (${dtype}).`);
  }
  return out;
}

/**
 * A safetensors file of `tensors` (tfjs tensors — float32, int32, bool — or raw
 * {dtype, shape, data}; F16/BF16 data are float values, encoded round-to-nearest-even).
 * Entries are laid out by decreasing item size, then name, so every tensor is aligned.
 */
export function writeSafetensors(tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string>): Uint8Array {
  const fn = 'writeSafetensors';
  if (tensors === null || typeof tensors !== 'object') fail(fn, `'tensors' must be a record of tensors, but got ${describe(tensors)}.`);
  if (metadata != null) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') fail(fn, `'metadata.${key}' must be a string, but got ${describe(value)}.`);
    }
  }
  const items = Object.entries(tensors).map(([name, value]) => {
    if (name === METADATA_KEY) fail(fn, `'${METADATA_KEY}' is reserved for the metadata.`);
    const t = value instanceof Tensor ? fromTensor(name, value) : value;
    if (t === null || typeof t !== 'object') fail(fn, `tensor '${name}' must be a tfjs Tensor or {dtype, shape, data}, but got ${describe(t)}.`);
    return { name, dtype: t.dtype, shape: [...t.shape], bytes: encode(name, t) };
  });
  items.sort((a, b) => ITEM_BYTES[b.dtype] - ITEM_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata != null && Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const item of items) {
    header[item.name] = { dtype: item.dtype, shape: item.shape, data_offsets: [offset, offset + item.bytes.byteLength] };
    offset += item.bytes.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data starts 8-byte aligned (as the reference writer does).
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const spaced = new Uint8Array(padded).fill(0x20);
    spaced.set(json);
    json = spaced;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const item of items) {
    out.set(item.bytes, at);
    at += item.bytes.byteLength;
  }
  return out;
}
