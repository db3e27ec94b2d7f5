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

/** Per output row (or column) of a RoI, the map rows (columns) it reads and their weights: compressed rows. */
export interface RoiSamplingAxis {
  /** Entry e reads index[start[e]..start[e+1]). */
  readonly start: Int32Array;
  readonly index: Int32Array;
  readonly weight: Float64Array;
}

/**
 * Where each cell of a RoI reads one feature map: out[r, i, j, :] = Σ y.weight[a]·x.weight[b]·
 * map[image[r], y.index[a], x.index[b], :] over entry r·outHeight + i of `y` and r·outWidth + j
 * of `x` (RoIAlign's and crop_and_resize's bilinear samples factor this way).
 */
export interface RoiSamplingPlan {
  readonly rois: number;
  /** Batch index of each RoI. */
  readonly image: Int32Array;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly y: RoiSamplingAxis;
  readonly x: RoiSamplingAxis;
}

/** One map's RoIs for LumenRoiResample: their plan, and the output row each RoI fills. */
export interface RoiResampleLevel {
  readonly plan: RoiSamplingPlan;
  readonly rows: Int32Array;
}

/**
 * {x0, …, x(L-1)} (maps [N, H_l, W_l, C], float32) {levels: RoiResampleLevel[] (one per map),
 * outRows} -> [outRows, outHeight, outWidth, C]: every map's RoIs resampled by their plans into
 * their rows of one output (RoIAlign over one map, or over a pyramid). Each term is a float32
 * product, the weight product rounded to float32, added in plan order; every output row must
 * belong to exactly one level.
 */
export const LumenRoiResample = 'LumenRoiResample';
export type LumenRoiResample = typeof LumenRoiResample;

/** {dy} {levels, shapes: each map's shape} -> [dx0, …, dx(L-1)]: the gradient of LumenRoiResample w.r.t. each map. */
export const LumenRoiResampleGrad = 'LumenRoiResampleGrad';
export type LumenRoiResampleGrad = typeof LumenRoiResampleGrad;
