// The second stage of Faster R-CNN (torchvision semantics): box heads and the predictor
// (tensor ops), proposal targets and detection post-processing (typed arrays via
// @lumen/boxes, no gradient), and the loss (tensor ops with written-out gradients).
export { getBoxHead, mlpFc6FromTorch } from './box-head';
export type { BoxHead, BoxHeadContext, BoxHeadName, InjectedTail, MlpHeadParams } from './box-head';
export { DEFAULT_MLP_HIDDEN } from './box-head-options';
export type { BatchNormMode, BoxHeadOptions } from './box-head-options';
export type { DenseParams } from './dense';
export { BOX_HEAD_PREFIX, convFcHeadParamSpecs, DEFAULT_CONV_FC_CHANNELS } from './conv-fc-head';
export type { ConvBnParams, ConvFcHeadParams, HeadParamKind, HeadParamSpec } from './conv-fc-head';
export type { BatchNormParams } from '@lumen/core';
export { initPredictor, predictor } from './predictor';
export type { PredictorOutputs, PredictorParams } from './predictor';
export { DEFAULT_PROPOSAL_TARGET_OPTIONS, sampleProposalTargets } from './proposal-targets';
export type { ProposalTargetOptions, ProposalTargets } from './proposal-targets';
export { rcnnLoss } from './loss';
export type { RcnnLosses, RcnnLossOptions } from './loss';
export { DEFAULT_DETECTION_OPTIONS, postprocessDetections, postprocessDetectionsSync } from './postprocess';
export type { DetectionOptions, Detections } from './postprocess';
