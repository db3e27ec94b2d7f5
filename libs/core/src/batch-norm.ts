import {
  add,
  customGrad,
  div,
  engine,
  getBackend,
  getKernel,
  mean as tfMean,
  mul,
  relu as tfRelu,
  reshape,
  rsqrt,
  sqrt,
  square,
  sub,
  sum,
  tidy,
  type GradSaveFunc,
  type Tensor,
  type Tensor1D,
  type Tensor4D,
  type Variable,
} from '@tensorflow/tfjs-core';
import { fail } from './arg-checks';
import { LumenBatchNormGrad, LumenBatchNormTraining } from './kernel-names';

// torch.nn.BatchNorm2d over NHWC maps, for every lib with a norm layer (backbones, FPN, box
// heads): batch statistics in training, the running ones folded into the conv otherwise.

/** torch.nn.BatchNorm2d's defaults. */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/**
 * BatchNorm2d's parameters under torch's names. The running statistics are never trainable;
 * weight and bias are when the BN is. A type, not an interface: `keyof` is the four names,
 * and it still fits a ParamTree.
 */
export type BatchNormParams = {
  weight: Variable;
  bias: Variable;
  running_mean: Variable;
  running_var: Variable;
};

/** BN by the running statistics (frozen, or outside training) as y·scale + shift. */
export function batchNormScaleShift(bn: BatchNormParams, eps = BN_EPS): { scale: Tensor1D; shift: Tensor1D } {
  return tidy(() => {
    const scale = div(bn.weight, sqrt(add(bn.running_var, eps))) as Tensor1D;
    return { scale, shift: sub(bn.bias, mul(bn.running_mean, scale)) as Tensor1D };
  });
}

/**
 * A conv without bias followed by BN on the running statistics, as one conv: the kernel
 * scaled per output channel (axis 3 of HWIO, axis 2 of a depthwise [k, k, channels, 1]) and
 * the shift as its bias. Computed per call, so it follows assignments to the variables.
 */
export function foldBatchNorm(kernel: Tensor4D, bn: BatchNormParams, eps = BN_EPS, depthwise = false): { filter: Tensor4D; bias: Tensor1D } {
  return tidy(() => {
    const { scale, shift } = batchNormScaleShift(bn, eps);
    const filter = mul(kernel, depthwise ? reshape(scale, [1, 1, -1, 1]) : scale) as Tensor4D;
    return { filter, bias: shift };
  });
}

/**
 * BatchNorm2d in training mode over N, H, W: normalised by the batch mean and biased
 * variance, then `weight`, `bias`; the running statistics are updated in place (torch's
 * `momentum`: new = (1 - momentum)·old + momentum·batch, running_var from the unbiased
 * variance). The gradient is torch's closed form — dx = γ·invstd/n · (n·dy - Σdy - x̂·Σ(dy·x̂)),
 * dγ = Σ(dy·x̂), dβ = Σdy — rather than autodiff through the moments: as accurate as torch
 * (the composed form loses ~10x more to rounding when the maps are small) and fewer ops.
 * Backends that register `LumenBatchNormTraining` and `LumenBatchNormGrad` (@lumen/runtime
 * does for wasm) run each direction in two or three passes over the map instead of ~7
 * element-wise kernels. `eps` and `momentum` left undefined are torch's defaults. With `relu`
 * the output goes through a ReLU, in the same kernels where the backend has them: a ReLU
 * after a norm layer then costs no pass of its own either way.
 */
export function batchNormTraining(y: Tensor4D, bn: BatchNormParams, eps = BN_EPS, momentum = BN_MOMENTUM, relu = false): Tensor4D {
  const [n, h, w] = y.shape;
  const count = n * h * w;
  if (count < 2) fail('batchNorm', `training with batch statistics needs more than 1 value per channel, but got input of shape [${y.shape.join(',')}].`);
  const backend = getBackend();
  const fusedKernels = getKernel(LumenBatchNormTraining, backend) != null && getKernel(LumenBatchNormGrad, backend) != null;
  const normalise = customGrad((...args: Array<Tensor | GradSaveFunc>) => {
    const [x, gamma, beta, save] = args as [Tensor4D, Tensor1D, Tensor1D, GradSaveFunc];
    const { value, normalised, mean, variance, invstd } = fusedKernels ? fusedStatistics(x, gamma, beta, eps, relu) : composedStatistics(x, gamma, beta, eps);
    updateRunningStatistics(bn, mean, variance, count, momentum);
    save(fusedKernels && relu ? [normalised, invstd, gamma, value] : [normalised, invstd, gamma]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xhat, inv, g, out] = saved;
        if (fusedKernels) return engine().runKernel(LumenBatchNormGrad, out == null ? { dy, xhat, gamma: g, invstd: inv } : { dy, xhat, gamma: g, invstd: inv, y: out }, {}) as Tensor[];
        const sumDy = sum(dy, [0, 1, 2]);
        const sumDyX = sum(mul(dy, xhat), [0, 1, 2]);
        const dx = mul(sub(sub(mul(dy, count), sumDy), mul(xhat, sumDyX)), div(mul(g, inv), count));
        return [dx, sumDyX, sumDy];
      },
    };
  });
  if (relu && !fusedKernels) return tidy(() => tfRelu(normalise(y, bn.weight as Tensor1D, bn.bias as Tensor1D)));
  return normalise(y, bn.weight as Tensor1D, bn.bias as Tensor1D);
}

/** Moves the running averages towards a batch's mean and biased `variance` of `count` values per channel. */
function updateRunningStatistics(bn: BatchNormParams, mean: Tensor, variance: Tensor, count: number, momentum: number): void {
  tidy(() => {
    bn.running_mean.assign(add(mul(bn.running_mean, 1 - momentum), mul(mean, momentum)));
    bn.running_var.assign(add(mul(bn.running_var, 1 - momentum), mul(variance, (momentum * count) / (count - 1))));
  });
}

/** LumenBatchNormTraining's outputs. */
interface BatchStatistics {
  value: Tensor4D;
  normalised: Tensor;
  mean: Tensor;
  /** Biased (the normalisation's); the running variance gets the unbiased one. */
  variance: Tensor;
  invstd: Tensor;
}

function composedStatistics(x: Tensor4D, gamma: Tensor1D, beta: Tensor1D, eps: number): BatchStatistics {
  const mean = tfMean(x, [0, 1, 2]);
  const centred = sub(x, mean);
  const variance = tfMean(square(centred), [0, 1, 2]);
  const invstd = rsqrt(add(variance, eps));
  const normalised = mul(centred, invstd);
  return { value: add(mul(normalised, gamma), beta) as Tensor4D, normalised, mean, variance, invstd };
}

function fusedStatistics(x: Tensor4D, gamma: Tensor1D, beta: Tensor1D, eps: number, relu: boolean): BatchStatistics {
  const [value, normalised, mean, variance, invstd] = engine().runKernel(LumenBatchNormTraining, { x, gamma, beta }, { epsilon: eps, relu }) as Tensor[];
  return { value: value as Tensor4D, normalised, mean, variance, invstd };
}
