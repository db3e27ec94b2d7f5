import { Tensor, type DataType, type Rank } from '@tensorflow/tfjs-core';

// Argument checks with tfjs-core's messages ("Error in fn: 'arg' must be …, but got …"): the
// function, the argument, what was expected, what came. Used by this lib and, through the
// `argChecks` namespace, by the libs built on it (rpn, rcnn-head), so every stage of the
// detector words a bad argument the same way.

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

/** A live tensor of the given rank and one of `dtypes`. */
export function assertTensor<R extends Rank>(
  fn: string,
  name: string,
  value: unknown,
  rank: number,
  dtypes: readonly DataType[] = ['float32'],
): asserts value is Tensor<R> {
  if (!(value instanceof Tensor)) fail(fn, `'${name}' must be a rank-${rank} tfjs Tensor, but got ${describe(value)}.`);
  if (value.isDisposed) fail(fn, `'${name}' is disposed.`);
  if (value.rank !== rank || !dtypes.includes(value.dtype)) {
    fail(fn, `'${name}' must be a rank-${rank} ${dtypes.join(' or ')} tensor, but got ${describe(value)}.`);
  }
}

/** A number (not NaN) that passes `ok`; `expected` says which, e.g. "a positive integer". */
export function assertNumber(fn: string, name: string, value: unknown, expected: string, ok: (v: number) => boolean): asserts value is number {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok(value)) fail(fn, `'${name}' must be ${expected}, but got ${describe(value)}.`);
}

export const isPositiveInteger = (v: number): boolean => Number.isInteger(v) && v > 0;
export const isNonNegativeInteger = (v: number): boolean => Number.isInteger(v) && v >= 0;
export const isFraction = (v: number): boolean => v >= 0 && v <= 1;

/** An options object; `fields` lists what it may hold, for the message. */
export function assertOptions(fn: string, value: unknown, fields: string): asserts value is Record<string, unknown> {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) fail(fn, `'options' must be an object { ${fields} }, but got ${describe(value)}.`);
}

/** A uniform generator in [0, 1). */
export function assertRng(fn: string, rng: unknown): asserts rng is () => number {
  if (typeof rng !== 'function') fail(fn, `'rng' must be a function returning uniform numbers in [0, 1) (e.g. seededRandom(seed) from @lumen/boxes), but got ${describe(rng)}.`);
}

/** A 32-bit seed drawn from `rng`, for the seeded sampler. */
export function drawSeed(fn: string, rng: () => number): number {
  const u = rng();
  if (typeof u !== 'number' || !(u >= 0 && u < 1)) fail(fn, `'rng' must return numbers in [0, 1), but returned ${describe(u)}.`);
  return Math.floor(u * 4294967296);
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
