import { describe as describeValue } from '@lumen/core';

// The argument checks are @lumen/core's. This lib's messages quote strings as Python does
// ('resnet152', 'F64'): they mostly name torchvision's modules, tensors and dtypes.

/** @lumen/core's `describe`, strings in single quotes. */
export function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : describeValue(value);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
