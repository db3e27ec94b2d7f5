import { Tensor, type DataType } from '@tensorflow/tfjs-core';

// Argument checks. Messages follow tfjs-core's ("Error in conv2d: …"): the function, the
// argument, what was expected, what came.

export function fail(fn: string, message: string): never {
  throw new Error(`Error in ${fn}: ${message}`);
}

function describe(value: unknown): string {
  if (value instanceof Tensor) return `a ${value.dtype} tensor of shape [${value.shape.join(',')}]`;
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'number' ? String(v) : typeof v)).join(', ')}]`;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

export function assertTensor(fn: string, name: string, value: unknown, rank: number, dtype: DataType): asserts value is Tensor {
  if (!(value instanceof Tensor)) fail(fn, `'${name}' must be a tfjs Tensor, but got ${describe(value)}.`);
  if (value.isDisposed) fail(fn, `'${name}' is disposed.`);
  if (value.dtype !== dtype) fail(fn, `'${name}' must be a ${dtype} tensor, but got ${describe(value)}.`);
  if (value.rank !== rank) fail(fn, `'${name}' must be a rank-${rank} tensor, but got ${describe(value)}.`);
}

export interface PoolInputs {
  /** [x1, y1, x2, y2] per RoI. */
  boxes: Float32Array;
  /** Batch index per RoI. */
  image: Int32Array;
  outputSize: [number, number];
}

/** Checks what both poolings take and reads boxes and box indices. */
export function readPoolInputs(fn: string, features: unknown, boxes: unknown, boxIndices: unknown, outputSize: unknown, spatialScale: unknown): PoolInputs {
  assertTensor(fn, 'features', features, 4, 'float32');
  const [batch, height, width] = features.shape;
  if (height === 0 || width === 0) fail(fn, `'features' must have a height and a width of at least 1, but got ${describe(features)}.`);
  assertTensor(fn, 'boxes', boxes, 2, 'float32');
  if (boxes.shape[1] !== 4) fail(fn, `'boxes' must be boxes of shape [R, 4], but got ${describe(boxes)}.`);
  assertTensor(fn, 'boxIndices', boxIndices, 1, 'int32');
  if (boxIndices.shape[0] !== boxes.shape[0]) {
    fail(fn, `'boxes' and 'boxIndices' must have the same length, but got ${boxes.shape[0]} and ${boxIndices.shape[0]}.`);
  }
  const size = outputSize as unknown[];
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1)) {
    fail(fn, `'outputSize' must be [height, width] of positive integers, but got ${describe(outputSize)}.`);
  }
  if (typeof spatialScale !== 'number' || !Number.isFinite(spatialScale) || spatialScale <= 0) {
    fail(fn, `'spatialScale' must be a positive number, but got ${describe(spatialScale)}.`);
  }
  const boxData = boxes.dataSync() as Float32Array;
  for (let i = 0; i < boxData.length; i++) {
    if (!Number.isFinite(boxData[i])) fail(fn, `'boxes' must be finite, but row ${Math.floor(i / 4)} is ${describe(Array.from(boxData.subarray(i - (i % 4), i - (i % 4) + 4)))}.`);
  }
  const image = boxIndices.dataSync() as Int32Array;
  for (let i = 0; i < image.length; i++) {
    if (image[i] < 0 || image[i] >= batch) fail(fn, `'boxIndices' must be in [0, ${batch}) (the features' batch), but index ${i} is ${image[i]}.`);
  }
  return { boxes: boxData, image: Int32Array.from(image), outputSize: [size[0] as number, size[1] as number] };
}
