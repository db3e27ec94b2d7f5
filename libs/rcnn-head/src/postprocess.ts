import { assertBoxes, batchedNmsSync, type BoxCoderWeights, clipBoxes, decodeBoxes, RCNN_BOX_CODER_WEIGHTS, removeSmallBoxes } from '@lumen/boxes';
import { assertImageSizes, assertNumber, assertOptions, assertTensor, describe, fail, isFraction, isNonNegativeInteger } from '@lumen/core';
import { reshape, tensor1d, tensor2d, tidy, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';

const f32 = Math.fround;

export interface DetectionOptions {
  /** Class scores at or below this are dropped (0.05). */
  scoreThresh?: number;
  /** Per-class NMS IoU threshold (0.5). */
  nmsThresh?: number;
  /** Detections kept per image, best first (100). */
  detectionsPerImage?: number;
  /** Boxes with a side below this (after clipping) are dropped (1e-2). */
  minSize?: number;
  /** Box coder weights of the deltas (10, 10, 5, 5). */
  weights?: BoxCoderWeights;
}

export interface Detections {
  /** [D, 4] boxes in the network input's pixels, clipped to the image, best first. */
  boxes: Tensor2D;
  /** [D] softmax probability of the detected class. */
  scores: Tensor1D;
  /** [D] int32 class ids (1..K). */
  labels: Tensor1D;
}

export const DEFAULT_DETECTION_OPTIONS: Required<DetectionOptions> = {
  scoreThresh: 0.05,
  nmsThresh: 0.5,
  detectionsPerImage: 100,
  minSize: 1e-2,
  weights: RCNN_BOX_CODER_WEIGHTS,
};

type Checked = Required<DetectionOptions> & { classes: number; counts: number[] };

function check(fn: string, classLogits: unknown, boxDeltas: unknown, proposals: unknown, imageSizes: unknown, options: unknown): Checked {
  assertTensor(fn, 'classLogits', classLogits, 2);
  assertTensor(fn, 'boxDeltas', boxDeltas, 2);
  const [r, k] = classLogits.shape;
  if (k < 2) fail(fn, `'classLogits' must be [R, K+1] with K >= 1 classes and background, but got [${classLogits.shape.join(',')}].`);
  if (boxDeltas.shape[0] !== r || boxDeltas.shape[1] !== 4 * k) {
    fail(fn, `'boxDeltas' must be [R, 4(K+1)] = [${r}, ${4 * k}] beside classLogits [${r}, ${k}], but got [${boxDeltas.shape.join(',')}].`);
  }
  if (!Array.isArray(proposals)) fail(fn, `'proposals' must be one [R_i, 4] tensor per image, but got ${describe(proposals)}.`);
  proposals.forEach((p: unknown, i) => assertBoxes(fn, `proposals[${i}]`, p));
  const counts = (proposals as Tensor2D[]).map((p) => p.shape[0]);
  const total = counts.reduce((s, c) => s + c, 0);
  if (total !== r) fail(fn, `'proposals' must hold R = ${r} rows in all (one per row of classLogits), but hold ${total}.`);
  assertImageSizes(fn, imageSizes, proposals.length);
  assertOptions(fn, options, 'scoreThresh?, nmsThresh?, detectionsPerImage?, minSize?, weights?');
  const o = { ...DEFAULT_DETECTION_OPTIONS, ...options } as Required<DetectionOptions>;
  assertNumber(fn, 'scoreThresh', o.scoreThresh, 'a number', () => true);
  assertNumber(fn, 'nmsThresh', o.nmsThresh, 'a number in [0, 1]', isFraction);
  assertNumber(fn, 'detectionsPerImage', o.detectionsPerImage, 'a non-negative integer', isNonNegativeInteger);
  assertNumber(fn, 'minSize', o.minSize, 'a non-negative number', (v) => v >= 0);
  return { ...o, classes: k, counts };
}

/** Row `from` of [*, 4] `source` into row `to` of `target`. */
function copyBox(source: ArrayLike<number>, from: number, target: Float32Array, to: number): void {
  target[4 * to] = source[4 * from];
  target[4 * to + 1] = source[4 * from + 1];
  target[4 * to + 2] = source[4 * from + 2];
  target[4 * to + 3] = source[4 * from + 3];
}

let scratch = new Float64Array(0);

/** Row-wise softmax of [R, K] logits (float64, rounded to float32 once). */
function softmaxRows(fn: string, logits: Float32Array, offset: number, rows: number, k: number): Float32Array {
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const at = (offset + r) * k;
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, logits[at + c]);
    if (Number.isNaN(max)) fail(fn, `'classLogits' must not contain NaN, but row ${offset + r} does.`);
    const exps = scratch.length >= k ? scratch : (scratch = new Float64Array(k));
    let sum = 0;
    for (let c = 0; c < k; c++) sum += exps[c] = Math.exp(logits[at + c] - max);
    for (let c = 0; c < k; c++) out[r * k + c] = exps[c] / sum;
  }
  return out;
}

