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
  // Columns of `a` as separate arrays: the inner loop runs over `a` (typically the long
  // side: anchors or proposals, in spatial order, so the overlap branch predicts well).
  const ax1 = new Float64Array(n);
  const ay1 = new Float64Array(n);
  const ax2 = new Float64Array(n);
  const ay2 = new Float64Array(n);
  const aArea = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    ax1[i] = a[4 * i];
    ay1[i] = a[4 * i + 1];
    ax2[i] = a[4 * i + 2];
    ay2[i] = a[4 * i + 3];
    aArea[i] = f32(f32(ax2[i] - ax1[i]) * f32(ay2[i] - ay1[i]));
  }
  const out = new Float32Array(n * m);
  for (let j = 0; j < m; j++) {
    const x1 = b[4 * j];
    const y1 = b[4 * j + 1];
    const x2 = b[4 * j + 2];
    const y2 = b[4 * j + 3];
    const area = f32(f32(x2 - x1) * f32(y2 - y1));
    for (let i = 0, o = j; i < n; i++, o += m) {
      // Disjoint pairs (most of them) keep the 0 the array starts with. Rejecting them by
      // plain compares first is much cheaper than V8's Math.min/max (branchy) sequences.
      const ix1 = ax1[i];
      if (ix1 >= x2) continue;
      const ix2 = ax2[i];
      if (ix2 <= x1) continue;
      const iy1 = ay1[i];
      if (iy1 >= y2) continue;
      const iy2 = ay2[i];
      if (iy2 <= y1) continue;
      const w = f32((x2 < ix2 ? x2 : ix2) - (x1 > ix1 ? x1 : ix1));
      const h = f32((y2 < iy2 ? y2 : iy2) - (y1 > iy1 ? y1 : iy1));
      if (w > 0 && h > 0) {
        // (degenerate boxes, x2 < x1, can still get here)
        const inter = f32(w * h);
        out[o] = inter / f32(f32(aArea[i] + area) - inter);
      }
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
