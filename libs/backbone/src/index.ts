// Backbones for Faster R-CNN with torchvision's layer arithmetic: a stride-16 body and a
// tail for the RoI head, and named feature levels for a pyramid, as pure functions over
// nested tf.Variable params whose dotted paths are the checkpoint names; weight import from
// safetensors or PyTorch .pth files (torchvision names).
export { BACKBONE_NAMES, getBackbone } from './registry';
export type {
  Backbone,
  BackboneOptions,
  BackboneOptionsInput,
  BackboneParams,
  BatchNormMode,
  FeatureLevel,
  ForwardContext,
  ParamInit,
  ParamKind,
  ParamSpec,
  ResolvedBackboneOptions,
  TailKind,
} from './types';
export { backboneOptionsOf, DEFAULT_OPTIONS } from './params';
export { BN_EPS, BN_MOMENTUM } from '@lumen/core';
export { exportWeights, fromTorchLayout, importWeights, importWeightsSync, torchShape } from './import-weights';
export type { ImportWeightsOptions, WeightsSource } from './import-weights';
export { readSafetensors, readSafetensorsMetadata, SAFETENSORS_DTYPES, writeSafetensors } from './safetensors';
export type { SafeTensor, SafetensorsData, SafetensorsDtype, SafetensorsInput } from './safetensors';
export { readPth } from './pth';
export { detectWeightsFormat, readWeightsFile, type WeightsFormat } from './weights-file';
export { makeDivisible } from './mobilenet-v2';
export { scaleWidth } from './resnet';
export { VGG_ROI_SIZE } from './vgg';