function detectImage(fn: string, o: Checked, logits: Float32Array, deltas: Float32Array, proposals: Tensor2D, offset: number, [height, width]: readonly [number, number]): Detections {
  const k = o.classes;
  const rows = proposals.shape[0];
  const probabilities = softmaxRows(fn, logits, offset, rows, k);
  return tidy(() => {
    const decoded = decodeBoxes(proposals, tensor2d(deltas.subarray(offset * 4 * k, (offset + rows) * 4 * k), [rows, 4 * k]), o.weights);
    const boxes = clipBoxes(reshape(decoded, [rows * k, 4]), height, width).dataSync();
    // Every (proposal, class >= 1) pair scoring above the threshold, proposal-major as torchvision.
    const threshold = f32(o.scoreThresh);
    const capacity = rows * (k - 1);
    const candidateBoxes = new Float32Array(capacity * 4);
    const candidateScores = new Float32Array(capacity);
    const candidateLabels = new Int32Array(capacity);
    let m = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 1; c < k; c++) {
        const score = probabilities[r * k + c];
        if (!(score > threshold)) continue;
        copyBox(boxes, r * k + c, candidateBoxes, m);
        candidateScores[m] = score;
        candidateLabels[m++] = c;
      }
    }
    const large = removeSmallBoxes(tensor2d(candidateBoxes.subarray(0, 4 * m), [m, 4]), o.minSize).dataSync();
    const n = large.length;
    const keptBoxes = new Float32Array(n * 4);
    const keptScores = new Float32Array(n);
    const keptLabels = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      copyBox(candidateBoxes, large[j], keptBoxes, j);
      keptScores[j] = candidateScores[large[j]];
      keptLabels[j] = candidateLabels[large[j]];
    }
    const keep = batchedNmsSync(tensor2d(keptBoxes, [n, 4]), tensor1d(keptScores), tensor1d(keptLabels, 'int32'), o.nmsThresh, o.detectionsPerImage).dataSync();
    const outBoxes = new Float32Array(keep.length * 4);
    const outScores = new Float32Array(keep.length);
    const outLabels = new Int32Array(keep.length);
    for (let j = 0; j < keep.length; j++) {
      copyBox(keptBoxes, keep[j], outBoxes, j);
      outScores[j] = keptScores[keep[j]];
      outLabels[j] = keptLabels[keep[j]];
    }
    return { boxes: tensor2d(outBoxes, [keep.length, 4]), scores: tensor1d(outScores), labels: tensor1d(outLabels, 'int32') };
  });
}

function detectAll(fn: string, o: Checked, logits: Float32Array, deltas: Float32Array, proposals: readonly Tensor2D[], imageSizes: ReadonlyArray<readonly [number, number]>): Detections[] {
  const out: Detections[] = [];
  try {
    let offset = 0;
    proposals.forEach((p, i) => {
      out.push(detectImage(fn, o, logits, deltas, p, offset, imageSizes[i]));
      offset += p.shape[0];
    });
  } catch (error) {
    out.forEach((d) => [d.boxes, d.scores, d.labels].forEach((t) => t.dispose()));
    throw error;
  }
  return out;
}

/**
 * Final detections per image from the predictor's outputs (torchvision
 * `RoIHeads.postprocess_detections`): softmax class scores; every proposal decoded with
 * every class's deltas (weights 10, 10, 5, 5), clipped to its image's `[height, width]`;
 * background dropped; (proposal, class) pairs with score > `scoreThresh` kept; boxes with a
 * side below `minSize` dropped; NMS per class at `nmsThresh`; the `detectionsPerImage` best.
 *
 * `classLogits` [R, K+1] and `boxDeltas` [R, 4(K+1)] hold the rows of every image in
 * order; `proposals[i]` [R_i, 4] are image i's. Typed arrays throughout (@lumen/boxes);
 * `postprocessDetectionsSync` reads synchronously.
 */
export async function postprocessDetections(
  classLogits: Tensor2D,
  boxDeltas: Tensor2D,
  proposals: readonly Tensor2D[],
  imageSizes: ReadonlyArray<readonly [number, number]>,
  options: DetectionOptions = {},
): Promise<Detections[]> {
  const fn = 'postprocessDetections';
  const o = check(fn, classLogits, boxDeltas, proposals, imageSizes, options);
  const [logits, deltas] = await Promise.all([classLogits.data() as Promise<Float32Array>, boxDeltas.data() as Promise<Float32Array>]);
  return detectAll(fn, o, logits, deltas, proposals, imageSizes);
}

/** `postprocessDetections` reading its inputs synchronously (`dataSync`). */
export function postprocessDetectionsSync(
  classLogits: Tensor2D,
  boxDeltas: Tensor2D,
  proposals: readonly Tensor2D[],
  imageSizes: ReadonlyArray<readonly [number, number]>,
  options: DetectionOptions = {},
): Detections[] {
  const fn = 'postprocessDetectionsSync';
  const o = check(fn, classLogits, boxDeltas, proposals, imageSizes, options);
  return detectAll(fn, o, classLogits.dataSync() as Float32Array, boxDeltas.dataSync() as Float32Array, proposals, imageSizes);
}
