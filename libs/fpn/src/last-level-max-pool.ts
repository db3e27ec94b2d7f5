import { assertTensor } from '@lumen/core';
import { maxPool, type Tensor4D } from '@tensorflow/tfjs-core';

/**
 * torchvision's `LastLevelMaxPool` on the FPN's last output (P5, not the backbone's C5):
 * `F.max_pool2d(p, kernel_size=1, stride=2, padding=0)`, i.e. every other row and column
 * from the first, [N, H, W, C] -> [N, ceil(H/2), ceil(W/2), C]. A 1x1 max pool rather than
 * a strided slice: tfjs has a gradient (and runtime a wasm kernel) for it, none for StridedSlice.
 */
export function lastLevelMaxPool(p: Tensor4D): Tensor4D {
  assertTensor('lastLevelMaxPool', 'p', p, 4, ['float32'], 'NHWC');
  // 'valid' with a 1x1 window: floor((H - 1) / 2) + 1 outputs, as torch's floor mode.
  return maxPool(p, 1, 2, 'valid');
}
