import { tensor1d, tensor2d, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';
import { assertBoxes, readValues } from './validate';

const f32 = Math.fround;

/** Areas `(x2 - x1) * (y2 - y1)` of [N, 4] boxes, in float32 (torchvision `box_area`). */
export function boxArea(boxes: Tensor2D): Tensor1D {
  assertBoxes('boxArea', 'boxes', boxes);
  const b = readValues('boxArea', 'boxes', boxes, 4);
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = f32(b[4 * i + 2] - b[4 * i]) * f32(b[4 * i + 3] - b[4 * i + 1]);
  return tensor1d(out);
}

/**
 * Pairwise IoU of two box arrays as a row-major [N, M] Float32Array, with torchvision's
 * float32 roundings replayed (Math.fround) so values sitting exactly on a matcher
 * threshold compare the same way. 0 where the union is 0 (two empty boxes), where
 * torchvision divides 0 by 0.
 */
export function iouMatrix(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  const n = a.length / 4;
  const m = b.length / 4;
  const bx1 = new Float64Array(m);
  const by1 = new Float64Array(m);
  const bx2 = new Float64Array(m);
  const by2 = new Float64Array(m);
  const bArea = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    bx1[j] = b[4 * j];
    by1[j] = b[4 * j + 1];
    bx2[j] = b[4 * j + 2];
    by2[j] = b[4 * j + 3];
    bArea[j] = f32(f32(bx2[j] - bx1[j]) * f32(by2[j] - by1[j]));
  }
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    const x1 = a[4 * i];
    const y1 = a[4 * i + 1];
    const x2 = a[4 * i + 2];
    const y2 = a[4 * i + 3];
    const area = f32(f32(x2 - x1) * f32(y2 - y1));
    const row = i * m;
    for (let j = 0; j < m; j++) {
      // Disjoint pairs (most of them) leave the 0 the array starts with.
      const w = f32(Math.min(x2, bx2[j]) - Math.max(x1, bx1[j]));
      if (w <= 0) continue;
      const h = f32(Math.min(y2, by2[j]) - Math.max(y1, by1[j]));
      if (h <= 0) continue;
      const inter = f32(w * h);
      out[row + j] = inter / f32(f32(area + bArea[j]) - inter);
    }
  }
  return out;
}

/**
 * Intersection over union of every box in `a` [N, 4] with every box in `b` [M, 4]:
 * [N, M], 0 where the union is 0 (torchvision `box_iou` gives NaN there).
 */
export function boxIou(a: Tensor2D, b: Tensor2D): Tensor2D {
  assertBoxes('boxIou', 'a', a);
  assertBoxes('boxIou', 'b', b);
  return tensor2d(iouMatrix(readValues('boxIou', 'a', a, 4), readValues('boxIou', 'b', b, 4)), [a.shape[0], b.shape[0]]);
}
