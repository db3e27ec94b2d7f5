import { seededRandom } from '@lumen/core';
import { postprocessDetections, rcnnLoss, sampleProposalTargets } from '@lumen/rcnn-head';
import { assignAnchorTargets, generateProposalsSync, rpnLoss } from '@lumen/rpn';
import * as tf from '@tensorflow/tfjs-core';
import type { Detector, DetectorParams, Mode, RpnOutputs } from './model';
import type { ImageTargets } from './targets';
import { resizeBoxes, type ImageBatch } from './transform';

/** torchvision's loss names (FasterRCNN's training output). */
export const LOSS_NAMES = ['loss_objectness', 'loss_rpn_box_reg', 'loss_classifier', 'loss_box_reg'] as const;
export type LossName = (typeof LOSS_NAMES)[number];
export type Losses<T> = Record<LossName, T>;

/** The batch's padded [height, width], which anchors are laid out for. */
function paddedSize(batch: ImageBatch): [number, number] {
  return [batch.images.shape[1], batch.images.shape[2]];
}

/** Proposals per image for the RPN's outputs (no gradient: they read values). */
function proposalsFor(detector: Detector, rpn: RpnOutputs, batch: ImageBatch, mode: Mode) {
  return generateProposalsSync(rpn.objectness, rpn.deltas, rpn.anchors, batch.sizes, detector.settings.proposals[mode]);
}

/**
 * The four training losses of one batch (torchvision's FasterRCNN in training mode), as
 * scalars inside the caller's gradient tape. Target assignment, proposals and sampling read
 * tensor values synchronously and are constants for the gradient (torchvision detaches them).
 */
export function trainingLosses(detector: Detector, params: DetectorParams, batch: ImageBatch, targets: readonly ImageTargets[], rng: () => number): Losses<tf.Scalar> {
  const { settings } = detector;
  if (targets.length !== batch.sizes.length) throw new Error(`trainingLosses: ${batch.sizes.length} images but ${targets.length} targets`);
  const gtBoxes = targets.map((t) => tf.tensor2d(t.boxes, [t.boxes.length / 4, 4]));
  const gtLabels = targets.map((t) => tf.tensor1d(t.labels, 'int32'));
  try {
    const ctx = { training: true, rng };
    const features = detector.features(params, batch.images, ctx);
    const rpnOut = detector.rpn(params, features, paddedSize(batch));
    const anchorTargets = gtBoxes.map((boxes) => assignAnchorTargets(rpnOut.anchors, boxes, settings.anchorTargets, rng));
    const rpn = rpnLoss(rpnOut.objectness, rpnOut.deltas, anchorTargets);
    tf.dispose(anchorTargets.flatMap((t) => [t.labels, t.regressionTargets]));

    const proposals = proposalsFor(detector, rpnOut, batch, 'train');
    const samples = proposals.map((p, n) => sampleProposalTargets(p.boxes, gtBoxes[n], gtLabels[n], settings.proposalTargets, rng));
    tf.dispose(proposals.flatMap((p) => [p.boxes, p.scores]));
    const pooled = detector.pool(features, samples.map((s) => s.proposals));
    const x = detector.boxFeatures(params, pooled, ctx);
    const { classLogits, boxDeltas } = detector.predict(params, x);
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

/**
 * Per image of the batch: the size of the original picture. Boxes are mapped back from the
 * image's size in the batch (`batch.sizes`) by torchvision's `resize_boxes`, a ratio per
 * axis: exact for both resizes, since each stretches every axis to floor(side * scale).
 */
export interface ImageScale {
  originalWidth: number;
  originalHeight: number;
}

/**
 * Inference (torchvision's FasterRCNN in eval mode): test-time proposals, box head,
 * per-class decode, score threshold, NMS and top-k; boxes mapped back to original pixels and
 * clipped to the original image.
 */
export async function detectBatch(detector: Detector, params: DetectorParams, batch: ImageBatch, scales: readonly ImageScale[]): Promise<Detection[]> {
  const ctx = { training: false, rng: seededRandom(0) };
  // The anchors stay out of tidy's result: tidy walks every element of a typed array it returns.
  let anchors: Float32Array = new Float32Array(0);
  const { features, objectness, deltas } = tf.tidy(() => {
    const maps = detector.features(params, batch.images, ctx);
    const out = detector.rpn(params, maps, paddedSize(batch));
    anchors = out.anchors;
    return { features: maps, objectness: out.objectness, deltas: out.deltas };
  });
  const proposals = proposalsFor(detector, { objectness, deltas, anchors }, batch, 'test');
  tf.dispose([...objectness, ...deltas]);
  if (proposals.every((p) => p.boxes.shape[0] === 0)) {
    // Nothing proposed (every box fell off the image or below minSize): nothing to pool.
    tf.dispose([features, ...proposals.flatMap((p) => [p.boxes, p.scores])]);
    return scales.map(() => ({ boxes: [], scores: [], labels: [] }));
  }
  const head = tf.tidy(() => {
    const pooled = detector.pool(features, proposals.map((p) => p.boxes));
    const out = detector.predict(params, detector.boxFeatures(params, pooled, ctx));
    return { classLogits: out.classLogits, boxDeltas: out.boxDeltas };
  });
  tf.dispose(features);
  const results = await postprocessDetections(head.classLogits, head.boxDeltas, proposals.map((p) => p.boxes), batch.sizes, detector.settings.detections);
  tf.dispose([head.classLogits, head.boxDeltas, ...proposals.flatMap((p) => [p.boxes, p.scores])]);
  return results.map((r, n) => {
    const { originalWidth, originalHeight } = scales[n];
    // torchvision's postprocess; the clip only catches a float32 rounding past the edge.
    const boxes = resizeBoxes(r.boxes.dataSync(), batch.sizes[n], [originalHeight, originalWidth]);
    const out: Detection = { boxes: [], scores: Array.from(r.scores.dataSync()), labels: Array.from(r.labels.dataSync()) };
    for (let i = 0; i < out.scores.length; i++) {
      out.boxes.push([
        Math.min(originalWidth, Math.max(0, boxes[4 * i])),
        Math.min(originalHeight, Math.max(0, boxes[4 * i + 1])),
        Math.min(originalWidth, Math.max(0, boxes[4 * i + 2])),
        Math.min(originalHeight, Math.max(0, boxes[4 * i + 3])),
      ]);
    }
    tf.dispose([r.boxes, r.scores, r.labels]);
    return out;
  });
}

