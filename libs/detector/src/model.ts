import { gridAnchors, referenceAnchors } from '@lumen/anchors';
import type { Backbone, BackboneParams, ForwardContext } from '@lumen/backbone';
import type { Config } from '@lumen/config';
import {
  getBoxHead,
  initPredictor,
  predictor,
  type BoxHead,
  type DetectionOptions,
  type PredictorOutputs,
  type PredictorParams,
  type ProposalTargetOptions,
} from '@lumen/rcnn-head';
import { initRpnHead, rpnHead, type AnchorTargetOptions, type ProposalOptions, type RpnHeadOptions, type RpnParams } from '@lumen/rpn';
import * as tf from '@tensorflow/tfjs-core';
import { resolveComponents } from './components';
import type { ParamTree } from './params';

/**
 * Parameters by torchvision's FasterRCNN module paths (docs/architecture.md §2). `box_head` holds the MLP
 * head's layers, or nothing when the head is the backbone's tail (its weights are
 * `backbone.layer4.*`, `backbone.classifier.*`: pretrained files bring them).
 */
export type DetectorParams = {
  backbone: BackboneParams;
  rpn: { head: RpnParams };
  roi_heads: { box_head: ParamTree; box_predictor: PredictorParams };
};

/** The maps the RPN and RoI pooling read: one per pyramid level, finest first (one for C4). */
export type FeatureMaps = tf.Tensor4D[];

/** The RPN's outputs over the feature maps and the anchors they are laid out on ([H*W*A, 4] flat). */
export type RpnOutputs = {
  objectness: tf.Tensor4D;
  deltas: tf.Tensor4D;
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
  /** Whether the box head is the backbone's tail (C4) rather than layers of its own (`mlp`). */
  readonly headIsTail: boolean;
  readonly settings: DetectorSettings;
  /** Fresh parameters: torchvision's initialisation, drawn from `rng`. */
  init(rng: () => number): DetectorParams;
  /** Normalised images [N, H, W, 3] -> the feature maps. */
  features(params: DetectorParams, images: tf.Tensor4D, ctx: ForwardContext): FeatureMaps;
  /** The RPN head over the maps, and its anchors. */
  rpn(params: DetectorParams, features: FeatureMaps): RpnOutputs;
  /** Pooled RoI features [R, s, s, C] of boxes (input pixels) given per image. */
  pool(features: FeatureMaps, boxesPerImage: readonly tf.Tensor2D[]): tf.Tensor4D;
  /** The box head: pooled RoIs -> [R, D]. */
  boxFeatures(params: DetectorParams, pooled: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D;
  /** The predictor: [R, D] -> class logits [R, K+1] and per-class deltas [R, 4(K+1)]. */
  predict(params: DetectorParams, x: tf.Tensor2D): PredictorOutputs;
}

/** The config's `model.backbone` as @lumen/backbone options. */
export function backboneOptions(config: Config) {
  const b = config.model.backbone;
  return { batchNorm: b.batchNorm, freezeAt: b.freezeAt, tailStride: b.tailStride, width: b.width, dropout: b.dropout };
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

/** Grid anchors over a map of the given size, computed once per size. */
function anchorGrid(sizes: readonly number[], ratios: readonly number[], stride: number): (height: number, width: number) => Float32Array {
  const cells = tf.tidy(() => referenceAnchors([...sizes], [...ratios]).dataSync() as Float32Array);
  const cache = new Map<string, Float32Array>();
  return (height, width) => {
    const key = `${height}x${width}`;
    let anchors = cache.get(key);
    if (!anchors) {
      anchors = tf.tidy(() => gridAnchors(tf.tensor2d(cells, [cells.length / 4, 4]), height, width, stride).dataSync() as Float32Array);
      if (cache.size > 64) cache.clear();
      cache.set(key, anchors);
    }
    return anchors;
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

/**
 * Builds the detector of a config for `classes`. Errors name the config key (see
 * `resolveComponents`); `checkModelConfig` runs the same checks before classes are known.
 */
export function buildDetector(config: Config, classes: readonly string[]): Detector {
  const { backbone, headIsTail, pooler } = resolveComponents(config);
  if (classes.length === 0) throw new Error('buildDetector: the dataset has no classes');
  const { model } = config;
  const options = backboneOptions(config);
  const boxHead = headIsTail
    ? getBoxHead<ParamTree>(model.rcnn.head, {
        // The tail's weights are the backbone's own: the head itself has none.
        init: () => ({}),
        apply: (params, pooled, ctx) => backbone.tail(params as BackboneParams, pooled, ctx),
        outChannels: backbone.tailChannels(options),
      })
    : (getBoxHead(model.rcnn.head) as BoxHead<ParamTree>);
  const headParams: (params: DetectorParams) => ParamTree = headIsTail ? (params) => params.backbone : (params) => params.roi_heads.box_head;
  const channels = backbone.bodyChannels(options);
  const headOptions = { inChannels: channels, poolSize: [model.roiPool.size, model.roiPool.size] as [number, number], hidden: model.rcnn.hidden };
  const rpnOptions: RpnHeadOptions = { anchorsPerLocation: model.anchors.sizes.length * model.anchors.ratios.length, objectness: model.rpn.objectness };
  const anchors = anchorGrid(model.anchors.sizes, model.anchors.ratios, backbone.bodyStride);

  return {
    config,
    classes: [...classes],
    backbone,
    boxHead,
    headIsTail,
    settings: settingsOf(config),
    // The order of draws (backbone, box head, RPN head, predictor) is part of what a seed means.
    init(rng) {
      const backboneParams = backbone.init(options, rng);
      if (!headIsTail) dropTailParams(backbone, options, backboneParams);
      const boxHeadParams = boxHead.init(headOptions, rng);
      return {
        backbone: backboneParams,
        rpn: { head: initRpnHead(rpnOptions, channels, rng) },
        roi_heads: { box_head: boxHeadParams, box_predictor: initPredictor(boxHead.outChannels(headOptions), classes.length + 1, rng) },
      };
    },
    features: (params, images, ctx) => [backbone.body(params.backbone, images, ctx)],
    rpn(params, [map]) {
      const { objectness, deltas } = rpnHead(params.rpn.head, map, rpnOptions);
      return { objectness, deltas, anchors: anchors(map.shape[1], map.shape[2]) };
    },
    pool: ([map], boxesPerImage) =>
      tf.tidy(() => {
        const boxes = boxesPerImage.length === 1 ? boxesPerImage[0] : (tf.concat([...boxesPerImage], 0) as tf.Tensor2D);
        return pooler(map, boxes, tf.tensor1d(boxIndicesOf(boxesPerImage), 'int32'));
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
 * With an `mlp` head the backbone's tail (ResNet layer4, VGG fc6/fc7, MobileNet's last blocks) is
 * never run: its parameters are dropped rather than carried through training and checkpoints.
 */
function dropTailParams(backbone: Backbone, options: ReturnType<typeof backboneOptions>, params: ParamTree): void {
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
