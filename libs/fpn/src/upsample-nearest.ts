import { assertNumber, assertTensor, fail, isPositiveInteger } from '@lumen/core';
import { gather, mul, ones, reshape, slice, tensor1d, tidy, type Tensor4D } from '@tensorflow/tfjs-core';

const { floor, fround, min } = Math;

/**
 * The source index of every output row (or column) of torch's
 * `F.interpolate(size=outSize, mode='nearest')`: `min(floor(dst · scale), inSize - 1)` with
 * scale = inSize / outSize, both the scale and the product rounded to float32 as torch's
 * kernel computes them (`floorf(dst_index * scale)`); an exact 2x is `dst >> 1`.
 */
export function nearestSourceIndices(inSize: number, outSize: number): Int32Array {
  const index = new Int32Array(outSize);
  if (outSize === inSize || outSize === 2 * inSize) {
    for (let d = 0; d < outSize; d++) index[d] = outSize === inSize ? d : d >> 1;
    return index;
  }
  // in / out rounded once to float32 is float division (no double rounding below 2^24);
  // dst · scale is exact in float64, so fround gives float multiplication.
  const scale = fround(inSize / outSize);
  for (let d = 0; d < outSize; d++) index[d] = min(floor(fround(d * scale)), inSize - 1);
  return index;
}

/**
 * r when `index` is `floor(d / r)` for every output d (each source repeated r times, the
 * last copies maybe cut off), else 0.
 */
function repeatFactor(index: Int32Array, inSize: number): number {
  const r = Math.ceil(index.length / inSize);
  for (let d = 0; d < index.length; d++) if (index[d] !== floor(d / r)) return 0;
  return r;
}

/**
 * x [N, H, W, C] -> [N, size[0], size[1], C] by nearest neighbour with torch's indices
 * (`F.interpolate(x, size, mode='nearest')`, what the FPN's top-down path uses);
 * differentiable w.r.t. x (the gradient sums dy over the outputs each source feeds). When
 * the indices repeat every source a whole number of times (the FPN's 2x, cut to an odd
 * size or not) it is a broadcast over new axes, about 10x faster than gathers forward and
 * backward on wasm; other sizes gather rows then columns. Not tfjs' ResizeNearestNeighbor:
 * its cpu kernel computes the indices in float64, torch in float32, which pick different
 * rows for some sizes (28 -> 46, 26 -> 22), and tfjs-backend-cpu 4.22's
 * ResizeNearestNeighborGrad reads dy with the input's batch stride, wrong for batches of
 * more than one image.
 */
export function upsampleNearest(x: Tensor4D, size: readonly [number, number]): Tensor4D {
  const fn = 'upsampleNearest';
  assertTensor(fn, 'x', x, 4, ['float32'], 'NHWC');
  if (!Array.isArray(size) || size.length !== 2) fail(fn, `'size' must be [height, width], but got ${JSON.stringify(size)}.`);
  assertNumber(fn, 'size[0]', size[0], 'a positive integer', isPositiveInteger);
  assertNumber(fn, 'size[1]', size[1], 'a positive integer', isPositiveInteger);
  const [n, h, w, c] = x.shape;
  const rows = nearestSourceIndices(h, size[0]);
  const cols = nearestSourceIndices(w, size[1]);
  const rh = repeatFactor(rows, h);
  const rw = repeatFactor(cols, w);
  return tidy(() => {
    if (rh > 0 && rw > 0) {
      const repeated = reshape(mul(reshape(x, [n, h, 1, w, 1, c]), ones([1, 1, rh, 1, rw, 1])), [n, h * rh, w * rw, c]);
      return (h * rh === size[0] && w * rw === size[1] ? repeated : slice(repeated, [0, 0, 0, 0], [n, size[0], size[1], c])) as Tensor4D;
    }
    return gather(gather(x, tensor1d(rows, 'int32'), 1), tensor1d(cols, 'int32'), 2) as Tensor4D;
  });
}
