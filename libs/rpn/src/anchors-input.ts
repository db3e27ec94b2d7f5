import { assertBoxes } from '@lumen/boxes';
import { fail } from '@lumen/core';
import { tensor2d, type Tensor2D } from '@tensorflow/tfjs-core';

/** Anchors [K, 4] given as a tensor or as a flat Float32Array of K·4 coordinates. */
export type AnchorsInput = Tensor2D | Float32Array;

function checkArray(fn: string, anchors: Float32Array): void {
  if (anchors.length % 4 !== 0) fail(fn, `'anchors' must hold [x1, y1, x2, y2] rows (a length divisible by 4), but got a Float32Array of length ${anchors.length}.`);
}

/** The anchors as a tensor (a new one for an array: the caller disposes it, e.g. in a tidy). */
export function anchorsTensor(fn: string, anchors: unknown): Tensor2D {
  if (anchors instanceof Float32Array) {
    checkArray(fn, anchors);
    return tensor2d(anchors, [anchors.length / 4, 4]);
  }
  assertBoxes(fn, 'anchors', anchors);
  return anchors;
}

/** The anchors' coordinates, read once. */
export function anchorsData(fn: string, anchors: unknown): Float32Array {
  if (anchors instanceof Float32Array) {
    checkArray(fn, anchors);
    return anchors;
  }
  assertBoxes(fn, 'anchors', anchors);
  return anchors.dataSync() as Float32Array;
}
