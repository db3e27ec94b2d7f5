import type { Backbone, BackboneOptionsInput, BackboneParams, ForwardContext } from '@lumen/backbone';
import type { Config } from '@lumen/config';
import { initFpn, type FpnParams } from '@lumen/fpn';
import {
  getBoxHead,
  initPredictor,
  predictor,
  type BoxHead,
  type BoxHeadOptions,
  type DetectionOptions,
  type PredictorOutputs,
  type PredictorParams,
  type ProposalTargetOptions,
} from '@lumen/rcnn-head';
import { initRpnHead, rpnHeadLevels, type AnchorTargetOptions, type ProposalOptions, type RpnConvDepth, type RpnHeadOptions, type RpnParams } from '@lumen/rpn';
import * as tf from '@tensorflow/tfjs-core';
import { backboneOptions } from './backbone-options';
import { resolveComponents } from './components';
import type { ParamTree } from './params';
import { featurePyramid } from './pyramid';
import type { PyramidPlan } from './pyramid-plan';
import { singleMap } from './single-map';

/**
 * Parameters by torchvision's FasterRCNN module paths (docs/architecture.md §2). `fpn` is the
 * feature pyramid (torchvision's `backbone.fpn`; absent for C4). `box_head` holds the head's
 * own layers, or nothing when the head is the backbone's tail (its weights are
 * `backbone.layer4.*`, `backbone.classifier.*`: pretrained files bring them).
 * `torchParamMap` gives every name's torchvision counterpart.
 */
export type DetectorParams = {
  backbone: BackboneParams;
  fpn?: FpnParams;
  rpn: { head: RpnParams<RpnConvDepth> };
  roi_heads: { box_head: ParamTree; box_predictor: PredictorParams };
};

/** The maps the RPN and RoI pooling read: one per pyramid level, finest first (one for C4). */
export type FeatureMaps = tf.Tensor4D[];

/**
 * The RPN head's outputs on each feature map, and the anchors they are laid out on: every
 * map's [H*W*A, 4], map after map, flat.
 */
export type RpnOutputs = {
  objectness: tf.Tensor4D[];
  deltas: tf.Tensor4D[];
  anchors: Float32Array;
};

export type Mode = 'train' | 'test';

/** Target assignment, proposal and post-processing settings, read from the config once. */
export interface DetectorSettings {
  anchorTargets: Required<AnchorTargetOptions>;
  proposals: Record<Mode, Required<ProposalOptions>>;
  proposalTargets: Required<ProposalTargetOptions>;
  detections: Required<DetectionOptions>;
}

/**
 * A Faster R-CNN assembled from a config once: every switch (backbone, pooling mode, box head)
 * resolved into the functions below, so the forward pass is the same code for every
 * combination. Holds no weights: params are a separate nested record.
 */
