import {
  add,
  conv2d,
  customGrad,
  div,
  engine,
  fused,
  getBackend,
  getKernel,
  mean,
  mul,
  relu,
  rsqrt,
  sqrt,
  square,
  sub,
  sum,
  tidy,
  type GradSaveFunc,
  type Rank,
  type Tensor,
  type Tensor1D,
  type Tensor4D,
  type Variable,
} from '@tensorflow/tfjs-core';
import { fail, LumenBatchNormGrad, LumenBatchNormTraining } from '@lumen/core';

// conv (stride 1, symmetric padding, no bias) -> BatchNorm2d -> ReLU: torchvision's
// Conv2dNormActivation as FastRCNNConvFCHead builds it. @lumen/backbone's layers.ts has the
// general form (strides, depthwise, other activations); a head may not import a backbone, so
// the one case a head needs is here, with the same arithmetic.

/** torch BatchNorm2d's defaults. */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/** torch's BatchNorm2d names; the running statistics are never trainable, weight and bias when the BN is. */
export type BatchNormParams = {
  weight: Variable<Rank.R1>;
  bias: Variable<Rank.R1>;
  running_mean: Variable<Rank.R1>;
  running_var: Variable<Rank.R1>;
};

/**
 * relu(BN(conv(x))) for a kernel [k, k, in, out] (k odd, padding (k - 1) / 2). Batch
 * statistics when `training` and the BN is trainable (`weight.trainable`), updating the
 * running ones in place; otherwise BN is the affine map of the running statistics, folded
 * into the kernel and bias of one fused conv.
 */
export function convBnRelu(x: Tensor4D, kernel: Variable<Rank.R4>, bn: BatchNormParams, training: boolean): Tensor4D {
  const pad = (kernel.shape[0] - 1) / 2;
  if (training && bn.weight.trainable) return relu(batchNormTraining(conv2d(x, kernel, 1, pad), bn));
  const scale = div(bn.weight, sqrt(add(bn.running_var, BN_EPS))) as Tensor1D;
  const shift = sub(bn.bias, mul(bn.running_mean, scale)) as Tensor1D;
  return fused.conv2d({ x, filter: mul(kernel, scale) as Tensor4D, strides: 1, pad, bias: shift, activation: 'relu' });
}

/**
 * BatchNorm2d in training mode over N, H, W; the running statistics move by torch's momentum,
 * running_var towards the unbiased variance. The gradient is torch's closed form —
 * dx = γ·invstd/n · (n·dy - Σdy - x̂·Σ(dy·x̂)), dγ = Σ(dy·x̂), dβ = Σdy — as accurate as
 * torch where autodiff through the moments is not. Backends that register the fused kernels
 * (@lumen/runtime does for wasm) run each direction in a few passes over the map.
 */
function batchNormTraining(y: Tensor4D, bn: BatchNormParams): Tensor4D {
  const [n, h, w] = y.shape;
  const count = n * h * w;
  if (count < 2) fail('batchNorm', `training with batch statistics needs more than 1 value per channel, but got input of shape [${y.shape.join(',')}].`);
  const backend = getBackend();
  const fusedKernels = getKernel(LumenBatchNormTraining, backend) != null && getKernel(LumenBatchNormGrad, backend) != null;
  const normalise = customGrad((...args: Array<Tensor | GradSaveFunc>) => {
    const [x, gamma, beta, save] = args as [Tensor4D, Tensor1D, Tensor1D, GradSaveFunc];
    const [value, xhat, batchMean, variance, invstd] = fusedKernels
      ? (engine().runKernel(LumenBatchNormTraining, { x, gamma, beta }, { epsilon: BN_EPS }) as Tensor[])
      : composedStatistics(x, gamma, beta);
    tidy(() => {
      const m = BN_MOMENTUM;
      bn.running_mean.assign(add(mul(bn.running_mean, 1 - m), mul(batchMean, m)));
      bn.running_var.assign(add(mul(bn.running_var, 1 - m), mul(variance, (m * count) / (count - 1))));
    });
    save([xhat, invstd, gamma]);
    return {
      value,
      gradFunc: (dy: Tensor, [savedXhat, savedInvstd, savedGamma]: Tensor[]) => {
        if (fusedKernels) return engine().runKernel(LumenBatchNormGrad, { dy, xhat: savedXhat, gamma: savedGamma, invstd: savedInvstd }, {}) as Tensor[];
        const sumDy = sum(dy, [0, 1, 2]);
        const sumDyXhat = sum(mul(dy, savedXhat), [0, 1, 2]);
        const dx = mul(sub(sub(mul(dy, count), sumDy), mul(savedXhat, sumDyXhat)), div(mul(savedGamma, savedInvstd), count));
        return [dx, sumDyXhat, sumDy];
      },
    };
  });
  return normalise(y, bn.weight, bn.bias) as Tensor4D;
}

/** LumenBatchNormTraining's outputs from tensor ops: [y, x̂, mean, variance (biased), invstd]. */
function composedStatistics(x: Tensor4D, gamma: Tensor1D, beta: Tensor1D): Tensor[] {
  const batchMean = mean(x, [0, 1, 2]);
  const centred = sub(x, batchMean);
  const variance = mean(square(centred), [0, 1, 2]);
  const invstd = rsqrt(add(variance, BN_EPS));
  const xhat = mul(centred, invstd);
  return [add(mul(xhat, gamma), beta), xhat, batchMean, variance, invstd];
}
