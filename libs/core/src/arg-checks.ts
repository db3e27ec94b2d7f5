import { Tensor, type DataType, type Rank } from '@tensorflow/tfjs-core';

// Argument checks with tfjs-core's messages ("Error in conv2d: 'x' must be …, but got …"):
// the function, the argument, what was expected, what came. Every Lumen library words a bad
// argument this way, so a message from any stage of the detector reads the same.

/** Throws `Error in <fn>: <message>`. */
export function fail(fn: string, message: string): never {
  throw new Error(`Error in ${fn}: ${message}`);
}

/** A short description of what was passed, for the "but got …" part of a message. */
export function describe(value: unknown): string {
  if (value instanceof Tensor) return `a ${value.dtype} tensor of shape [${value.shape.join(',')}]`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (value instanceof Float32Array) return `a Float32Array of length ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/**
 * A short list as written, `[0, NaN, 1, 1]`: numbers as JavaScript prints them (JSON would
 * print NaN and Infinity as null), anything else by its type.
 */
export function formatValues(values: ArrayLike<unknown>): string {
  return `[${Array.from(values, (v) => (typeof v === 'number' ? String(v) : typeof v)).join(', ')}]`;
}

/**
 * A live tensor of rank `rank` and one of `dtypes`; one message states the whole expectation
 * ("must be a rank-4 float32 NHWC tensor"), `layout` naming the axes where that helps.
 */
export function assertTensor<R extends Rank>(
  fn: string,
  name: string,
  value: unknown,
  rank: number,
  dtypes: readonly DataType[] = ['float32'],
  layout = '',
): asserts value is Tensor<R> {
  if (!(value instanceof Tensor)) fail(fn, `'${name}' must be a rank-${rank} tfjs Tensor, but got ${describe(value)}.`);
  if (value.isDisposed) fail(fn, `'${name}' is disposed.`);
  if (value.rank !== rank || !dtypes.includes(value.dtype)) {
    fail(fn, `'${name}' must be a rank-${rank} ${dtypes.join(' or ')}${layout === '' ? '' : ` ${layout}`} tensor, but got ${describe(value)}.`);
  }
}

/** A live tensor of one of `dtypes`, any rank: for functions that check the shape themselves. */
export function assertDtype(fn: string, name: string, value: unknown, dtypes: readonly DataType[] = ['float32']): asserts value is Tensor {
  if (!(value instanceof Tensor)) fail(fn, `'${name}' must be a tfjs Tensor, but got ${describe(value)}.`);
  if (value.isDisposed) fail(fn, `'${name}' is disposed.`);
  if (!dtypes.includes(value.dtype)) fail(fn, `'${name}' must be a ${dtypes.join(' or ')} tensor, but got ${describe(value)}.`);
}

/** `assertDtype`, then the rank: the message names the first thing that is wrong. */
export function assertRank<R extends Rank>(fn: string, name: string, value: unknown, rank: number, dtypes?: readonly DataType[]): asserts value is Tensor<R> {
  assertDtype(fn, name, value, dtypes);
  if (value.rank !== rank) fail(fn, `'${name}' must be a rank-${rank} tensor, but got ${describe(value)}.`);
}

/** A number (not NaN) that passes `ok`; `expected` says which, e.g. "a positive integer". */
export function assertNumber(fn: string, name: string, value: unknown, expected: string, ok: (v: number) => boolean): asserts value is number {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok(value)) fail(fn, `'${name}' must be ${expected}, but got ${describe(value)}.`);
}

export const isPositiveInteger = (v: number): boolean => Number.isInteger(v) && v > 0;
export const isNonNegativeInteger = (v: number): boolean => Number.isInteger(v) && v >= 0;
/** In [0, 1]: a fraction or a probability. */
export const isFraction = (v: number): boolean => v >= 0 && v <= 1;

/** A non-empty string. */
export function assertString(fn: string, name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) fail(fn, `'${name}' must be a non-empty string, but got ${describe(value)}.`);
}

/** An options object; `fields` lists what it may hold, for the message. */
export function assertOptions(fn: string, value: unknown, fields: string): asserts value is Record<string, unknown> {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) fail(fn, `'options' must be an object { ${fields} }, but got ${describe(value)}.`);
}

/** `[height, width]` of every image, positive numbers. */
export function assertImageSizes(fn: string, sizes: unknown, count: number): asserts sizes is ReadonlyArray<readonly [number, number]> {
  if (!Array.isArray(sizes) || sizes.length !== count) {
    fail(fn, `'imageSizes' must be ${count} [height, width] pairs (one per image), but got ${describe(sizes)}.`);
  }
  sizes.forEach((s: unknown, i) => {
    const ok = Array.isArray(s) && s.length === 2 && s.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0);
    if (!ok) fail(fn, `'imageSizes[${i}]' must be [height, width] with positive sizes, but got ${JSON.stringify(s)}.`);
  });
}
