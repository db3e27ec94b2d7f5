// Names of the fused kernels @lumen/runtime registers (for wasm) and the model libraries run
// when the active backend has them, falling back to tensor ops otherwise. The names, inputs,
// attributes and outputs below are the contract between the two sides, which import nothing
// of each other. Named as tfjs-core names its kernels (`Conv2D`), with a prefix that keeps
// them apart from tfjs' own.

/** {param, grad, momentum?} {lr, momentum, weightDecay, gradScale} -> [param, momentum?]: torch.optim.SGD's step. */
export const LumenSgdUpdate = 'LumenSgdUpdate';
export type LumenSgdUpdate = typeof LumenSgdUpdate;

/**
 * {param, grad, m, v} {stepSize, beta1, beta2, biasCorrection2Sqrt, epsilon, weightDecay,
 * gradScale} -> [param, m, v]: torch.optim.Adam's step.
 */
export const LumenAdamUpdate = 'LumenAdamUpdate';
export type LumenAdamUpdate = typeof LumenAdamUpdate;

/** {x} {} -> scalar Σx², accumulated in float64: the squared norm for gradient clipping. */
export const LumenSumSquares = 'LumenSumSquares';
export type LumenSumSquares = typeof LumenSumSquares;

/**
 * {x, gamma, beta} {epsilon, relu?} -> [y, xhat, mean, variance (biased), invstd]: BatchNorm in
 * training mode, statistics over every axis but the last; with `relu`, y = max(γ·x̂ + β, 0).
 */
export const LumenBatchNormTraining = 'LumenBatchNormTraining';
export type LumenBatchNormTraining = typeof LumenBatchNormTraining;

/**
 * {dy, xhat, gamma, invstd, y?} {} -> [dx, dgamma, dbeta]: the gradient of LumenBatchNormTraining.
 * Given the forward output `y` (of a `relu` BatchNorm), dy counts only where y > 0: ReLU's
 * gradient, as torch's threshold_backward takes it.
 */
export const LumenBatchNormGrad = 'LumenBatchNormGrad';
export type LumenBatchNormGrad = typeof LumenBatchNormGrad;

/** {x} {} -> y: torch's Hardswish x·relu6(x + 3)/6, float32. */
export const LumenHardSwish = 'LumenHardSwish';
export type LumenHardSwish = typeof LumenHardSwish;

/**
 * {dy, x} {} -> dx: the gradient of LumenHardSwish with torch's derivative at the kinks,
 * dy·(0 below -3; x/3 + 1/2 up to 3 inclusive; else 1).
 */
export const LumenHardSwishGrad = 'LumenHardSwishGrad';
export type LumenHardSwishGrad = typeof LumenHardSwishGrad;

/** {x} {} -> y: torch's Hardsigmoid relu6(x + 3)/6, float32. */
export const LumenHardSigmoid = 'LumenHardSigmoid';
export type LumenHardSigmoid = typeof LumenHardSigmoid;

/** {dy, x} {} -> dx: the gradient of LumenHardSigmoid, dy·(1/6 strictly between -3 and 3, else 0) as torch's. */
export const LumenHardSigmoidGrad = 'LumenHardSigmoidGrad';
export type LumenHardSigmoidGrad = typeof LumenHardSigmoidGrad;
