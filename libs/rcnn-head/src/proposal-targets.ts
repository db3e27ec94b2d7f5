import { assertBoxes, BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, type BoxCoderWeights, boxIou, encodeBoxes, matchBoxes, RCNN_BOX_CODER_WEIGHTS, sampleBalanced } from '@lumen/boxes';
import { assertNumber, assertOptions, assertRng, assertTensor, drawSeed, fail, isFraction, isNonNegativeInteger, type Rng } from '@lumen/core';
import { tensor1d, tensor2d, tidy, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';

export interface ProposalTargetOptions {
  /** IoU at or above which a proposal takes its ground truth's class (0.5). */
  fgIouThresh?: number;
  /** IoU below which a proposal is background (0.5); in between it is ignored. */
  bgIouThresh?: number;
  /** Proposals sampled per image (512). */
  batchSizePerImage?: number;
  /** Largest share of foreground in the sample (0.25). */
  positiveFraction?: number;
  /** Box coder weights of the regression targets (10, 10, 5, 5). */
  weights?: BoxCoderWeights;
}

export interface ProposalTargets {
  /** [S, 4] the sampled proposals (ground-truth boxes included), in their input order. */
  proposals: Tensor2D;
  /** [S] int32 class of each sampled proposal: its ground truth's label, 0 for background. */
  labels: Tensor1D;
  /** [S, 4] deltas from each foreground proposal to its ground truth; 0 in background rows. */
  regressionTargets: Tensor2D;
}

export const DEFAULT_PROPOSAL_TARGET_OPTIONS: Required<ProposalTargetOptions> = {
  fgIouThresh: 0.5,
  bgIouThresh: 0.5,
  batchSizePerImage: 512,
  positiveFraction: 0.25,
  weights: RCNN_BOX_CODER_WEIGHTS,
};

/**
 * R-CNN training samples for one image (torchvision `RoIHeads.select_training_samples`):
 * the ground-truth boxes are appended to the proposals; each matches its best ground truth
 * (IoU >= fgIouThresh: that box's class; < bgIouThresh: background 0; between: ignored; no
 * low-quality matches); a seeded balanced sample of `batchSizePerImage`, at most
 * `positiveFraction` foreground, is kept, in index order (proposals first, then ground
 * truth) as torchvision keeps it; foreground rows get class-agnostic regression targets
 * (weights 10, 10, 5, 5) — the loss reads them against the deltas of the row's class.
 * Without ground truth every proposal is background.
 *
 * `gtLabels` [G] are class ids >= 1 (int32 or float32). Runs on typed arrays (@lumen/boxes).
 */
export function sampleProposalTargets(
  proposals: Tensor2D,
  gtBoxes: Tensor2D,
  gtLabels: Tensor1D,
  options: ProposalTargetOptions,
  rng: Rng,
): ProposalTargets {
  const fn = 'sampleProposalTargets';
  assertBoxes(fn, 'proposals', proposals);
  assertBoxes(fn, 'gtBoxes', gtBoxes);
  assertTensor(fn, 'gtLabels', gtLabels, 1, ['int32', 'float32']);
  const g = gtBoxes.shape[0];
  if (gtLabels.shape[0] !== g) fail(fn, `'gtLabels' must have one label per ground-truth box (${g}), but got ${gtLabels.shape[0]}.`);
  assertOptions(fn, options, 'fgIouThresh?, bgIouThresh?, batchSizePerImage?, positiveFraction?, weights?');
  const { fgIouThresh, bgIouThresh, batchSizePerImage, positiveFraction, weights } = { ...DEFAULT_PROPOSAL_TARGET_OPTIONS, ...options };
  assertNumber(fn, 'fgIouThresh', fgIouThresh, 'a number in [0, 1]', isFraction);
  assertNumber(fn, 'bgIouThresh', bgIouThresh, `a number in [0, fgIouThresh = ${fgIouThresh}]`, (v) => v >= 0 && v <= fgIouThresh);
  assertNumber(fn, 'batchSizePerImage', batchSizePerImage, 'a non-negative integer', isNonNegativeInteger);
  assertNumber(fn, 'positiveFraction', positiveFraction, 'a number in [0, 1]', isFraction);
  assertRng(fn, rng);
  const classOf = gtLabels.dataSync();
  for (let j = 0; j < g; j++) {
    if (!(Number.isInteger(classOf[j]) && classOf[j] >= 1)) fail(fn, `'gtLabels' must be class ids >= 1 (0 is background), but label ${j} is ${classOf[j]}.`);
  }

  return tidy(() => {
    const p = proposals.shape[0];
    const n = p + g;
    const gtData = gtBoxes.dataSync();
    const boxes = new Float32Array(n * 4);
    boxes.set(proposals.dataSync());
    boxes.set(gtData, 4 * p);
    const candidates = tensor2d(boxes, [n, 4]);

    const labels = new Int32Array(n); // background without ground truth
    let matches: Int32Array | null = null;
    if (g > 0) {
      matches = matchBoxes(boxIou(gtBoxes, candidates), { highThreshold: fgIouThresh, lowThreshold: bgIouThresh }).dataSync() as Int32Array;
      // Module constants read once: an imported binding is a getter call per access.
      const below = BELOW_LOW_THRESHOLD;
      const between = BETWEEN_THRESHOLDS;
      for (let i = 0; i < n; i++) {
        const m = matches[i];
        labels[i] = m >= 0 ? classOf[m] : m === below ? 0 : m === between ? -1 : fail(fn, `unexpected match ${m}.`);
      }
    }
    const sample = sampleBalanced(tensor1d(labels, 'int32'), { batchSizePerImage, positiveFraction, seed: drawSeed(fn, rng) });
    // torchvision keeps the sample in index order: where(positive | negative).
    const picked = new Int32Array([...sample.positive.dataSync(), ...sample.negative.dataSync()]).sort();
    const s = picked.length;

    const outBoxes = new Float32Array(s * 4);
    const outLabels = new Int32Array(s);
    const foreground: number[] = [];
    for (let j = 0; j < s; j++) {
      const i = picked[j];
      outBoxes.set(boxes.subarray(4 * i, 4 * i + 4), 4 * j);
      outLabels[j] = labels[i];
      if (labels[i] > 0) foreground.push(j);
    }
    const targets = new Float32Array(s * 4);
    if (foreground.length > 0 && matches != null) {
      const f = foreground.length;
      const reference = new Float32Array(f * 4);
      const matched = new Float32Array(f * 4);
      foreground.forEach((j, q) => {
        const m = matches[picked[j]];
        reference.set(outBoxes.subarray(4 * j, 4 * j + 4), 4 * q);
        matched.set(gtData.subarray(4 * m, 4 * m + 4), 4 * q);
      });
      const encoded = encodeBoxes(tensor2d(reference, [f, 4]), tensor2d(matched, [f, 4]), weights).dataSync();
      foreground.forEach((j, q) => targets.set(encoded.subarray(4 * q, 4 * q + 4), 4 * j));
    }
    return { proposals: tensor2d(outBoxes, [s, 4]), labels: tensor1d(outLabels, 'int32'), regressionTargets: tensor2d(targets, [s, 4]) };
  });
}
