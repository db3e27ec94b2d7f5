import { Tensor, type DataType } from '@tensorflow/tfjs-core';

// Argument checks; messages follow tfjs-core's ("Error in conv2d: …"): the function, the
// argument, what was expected, what came.

export function fail(fn: string, message: string): never {
  throw new Error(`Error in ${fn}: ${message}`);
}

export function describe(value: unknown): string {
  if (value instanceof Tensor) return `a ${value.dtype} tensor of shape [${value.shape.join(',')}]`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value}'`;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

export function assertTensor4D(fn: string, name: string, value: unknown, dtypes: readonly DataType[] = ['float32']): asserts value is Tensor {
  if (!(value instanceof Tensor)) fail(fn, `'${name}' must be a tfjs Tensor, but got ${describe(value)}.`);
  if (value.isDisposed) fail(fn, `'${name}' is disposed.`);
  if (!dtypes.includes(value.dtype) || value.rank !== 4) {
    fail(fn, `'${name}' must be a rank-4 ${dtypes.join(' or ')} NHWC tensor, but got ${describe(value)}.`);
  }
}

export function assertNumber(fn: string, name: string, value: unknown, expected: string, ok: (v: number) => boolean): asserts value is number {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok(value)) fail(fn, `'${name}' must be ${expected}, but got ${describe(value)}.`);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