export interface Detector {
  readonly config: Config;
  /** Class names, labels 1..N in this order (0 is background). */
  readonly classes: string[];
  readonly backbone: Backbone;
  readonly boxHead: BoxHead<ParamTree>;
  /** Whether the box head is the backbone's tail (C4) rather than layers of its own (`mlp`, `conv-fc`). */
  readonly headIsTail: boolean;
  /** The feature pyramid over the backbone, or null for one stride-16 map (C4). */
  readonly pyramid: PyramidPlan | null;
  readonly settings: DetectorSettings;
  /** Fresh parameters: torchvision's initialisation, drawn from `rng`. */
  init(rng: () => number): DetectorParams;
  /** Normalised images [N, H, W, 3] -> the feature maps. */
  features(params: DetectorParams, images: tf.Tensor4D, ctx: ForwardContext): FeatureMaps;
  /** The RPN head over the maps, and its anchors for a padded input of `imageSize` ([height, width]). */
  rpn(params: DetectorParams, features: FeatureMaps, imageSize: readonly [number, number]): RpnOutputs;
  /** Pooled RoI features [R, s, s, C] of boxes (input pixels) given per image. */
  pool(features: FeatureMaps, boxesPerImage: readonly tf.Tensor2D[]): tf.Tensor4D;
  /** The box head: pooled RoIs -> [R, D]. */
  boxFeatures(params: DetectorParams, pooled: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D;
  /** The predictor: [R, D] -> class logits [R, K+1] and per-class deltas [R, 4(K+1)]. */
  predict(params: DetectorParams, x: tf.Tensor2D): PredictorOutputs;
}

function settingsOf(config: Config): DetectorSettings {
  const { rpn, rcnn } = config.model;
  const proposals = (mode: Mode): Required<ProposalOptions> => ({
    preNmsTopN: rpn.preNmsTopN[mode],
    postNmsTopN: rpn.postNmsTopN[mode],
    nmsThresh: rpn.nmsThresh,
    minSize: rpn.minSize,
    scoreThresh: rpn.scoreThresh,
  });
  return {
    anchorTargets: {
      fgIouThresh: rpn.fgIouThresh,
      bgIouThresh: rpn.bgIouThresh,
      batchSizePerImage: rpn.batchSizePerImage,
      positiveFraction: rpn.positiveFraction,
    },
    proposals: { train: proposals('train'), test: proposals('test') },
    proposalTargets: {
      fgIouThresh: rcnn.fgIouThresh,
      bgIouThresh: rcnn.bgIouThresh,
      batchSizePerImage: rcnn.batchSizePerImage,
      positiveFraction: rcnn.positiveFraction,
      weights: rcnn.boxWeights,
    },
    detections: {
      scoreThresh: rcnn.scoreThresh,
      nmsThresh: rcnn.nmsThresh,
      detectionsPerImage: rcnn.detectionsPerImage,
      minSize: rcnn.minSize,
      weights: rcnn.boxWeights,
    },
  };
}

/** Image index of every box, for boxes given per image. */
function boxIndicesOf(boxesPerImage: readonly tf.Tensor2D[]): Int32Array {
  const indices = new Int32Array(boxesPerImage.reduce((sum, b) => sum + b.shape[0], 0));
  let offset = 0;
  boxesPerImage.forEach((boxes, image) => {
    indices.fill(image, offset, offset + boxes.shape[0]);
    offset += boxes.shape[0];
  });
  return indices;
}

/** The box head a config names, with the backbone's tail injected for the C4 heads. */
function boxHeadOf(config: Config, backbone: Backbone, headIsTail: boolean): BoxHead<ParamTree> {
  const head = config.model.rcnn.head;
  if (!headIsTail) return getBoxHead(head) as BoxHead<ParamTree>;
  return getBoxHead<ParamTree>(head, {
    // The tail's weights are the backbone's own: the head itself has none.
    init: () => ({}),
    apply: (params, pooled, ctx) => backbone.tail(params as BackboneParams, pooled, ctx),
    outChannels: backbone.tailChannels(backboneOptions(config)),
  });
}

/** The box head's options: `conv-fc` alone takes convChannels. */
function boxHeadOptions(config: Config, inChannels: number): BoxHeadOptions {
  const { roiPool, rcnn } = config.model;
  const options: BoxHeadOptions = { inChannels, poolSize: [roiPool.size, roiPool.size], hidden: rcnn.hidden };
  if (rcnn.head === 'conv-fc') options.convChannels = rcnn.convChannels;
  return options;
}

/**
 * The config's components and the options each part is built with: what `buildDetector` and
 * `torchParamMap` share.
 */
export function resolveModel(config: Config) {
  const components = resolveComponents(config);
  const { backbone, pyramid, anchors } = components;
  const options = backboneOptions(config);
  const channels = pyramid?.fpn.outChannels ?? backbone.bodyChannels(options);
  const rpnOptions: RpnHeadOptions<RpnConvDepth> = { anchorsPerLocation: anchors.perLocation, objectness: config.model.rpn.objectness, convDepth: config.model.rpn.convDepth };
  return { ...components, options, channels, rpnOptions, headOptions: boxHeadOptions(config, channels) };
}

/**
 * Builds the detector of a config for `classes`. Errors name the config key (see
 * `resolveComponents`); `checkModelConfig` runs the same checks before classes are known.
 */
export function buildDetector(config: Config, classes: readonly string[]): Detector {
  const { backbone, headIsTail, pyramid, anchors, pooler, options, channels, rpnOptions, headOptions } = resolveModel(config);
  if (classes.length === 0) throw new Error('buildDetector: the dataset has no classes');
  const boxHead = boxHeadOf(config, backbone, headIsTail);
  const headParams: (params: DetectorParams) => ParamTree = headIsTail ? (params) => params.backbone : (params) => params.roi_heads.box_head;
  const maps = pyramid ? featurePyramid(backbone, pyramid, anchors) : singleMap(backbone, anchors);

  return {
    config,
    classes: [...classes],
    backbone,
    boxHead,
    headIsTail,
    pyramid,
    settings: settingsOf(config),
    // The order of draws (backbone, FPN, box head, RPN head, predictor) is part of what a seed means.
    init(rng) {
      const backboneParams = backbone.init(options, rng);
      if (!headIsTail && !pyramid) dropTailParams(backbone, options, backboneParams);
      const fpnParams = pyramid ? { fpn: initFpn(pyramid.fpn, rng) } : {};
      const boxHeadParams = boxHead.init(headOptions, rng);
      return {
        backbone: backboneParams,
        ...fpnParams,
        rpn: { head: initRpnHead(rpnOptions, channels, rng) },
        roi_heads: { box_head: boxHeadParams, box_predictor: initPredictor(boxHead.outChannels(headOptions), classes.length + 1, rng) },
      };
    },
    features: maps.features,
    rpn(params, features, imageSize) {
      const { objectness, deltas } = rpnHeadLevels(params.rpn.head, features, rpnOptions);
      return { objectness, deltas, anchors: maps.anchors(features, imageSize) };
    },
    pool: (features, boxesPerImage) =>
      tf.tidy(() => {
        const boxes = boxesPerImage.length === 1 ? boxesPerImage[0] : (tf.concat([...boxesPerImage], 0) as tf.Tensor2D);
        return pooler(features, boxes, tf.tensor1d(boxIndicesOf(boxesPerImage), 'int32'));
      }),
    boxFeatures: (params, pooled, ctx) => boxHead.apply(headParams(params), pooled, ctx),
    predict: (params, x) => predictor(params.roi_heads.box_predictor, x),
  };
}

/** Fresh parameters for `detector` (its `init`). */
export function initDetector(detector: Detector, rng: () => number): DetectorParams {
  return detector.init(rng);
}

/**
 * With a head of its own on the C4 map (`mlp`, `conv-fc`) the backbone's tail (ResNet layer4,
 * VGG fc6/fc7, MobileNet's last blocks) is never run: its parameters are dropped rather than
 * carried through training and checkpoints. A pyramid keeps them all: @lumen/backbone's
 * `features` reads the whole trunk's params.
 */
function dropTailParams(backbone: Backbone, options: BackboneOptionsInput, params: ParamTree): void {
  const tailStage = backbone.stages.length;
  const tailNames = new Set(
    backbone
      .paramSpecs(options)
      .filter((spec) => spec.stage === tailStage)
      .map((spec) => spec.name),
  );
  const prune = (node: ParamTree, prefix: string): boolean => {
    for (const [key, value] of Object.entries(node)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (value instanceof tf.Variable) {
        if (tailNames.has(name)) {
          value.dispose();
          delete node[key];
        }
      } else if (prune(value, name)) {
        delete node[key];
      }
    }
    return Object.keys(node).length === 0;
  };
  prune(params, '');
}
