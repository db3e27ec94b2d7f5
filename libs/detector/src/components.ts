import { BACKBONE_NAMES, getBackbone, type Backbone } from '@lumen/backbone';
import { ConfigError, type Config, type ModelConfig } from '@lumen/config';
import { cropPool, multiScaleRoiAlign, roiAlign } from '@lumen/roi-pool';
import type * as tf from '@tensorflow/tfjs-core';
import { anchorsPerMap, type AnchorPlan } from './anchor-plan';
import { backboneOptions } from './backbone-options';
import { describeMaps, resolvePyramid, type PyramidPlan } from './pyramid-plan';

// The components a config names, each chosen from a registry once: `buildDetector` holds the
// chosen functions, so nothing reads a config string on the forward path.

type HeadName = ModelConfig['rcnn']['head'];
type PoolMode = ModelConfig['roiPool']['mode'];

/** What a box head needs of the backbone: nothing (its own layers), or a tail of this kind. */
const BOX_HEAD_TAILS: Readonly<Record<HeadName, Backbone['tailKind'] | null>> = {
  mlp: null,
  'conv-fc': null,
  'resnet-tail': 'conv',
  'vgg-fc': 'fc',
};

/** RoI pooling of one map: pooled [R, size, size, C] for boxes in input pixels. */
export type MapPooler = (features: tf.Tensor4D, boxes: tf.Tensor2D, boxIndices: tf.Tensor1D) => tf.Tensor4D;

/** RoI pooling of the feature maps (finest first): pooled [R, size, size, C] for boxes in input pixels. */
export type RoiPooler = (maps: readonly tf.Tensor4D[], boxes: tf.Tensor2D, boxIndices: tf.Tensor1D) => tf.Tensor4D;

const POOLERS: Readonly<Record<PoolMode, (pool: ModelConfig['roiPool'], stride: number) => MapPooler>> = {
  align: (pool, stride) => (features, boxes, indices) =>
    roiAlign(features, boxes, indices, [pool.size, pool.size], 1 / stride, pool.samplingRatio, pool.aligned),
  crop: (pool, stride) => (features, boxes, indices) => cropPool(features, boxes, indices, [pool.size, pool.size], 1 / stride),
};

/**
 * torchvision's MultiScaleRoIAlign over a pyramid's leading maps (never 'pool'), at their
 * nominal scales: what its `_infer_scale` finds for any image over ~80 pixels a side.
 */
function pyramidPooler(pool: ModelConfig['roiPool'], scales: number[]): RoiPooler {
  const size: [number, number] = [pool.size, pool.size];
  return (maps, boxes, indices) => multiScaleRoiAlign(maps.slice(0, scales.length), boxes, indices, size, { scales, samplingRatio: pool.samplingRatio, aligned: pool.aligned });
}

/** The components of a config's model, checked together; errors name the config key. */
export interface ModelComponents {
  backbone: Backbone;
  /** Whether the box head is the backbone's tail (the C4 design) rather than layers of its own. */
  headIsTail: boolean;
  /** The feature pyramid over the backbone, or null for one stride-16 map (C4). */
  pyramid: PyramidPlan | null;
  /** Anchors on each map the RPN reads. */
  anchors: AnchorPlan;
  pooler: RoiPooler;
}

function checkTail(model: ModelConfig, backbone: Backbone, pyramid: PyramidPlan | null): void {
  const tailKind = BOX_HEAD_TAILS[model.rcnn.head];
  if (tailKind !== null && pyramid !== null) {
    throw new ConfigError(`model.rcnn.head: '${model.rcnn.head}' runs the backbone's tail on one stride-16 map; with model.backbone.fpn use 'mlp' or 'conv-fc'`);
  }
  if (tailKind === 'fc' && backbone.tailKind !== 'fc') {
    throw new ConfigError(`model.rcnn.head: 'vgg-fc' is VGG's fc6/fc7 and needs a VGG backbone (model.backbone.name is '${backbone.name}'); use 'resnet-tail' or 'mlp'`);
  }
  if (tailKind === 'conv' && backbone.tailKind !== 'conv') {
    throw new ConfigError(`model.rcnn.head: 'resnet-tail' runs the backbone's convolutional tail; ${backbone.name}'s tail is fully connected: use 'vgg-fc' or 'mlp'`);
  }
  const size = backbone.tailRoiSize;
  if (tailKind === 'fc' && size !== null && model.roiPool.size !== size) {
    throw new ConfigError(`model.roiPool.size: VGG's fc6 takes ${size}x${size} RoIs, but the config pools ${model.roiPool.size}x${model.roiPool.size}`);
  }
}

function poolerOf(model: ModelConfig, backbone: Backbone, pyramid: PyramidPlan | null): RoiPooler {
  if (pyramid === null) {
    const pooler = POOLERS[model.roiPool.mode](model.roiPool, backbone.bodyStride);
    return ([map], boxes, indices) => pooler(map, boxes, indices);
  }
  if (model.roiPool.mode !== 'align') {
    throw new ConfigError(`model.roiPool.mode: '${model.roiPool.mode}' pools one map; with model.backbone.fpn RoIs are pooled by multi-scale RoIAlign: use 'align'`);
  }
  return pyramidPooler(model.roiPool, pyramid.poolScales);
}

/**
 * Resolves and checks the model section alone (no dataset needed): an unknown backbone,
 * `vgg-fc` without VGG, a `resnet-tail` on VGG, a RoI size the tail cannot take; with a
 * feature pyramid, levels the backbone lacks, a tail head, a pooling other than RoIAlign;
 * anchor lists that do not fit the maps.
 */
export function resolveComponents(config: Config): ModelComponents {
  const { model } = config;
  if (!BACKBONE_NAMES.includes(model.backbone.name)) {
    throw new ConfigError(`model.backbone.name: unknown backbone '${model.backbone.name}': expected one of ${BACKBONE_NAMES.join(', ')}`);
  }
  const backbone = getBackbone(model.backbone.name);
  const pyramid = resolvePyramid(config, backbone, backboneOptions(config));
  checkTail(model, backbone, pyramid);
  return {
    backbone,
    headIsTail: BOX_HEAD_TAILS[model.rcnn.head] !== null,
    pyramid,
    anchors: anchorsPerMap(model.anchors, pyramid?.maps ?? 1, describeMaps(pyramid)),
    pooler: poolerOf(model, backbone, pyramid),
  };
}

/** Checks the model section of a config (before any dataset is opened); throws a ConfigError naming the key. */
export function checkModelConfig(config: Config): void {
  resolveComponents(config);
}
