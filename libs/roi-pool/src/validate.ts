import { assertRank, describe, fail, formatValues } from '@lumen/core';
import type { Rank } from '@tensorflow/tfjs-core';

// The pooling functions' argument checks, with @lumen/core's messages. Lists are shown by
// their values (`[7.5, 7]`): an output size or a box row is short.

export interface PoolInputs {
  /** [x1, y1, x2, y2] per RoI. */
  boxes: Float32Array;
  /** Batch index per RoI. */
  image: Int32Array;
  outputSize: [number, number];
}

/** Checks what both poolings take and reads boxes and box indices. */
export function readPoolInputs(fn: string, features: unknown, boxes: unknown, boxIndices: unknown, outputSize: unknown, spatialScale: unknown): PoolInputs {
  assertRank<Rank.R4>(fn, 'features', features, 4, ['float32']);
  const [batch, height, width] = features.shape;
  if (height === 0 || width === 0) fail(fn, `'features' must have a height and a width of at least 1, but got ${describe(features)}.`);
  assertRank<Rank.R2>(fn, 'boxes', boxes, 2, ['float32']);
  if (boxes.shape[1] !== 4) fail(fn, `'boxes' must be boxes of shape [R, 4], but got ${describe(boxes)}.`);
  assertRank<Rank.R1>(fn, 'boxIndices', boxIndices, 1, ['int32']);
  if (boxIndices.shape[0] !== boxes.shape[0]) {
    fail(fn, `'boxes' and 'boxIndices' must have the same length, but got ${boxes.shape[0]} and ${boxIndices.shape[0]}.`);
  }
  const size = outputSize as unknown[];
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1)) {
    fail(fn, `'outputSize' must be [height, width] of positive integers, but got ${Array.isArray(outputSize) ? formatValues(outputSize) : describe(outputSize)}.`);
  }
  if (typeof spatialScale !== 'number' || !Number.isFinite(spatialScale) || spatialScale <= 0) {
    fail(fn, `'spatialScale' must be a positive number, but got ${describe(spatialScale)}.`);
  }
  const boxData = boxes.dataSync() as Float32Array;
  for (let i = 0; i < boxData.length; i++) {
    if (!Number.isFinite(boxData[i])) fail(fn, `'boxes' must be finite, but row ${Math.floor(i / 4)} is ${formatValues(boxData.subarray(i - (i % 4), i - (i % 4) + 4))}.`);
  }
  const image = boxIndices.dataSync() as Int32Array;
  for (let i = 0; i < image.length; i++) {
    if (image[i] < 0 || image[i] >= batch) fail(fn, `'boxIndices' must be in [0, ${batch}) (the features' batch), but index ${i} is ${image[i]}.`);
  }
  return { boxes: boxData, image: Int32Array.from(image), outputSize: [size[0] as number, size[1] as number] };
}
