import { assertNumber, assertTensor, fail, isPositiveInteger } from '@lumen/core';
import { gather, tensor1d, tidy, type Tensor4D } from '@tensorflow/tfjs-core';

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
 * x [N, H, W, C] -> [N, size[0], size[1], C] by nearest neighbour with torch's indices
 * (`F.interpolate(x, size, mode='nearest')`, what the FPN's top-down path uses), as a
 * gather of rows then of columns; differentiable w.r.t. x (the gradient sums dy over the
 * outputs each source feeds). Not tfjs' ResizeNearestNeighbor: its cpu kernel computes the
 * indices in float64, torch in float32, which pick different rows for some sizes (28 -> 46,
 * 26 -> 22), and tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad reads dy with the input's
 * batch stride, wrong for batches of more than one image.
 */
export function upsampleNearest(x: Tensor4D, size: readonly [number, number]): Tensor4D {
  const fn = 'upsampleNearest';
  assertTensor(fn, 'x', x, 4, ['float32'], 'NHWC');
  if (!Array.isArray(size) || size.length !== 2) fail(fn, `'size' must be [height, width], but got ${JSON.stringify(size)}.`);
  assertNumber(fn, 'size[0]', size[0], 'a positive integer', isPositiveInteger);
  assertNumber(fn, 'size[1]', size[1], 'a positive integer', isPositiveInteger);
  const [, h, w] = x.shape;
  const rows = nearestSourceIndices(h, size[0]);
  const cols = nearestSourceIndices(w, size[1]);
  return tidy(() => gather(gather(x, tensor1d(rows, 'int32'), 1), tensor1d(cols, 'int32'), 2) as Tensor4D);
}
