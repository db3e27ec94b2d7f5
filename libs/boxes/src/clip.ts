import { tensor1d, tensor2d, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';
import { assertNumber } from '@lumen/core';
import { assertBoxes, readValues } from './validate';

const f32 = Math.fround;

/** Clamps x to [0, width] and y to [0, height] (torchvision `clip_boxes_to_image`). */
export function clipBoxes(boxes: Tensor2D, height: number, width: number): Tensor2D {
  assertBoxes('clipBoxes', 'boxes', boxes);
  assertNumber('clipBoxes', 'height', height, 'a non-negative number', (v) => v >= 0);
  assertNumber('clipBoxes', 'width', width, 'a non-negative number', (v) => v >= 0);
  const values = readValues('clipBoxes', 'boxes', boxes, 4);
  // torch clamps a float32 tensor at float32 bounds.
  const limits = [f32(width), f32(height)];
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.min(Math.max(values[i], 0), limits[i & 1]);
  return tensor2d(out, [boxes.shape[0], 4]);
}

/**
 * Indices (int32, ascending) of the boxes whose width and height are both >= `minSize`
 * (torchvision `remove_small_boxes`: `>=`, in float32 — the comparison torch makes
 * between a float32 tensor and a Python float).
 */
export function removeSmallBoxes(boxes: Tensor2D, minSize: number): Tensor1D {
  assertBoxes('removeSmallBoxes', 'boxes', boxes);
  assertNumber('removeSmallBoxes', 'minSize', minSize, 'a non-negative number', (v) => v >= 0);
  const data = readValues('removeSmallBoxes', 'boxes', boxes, 4);
  const min = f32(minSize);
  const keep: number[] = [];
  for (let i = 0; i < data.length / 4; i++) {
    if (f32(data[4 * i + 2] - data[4 * i]) >= min && f32(data[4 * i + 3] - data[4 * i + 1]) >= min) keep.push(i);
  }
  return tensor1d(keep, 'int32');
}
