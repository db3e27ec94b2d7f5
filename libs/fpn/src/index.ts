// torchvision's FeaturePyramidNetwork (Faster R-CNN's v1, and v2 with BatchNorm) with
// LastLevelMaxPool, as pure functions over a ParamTree whose names map to torchvision's
// state-dict names in both its current and its pre-0.13 layout.
export { fpn } from './fpn';
export type { FpnContext } from './conv-block';
export { initFpn } from './init';
export { buildFpnParams } from './params';
export type { ConvBiasBlock, ConvNormBlock, FpnBlock, FpnParams } from './params';
export { fpnParamSpecs } from './param-specs';
export type { FpnParamInit, FpnParamKind, FpnParamSpec } from './param-specs';
export { DEFAULT_FPN_BATCH_NORM } from './options';
export type { FpnBatchNormMode, FpnExtraBlock, FpnNorm, FpnOptions, ResolvedFpnOptions } from './options';
export { fpnLevelNames, fpnLevelStrides } from './levels';
export { upsampleNearest } from './upsample-nearest';
export { lastLevelMaxPool } from './last-level-max-pool';
export { BN_EPS, BN_MOMENTUM } from '@lumen/core';
export type { BatchNormParams } from '@lumen/core';
