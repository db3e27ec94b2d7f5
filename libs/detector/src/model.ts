import { gridAnchors, referenceAnchors } from '@lumen/anchors';
import { BACKBONE_NAMES, getBackbone, type Backbone } from '@lumen/backbone';
import type { Config } from '@lumen/config';
import { getBoxHead, initPredictor, type BoxHead } from '@lumen/rcnn-head';
import { initRpnHead, type RpnHeadOptions } from '@lumen/rpn';
import * as tf from '@tensorflow/tfjs-core';
import type { ParamTree } from './params';

/**
 * A Faster R-CNN assembled from a config: the chosen components and what they need to know
 * about each other. Holds no weights — params are a separate nested record (DESIGN.md §2):
 * `backbone.*`, `rpn.head.*`, `roi_heads.box_head.*`, `roi_heads.box_predictor.*`, the module
 * paths of torchvision's FasterRCNN.
 */
export interface Detector {
  config: Config;
  /** Class names, labels 1..N in this order (0 is background). */
  classes: string[];
  backbone: Backbone;
  boxHead: BoxHead;
  rpnOptions: RpnHeadOptions;
  /** Reference anchors [A, 4] (sizes x ratios), kept for the detector's lifetime. */
  cellAnchors: Float32Array;
  /** Grid anchors per feature-map size, computed once. */
  anchorCache: Map<string, Float32Array>;
}

export interface DetectorParams extends ParamTree {
  backbone: ParamTree;
  rpn: ParamTree;
  roi_heads: ParamTree;
}

/** The config's `model.backbone` as @lumen/backbone options. */
export function backboneOptions(config: Config) {
  const b = config.model.backbone;
  return { batchNorm: b.batchNorm, freezeAt: b.freezeAt, tailStride: b.tailStride, width: b.width, dropout: b.dropout };
}

/** Heads that run the backbone's own tail over the pooled RoIs (the C4 design). */
function usesBackboneTail(config: Config): boolean {
  return config.model.rcnn.head !== 'mlp';
}

/**
 * Checks the combination and builds the detector. Errors name the config key:
 * an unknown backbone, `vgg-fc` without VGG, a `resnet-tail` on VGG.
 */
export function buildDetector(config: Config, classes: readonly string[]): Detector {
  const { model } = config;
  if (!BACKBONE_NAMES.includes(model.backbone.name)) {
    throw new Error(`model.backbone.name: unknown backbone '${model.backbone.name}': expected one of ${BACKBONE_NAMES.join(', ')}`);
  }
  if (classes.length === 0) throw new Error('buildDetector: the dataset has no classes');
  const backbone = getBackbone(model.backbone.name);
  const isVgg = backbone.name.startsWith('vgg');
  if (model.rcnn.head === 'vgg-fc' && !isVgg) {
    throw new Error(`model.rcnn.head: 'vgg-fc' is VGG's fc6/fc7 and needs a VGG backbone (model.backbone.name is '${backbone.name}'); use 'resnet-tail' or 'mlp'`);
  }
  if (model.rcnn.head === 'resnet-tail' && isVgg) {
    throw new Error(`model.rcnn.head: 'resnet-tail' runs the backbone's tail; VGG's tail is 'vgg-fc'`);
  }
  if (model.rcnn.head === 'vgg-fc' && model.roiPool.size !== 7) {
    throw new Error(`model.roiPool.size: VGG's fc6 takes 7x7 RoIs, but the config pools ${model.roiPool.size}x${model.roiPool.size}`);
  }
  const options = backboneOptions(config);
  const tail = usesBackboneTail(config)
    ? {
        // The tail's weights are the backbone's own (`backbone.layer4.*`, `backbone.classifier.*`):
        // pretrained files bring them, so the box head itself has no params.
        init: () => ({}),
        apply: (_: ParamTree, pooled: tf.Tensor4D, ctx: { training: boolean }) => {
          throw new Error(`internal: the backbone tail is applied by the detector (${pooled.shape}, ${ctx.training})`);
        },
        outChannels: backbone.tailChannels(options),
      }
    : undefined;
  const boxHead = getBoxHead(model.rcnn.head, tail);
  const rpnOptions: RpnHeadOptions = { anchorsPerLocation: model.anchors.sizes.length * model.anchors.ratios.length, objectness: model.rpn.objectness };
  const cellAnchors = tf.tidy(() => referenceAnchors(model.anchors.sizes, model.anchors.ratios).dataSync() as Float32Array);
  return { config, classes: [...classes], backbone, boxHead, rpnOptions, cellAnchors, anchorCache: new Map() };
}

/** Grid anchors [H*W*A, 4] for a stride-16 feature map of `height` x `width`. */
export function anchorsFor(detector: Detector, height: number, width: number): Float32Array {
  const key = `${height}x${width}`;
  let anchors = detector.anchorCache.get(key);
  if (!anchors) {
    const cells = detector.cellAnchors;
    anchors = tf.tidy(() => {
      const reference = tf.tensor2d(cells, [cells.length / 4, 4]);
      return gridAnchors(reference, height, width, detector.backbone.bodyStride).dataSync() as Float32Array;
    });
    if (detector.anchorCache.size > 64) detector.anchorCache.clear();
    detector.anchorCache.set(key, anchors);
  }
  return anchors;
}

/** Fresh parameters: torchvision's initialisation, drawn from `rng`. */
export function initDetector(detector: Detector, rng: () => number): DetectorParams {
  const { config, backbone, boxHead } = detector;
  const options = backboneOptions(config);
  const backboneParams = backbone.init(options, rng) as ParamTree;
  if (!usesBackboneTail(config)) dropTailParams(detector, backboneParams);
  const channels = backbone.bodyChannels(options);
  const poolSize: [number, number] = [config.model.roiPool.size, config.model.roiPool.size];
  const headOptions = { inChannels: channels, poolSize, hidden: config.model.rcnn.hidden };
  const boxHeadParams = boxHead.init(headOptions, rng) as ParamTree;
  const headOut = usesBackboneTail(config) ? backbone.tailChannels(options) : boxHead.outChannels(headOptions);
  return {
    backbone: backboneParams,
    rpn: { head: initRpnHead(detector.rpnOptions, channels, rng) as unknown as ParamTree },
    roi_heads: {
      box_head: boxHeadParams,
      box_predictor: initPredictor(headOut, detector.classes.length + 1, rng) as unknown as ParamTree,
    },
  };
}

/**
 * With an `mlp` head the backbone's tail (ResNet layer4, VGG fc6/fc7, MobileNet's last blocks) is never
 * run: its parameters are dropped rather than carried through training and checkpoints.
 */
function dropTailParams(detector: Detector, params: ParamTree): void {
  const { backbone, config } = detector;
  const tailStage = backbone.stages.length;
  const tailNames = new Set(
    backbone
      .paramSpecs(backboneOptions(config))
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
