import { seededRandom } from '@lumen/boxes';
import { postprocessDetections, predictor, rcnnLoss, sampleProposalTargets } from '@lumen/rcnn-head';
import { cropPool, roiAlign } from '@lumen/roi-pool';
import { assignAnchorTargets, generateProposalsSync, rpnHead, rpnLoss } from '@lumen/rpn';
import * as tf from '@tensorflow/tfjs-core';
import { anchorsFor, backboneOptions, type Detector, type DetectorParams } from './model';
import type { ParamTree } from './params';
import type { ImageTargets } from './targets';
import type { ImageBatch } from './transform';

/** torchvision's loss names (FasterRCNN's training output). */
export const LOSS_NAMES = ['loss_objectness', 'loss_rpn_box_reg', 'loss_classifier', 'loss_box_reg'] as const;
export type LossName = (typeof LOSS_NAMES)[number];
export type Losses<T> = Record<LossName, T>;

type Mode = 'train' | 'test';

function featuresAndRpn(detector: Detector, params: DetectorParams, batch: ImageBatch, training: boolean, rng: () => number) {
  const features = detector.backbone.body(params.backbone, batch.images, { training, rng });
  const { objectness, deltas } = rpnHead((params.rpn as ParamTree).head as never, features, detector.rpnOptions);
  const [, height, width] = features.shape;
  return { features, objectness, deltas, anchors: anchorsFor(detector, height, width) };
}

function proposalsFor(detector: Detector, objectness: tf.Tensor4D, deltas: tf.Tensor4D, anchors: Float32Array, batch: ImageBatch, mode: Mode) {
  const rpn = detector.config.model.rpn;
  return generateProposalsSync(objectness, deltas, anchors, batch.sizes, {
    preNmsTopN: rpn.preNmsTopN[mode],
    postNmsTopN: rpn.postNmsTopN[mode],
    nmsThresh: rpn.nmsThresh,
    minSize: rpn.minSize,
    scoreThresh: rpn.scoreThresh,
  });
}

/** Pooled RoI features [R, s, s, C] of boxes given per image (RoIAlign or crop-pool, by config). */
function poolRois(detector: Detector, features: tf.Tensor4D, boxesPerImage: tf.Tensor2D[]): tf.Tensor4D {
  const pool = detector.config.model.roiPool;
  const counts = boxesPerImage.map((b) => b.shape[0]);
  const indices = new Int32Array(counts.reduce((a, b) => a + b, 0));
  let offset = 0;
  counts.forEach((count, image) => {
    indices.fill(image, offset, offset + count);
    offset += count;
  });
  return tf.tidy(() => {
    const boxes = boxesPerImage.length === 1 ? boxesPerImage[0] : (tf.concat(boxesPerImage, 0) as tf.Tensor2D);
    const boxIndices = tf.tensor1d(indices, 'int32');
    const size: [number, number] = [pool.size, pool.size];
    const scale = 1 / detector.backbone.bodyStride;
    return pool.mode === 'align'
      ? roiAlign(features, boxes, boxIndices, size, scale, pool.samplingRatio, pool.aligned)
      : cropPool(features, boxes, boxIndices, size, scale);
  });
}

/** The box head's features [R, D]: the backbone's tail (C4) or the head's own layers. */
function boxFeatures(detector: Detector, params: DetectorParams, pooled: tf.Tensor4D, training: boolean, rng: () => number): tf.Tensor2D {
  if (detector.config.model.rcnn.head === 'mlp') {
    return detector.boxHead.apply((params.roi_heads as ParamTree).box_head as ParamTree, pooled, { training });
  }
  return detector.backbone.tail(params.backbone, pooled, { training, rng });
}

/**
 * The four training losses of one batch (torchvision's FasterRCNN in training mode), as
 * scalars inside the caller's gradient tape. Target assignment, proposals and sampling read
 * tensor values synchronously and are constants for the gradient (torchvision detaches them).
 */
