// Box functions take and return tfjs tensors but compute on typed arrays, read once:
// tfjs' wasm and cpu backends run the column slicing, stacking and broadcast min/max that
// box math needs tens of times slower than a loop, and Faster R-CNN never differentiates
// through boxes (torchvision detaches them). Loops also replay torchvision's float32
// roundings exactly. smoothL1, which is differentiated, is tensor ops.
export { boxArea, boxIou } from './iou';
export { clipBoxes, removeSmallBoxes } from './clip';
export {
  decodeBoxes,
  encodeBoxes,
  DEFAULT_DELTA_CLIP,
  RCNN_BOX_CODER_WEIGHTS,
  RPN_BOX_CODER_WEIGHTS,
} from './box-coder';
export type { BoxCoderWeights } from './box-coder';
export { batchedNms, batchedNmsSync, nms, nmsSync } from './nms';
export { BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, matchBoxes } from './matcher';
export type { MatcherOptions } from './matcher';
export { sampleBalanced } from './sampler';
export type { BalancedSample, SamplerOptions } from './sampler';
export { smoothL1 } from './smooth-l1';
export type { Reduction, SmoothL1Options } from './smooth-l1';
// The argument check every box-taking function uses, for the libs built on this one.
export { assertBoxes } from './validate';
// Loss terms with written-out gradients (no registered gradients needed), shared by the RPN
// and R-CNN losses.
export { maskedSmoothL1, weightedSigmoidCrossEntropy, weightedSoftmaxCrossEntropy } from './loss-terms';
