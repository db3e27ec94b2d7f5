// The region proposal network of Faster R-CNN (torchvision semantics): the head (tensor ops),
// anchor targets and proposal generation (typed arrays via @lumen/boxes, no gradient), and
// the loss (tensor ops with written-out gradients), on one feature map or a pyramid's levels.
export { initRpnHead, objectnessChannels, rpnHead, rpnHeadLevels } from './head';
export type { ConvParams, ObjectnessMode, RpnConvDepth, RpnConvPair, RpnConvParams, RpnHeadOptions, RpnHeadOutputs, RpnLevelOutputs, RpnParams } from './head';
export { rpnHeadParamSpecs } from './param-specs';
export type { RpnHeadParamSpec } from './param-specs';
export { assignAnchorTargets, DEFAULT_ANCHOR_TARGET_OPTIONS } from './anchor-targets';
export type { AnchorTargetOptions, AnchorTargets } from './anchor-targets';
export { DEFAULT_PROPOSAL_OPTIONS, generateProposals, generateProposalsSync } from './proposals';
export type { ProposalOptions, Proposals } from './proposals';
export { rpnLoss } from './loss';
export type { RpnLosses, RpnLossOptions, RpnTargets } from './loss';
export type { AnchorsInput } from './anchors-input';
export type { LevelTensors } from './levels';
