import { fail } from '@lumen/core';
import { add, moments, mul, rsqrt, sub, tidy, type Tensor1D, type Tensor4D } from '@tensorflow/tfjs-core';
import type { BatchNormParams } from './params';

/** torch.nn.BatchNorm2d's defaults, as @lumen/backbone's BN_EPS / BN_MOMENTUM. */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/**
 * BatchNorm2d in training mode over N, H, W of an NHWC map: normalised by the batch mean
 * and biased variance, then `weight`, `bias`; the running averages are replaced in place
 * (momentum 0.1, running_var from the unbiased variance, as torch). Differentiable w.r.t.
 * `y`, `weight` and `bias` by tfjs' autodiff through the moments; the running-average
 * update does not reach the output, so no gradient flows into it.
 */
export function batchNormTraining(y: Tensor4D, bn: BatchNormParams): Tensor4D {
  const [n, h, w] = y.shape;
  const count = n * h * w;
  if (count < 2) fail('batchNormTraining', `training with batch statistics needs more than 1 value per channel, but got input of shape [${y.shape.join(',')}].`);
  return tidy(() => {
    const { mean, variance } = moments(y, [0, 1, 2]);
    const m = BN_MOMENTUM;
    bn.running_mean.assign(add(mul(bn.running_mean, 1 - m), mul(mean, m)));
    bn.running_var.assign(add(mul(bn.running_var, 1 - m), mul(variance, (m * count) / (count - 1))));
    const scale = mul(rsqrt(add(variance, BN_EPS)), bn.weight as Tensor1D);
    return add(mul(sub(y, mean), scale), bn.bias) as Tensor4D;
  });
}
