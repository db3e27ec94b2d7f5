// What every Lumen library needs once, depending on nothing of ours: argument checks with
// tfjs-core's messages, a seeded RNG and the draws made from it, parameter trees and their
// variables, torch's BatchNorm2d (training mode, and folded into a conv), the names of the
// fused kernels @lumen/runtime registers (and RoI resampling's arithmetic in plain loops), and the error a user can fix (a server's failed
// listen made one), and where relative paths are read from.
export { fail, describe, formatValues } from './arg-checks';
export { assertDtype, assertRank, assertTensor } from './arg-checks';
export { assertImageSizes, assertNumber, assertOptions, assertString, isFraction, isNonNegativeInteger, isPositiveInteger } from './arg-checks';
export { assertRng, drawSeed, normalValues, seededNormalValues, seededRandom, uniformValues } from './random';
export type { Rng } from './random';
export { countParams, disposeParams, flattenParams, trainableParams } from './params';
export type { ParamTree } from './params';
export { makeVariable } from './variables';
export { batchNormScaleShift, batchNormTraining, BN_EPS, BN_MOMENTUM, foldBatchNorm } from './batch-norm';
export type { BatchNormParams } from './batch-norm';
export { LumenAdamUpdate, LumenBatchNormGrad, LumenBatchNormTraining, LumenSgdUpdate, LumenSumSquares } from './kernel-names';
export { LumenHardSigmoid, LumenHardSigmoidGrad, LumenHardSwish, LumenHardSwishGrad } from './kernel-names';
export { LumenRoiResample, LumenRoiResampleGrad } from './kernel-names';
export type { RoiResampleLevel, RoiSamplingAxis, RoiSamplingPlan } from './kernel-names';
export { roiResampleLevel, roiResampleLevelGrad } from './roi-resample';
export { UserError } from './user-error';
export { listenError } from './listen-error';
export { fromWorkspace, workspaceRoot } from './workspace';
