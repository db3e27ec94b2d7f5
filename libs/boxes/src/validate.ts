import type { Rank, Tensor } from '@tensorflow/tfjs-core';
import { assertDtype, assertNumber, describe, fail } from '@lumen/core';

// The box-specific argument checks of this lib's functions (the generic ones are @lumen/core's).

/** A [N, 4] float32 tensor of [x1, y1, x2, y2] boxes. */
export function assertBoxes(fn: string, name: string, value: unknown): asserts value is Tensor<Rank.R2> {
  assertDtype(fn, name, value);
  if (value.rank !== 2 || value.shape[1] !== 4) fail(fn, `'${name}' must be boxes of shape [N, 4], but got ${describe(value)}.`);
}

export function assertSameLength(fn: string, names: [string, string], a: Tensor, b: Tensor): void {
  if (a.shape[0] !== b.shape[0]) {
    fail(fn, `'${names[0]}' and '${names[1]}' must have the same length, but got ${a.shape[0]} and ${b.shape[0]}.`);
  }
}

export function assertIouThreshold(fn: string, value: unknown): asserts value is number {
  assertNumber(fn, 'iouThreshold', value, 'a number in [0, 1]', (v) => v >= 0 && v <= 1);
}

/** maxOutput defaults to every box; otherwise a non-negative integer. */
export function resolveMaxOutput(fn: string, value: unknown, count: number): number {
  if (value === undefined) return count;
  assertNumber(fn, 'maxOutput', value, 'a non-negative integer', (v) => Number.isInteger(v) && v >= 0);
  return Math.min(value, count);
}

/** Functions read values anyway, so NaN is reported (naming the row) rather than passed on. */
export function assertNoNaN(fn: string, name: string, values: ArrayLike<number>, rowLength = 1): void {
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) {
      const at = rowLength > 1 ? `row ${Math.floor(i / rowLength)}` : `index ${i}`;
      fail(fn, `'${name}' must not contain NaN, but ${at} is NaN.`);
    }
  }
}

/** The values of a checked tensor, NaN rejected (rows of `rowLength`). */
export function readValues(fn: string, name: string, tensor: Tensor, rowLength = 1): Float32Array | Int32Array {
  const values = tensor.dataSync() as Float32Array | Int32Array;
  assertNoNaN(fn, name, values, rowLength);
  return values;
}