export function trainingLosses(detector: Detector, params: DetectorParams, batch: ImageBatch, targets: readonly ImageTargets[], rng: () => number): Losses<tf.Scalar> {
  const { model } = detector.config;
  if (targets.length !== batch.sizes.length) throw new Error(`trainingLosses: ${batch.sizes.length} images but ${targets.length} targets`);
  const gtBoxes = targets.map((t) => tf.tensor2d(t.boxes, [t.boxes.length / 4, 4]));
  const gtLabels = targets.map((t) => tf.tensor1d(t.labels, 'int32'));
  try {
    const { features, objectness, deltas, anchors } = featuresAndRpn(detector, params, batch, true, rng);
    const anchorTargets = gtBoxes.map((boxes) =>
      assignAnchorTargets(anchors, boxes, {
        fgIouThresh: model.rpn.fgIouThresh,
        bgIouThresh: model.rpn.bgIouThresh,
        batchSizePerImage: model.rpn.batchSizePerImage,
        positiveFraction: model.rpn.positiveFraction,
      }, rng),
    );
    const rpn = rpnLoss(objectness, deltas, anchorTargets);
    tf.dispose(anchorTargets.flatMap((t) => [t.labels, t.regressionTargets]));

    const proposals = proposalsFor(detector, objectness, deltas, anchors, batch, 'train');
    const samples = proposals.map((p, n) =>
      sampleProposalTargets(p.boxes, gtBoxes[n], gtLabels[n], {
        fgIouThresh: model.rcnn.fgIouThresh,
        bgIouThresh: model.rcnn.bgIouThresh,
        batchSizePerImage: model.rcnn.batchSizePerImage,
        positiveFraction: model.rcnn.positiveFraction,
        weights: model.rcnn.boxWeights,
      }, rng),
    );
    tf.dispose(proposals.flatMap((p) => [p.boxes, p.scores]));
    const pooled = poolRois(detector, features, samples.map((s) => s.proposals));
    const x = boxFeatures(detector, params, pooled, true, rng);
    const { classLogits, boxDeltas } = predictor((params.roi_heads as ParamTree).box_predictor as never, x);
    const labels = tf.concat(samples.map((s) => s.labels)) as tf.Tensor1D;
    const regression = tf.concat(samples.map((s) => s.regressionTargets)) as tf.Tensor2D;
    const rcnn = rcnnLoss(classLogits, boxDeltas, labels, regression);
    tf.dispose([labels, regression, ...samples.flatMap((s) => [s.proposals, s.labels, s.regressionTargets])]);
    return { loss_objectness: rpn.objectness, loss_rpn_box_reg: rpn.boxReg, loss_classifier: rcnn.classifier, loss_box_reg: rcnn.boxReg };
  } finally {
    tf.dispose([...gtBoxes, ...gtLabels]);
  }
}

export interface Detection {
  /** [x1, y1, x2, y2] per object, in the pixels of the image given (before resizing). */
  boxes: number[][];
  scores: number[];
  /** Class labels 1..N. */
  labels: number[];
}

/** Per image of the batch: how its network input relates to the original picture. */
export interface ImageScale {
  /** Resized / original (boxes are divided by it). */
  scale: number;
  originalWidth: number;
  originalHeight: number;
}

/**
 * Inference (torchvision's FasterRCNN in eval mode): test-time proposals, box head,
 * per-class decode, score threshold, NMS and top-k; boxes mapped back to original pixels and
 * clipped to the original image.
 */
export async function detectBatch(detector: Detector, params: DetectorParams, batch: ImageBatch, scales: readonly ImageScale[]): Promise<Detection[]> {
  const { rcnn } = detector.config.model;
  const rng = seededRandom(0);
  const { features, objectness, deltas, anchors } = tf.tidy(() => featuresAndRpn(detector, params, batch, false, rng));
  const proposals = proposalsFor(detector, objectness, deltas, anchors, batch, 'test');
  tf.dispose([objectness, deltas]);
  if (proposals.every((p) => p.boxes.shape[0] === 0)) {
    // Nothing proposed (every box fell off the image or below minSize): nothing to pool.
    tf.dispose([features, ...proposals.flatMap((p) => [p.boxes, p.scores])]);
    return scales.map(() => ({ boxes: [], scores: [], labels: [] }));
  }
  const head = tf.tidy(() => {
    const pooled = poolRois(detector, features, proposals.map((p) => p.boxes));
    const out = predictor((params.roi_heads as ParamTree).box_predictor as never, boxFeatures(detector, params, pooled, false, rng));
    return { classLogits: out.classLogits, boxDeltas: out.boxDeltas };
  });
  features.dispose();
  const results = await postprocessDetections(head.classLogits, head.boxDeltas, proposals.map((p) => p.boxes), batch.sizes, {
    scoreThresh: rcnn.scoreThresh,
    nmsThresh: rcnn.nmsThresh,
    detectionsPerImage: rcnn.detectionsPerImage,
    minSize: rcnn.minSize,
    weights: rcnn.boxWeights,
  });
  tf.dispose([head.classLogits, head.boxDeltas, ...proposals.flatMap((p) => [p.boxes, p.scores])]);
  return results.map((r, n) => {
    const { scale, originalWidth, originalHeight } = scales[n];
    const boxes = r.boxes.dataSync();
    const out: Detection = { boxes: [], scores: Array.from(r.scores.dataSync()), labels: Array.from(r.labels.dataSync()) };
    for (let i = 0; i < out.scores.length; i++) {
      out.boxes.push([
        Math.min(originalWidth, Math.max(0, boxes[4 * i] / scale)),
        Math.min(originalHeight, Math.max(0, boxes[4 * i + 1] / scale)),
        Math.min(originalWidth, Math.max(0, boxes[4 * i + 2] / scale)),
        Math.min(originalHeight, Math.max(0, boxes[4 * i + 3] / scale)),
      ]);
    }
    tf.dispose([r.boxes, r.scores, r.labels]);
    return out;
  });
}

export { backboneOptions };
