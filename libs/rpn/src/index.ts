// The region proposal network of Faster R-CNN (torchvision semantics): the head (tensor ops),
// anchor targets and proposal generation (typed arrays via @lumen/boxes, no gradient), and
// the loss (tensor ops with written-out gradients).
export { initRpnHead, objectnessChannels, rpnHead } from './head';
export type { ConvParams, ObjectnessMode, RpnHeadOptions, RpnHeadOutputs, RpnParams } from './head';
export { assignAnchorTargets, DEFAULT_ANCHOR_TARGET_OPTIONS } from './anchor-targets';
export type { AnchorTargetOptions, AnchorTargets } from './anchor-targets';
export { DEFAULT_PROPOSAL_OPTIONS, generateProposals, generateProposalsSync } from './proposals';
export type { ProposalOptions, Proposals } from './proposals';
export { rpnLoss } from './loss';
export type { RpnLosses, RpnLossOptions, RpnTargets } from './loss';
export type { AnchorsInput } from './anchors-input';
