import { assertBoxes, BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, boxIou, encodeBoxes, matchBoxes, RPN_BOX_CODER_WEIGHTS, sampleBalanced } from '@lumen/boxes';
import { assertNumber, assertOptions, assertRng, drawSeed, fail, isFraction, isNonNegativeInteger, type Rng } from '@lumen/core';
import { tensor1d, tensor2d, tidy, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';
import { anchorsTensor } from './anchors-input';

export interface AnchorTargetOptions {
  /** IoU at or above which an anchor is foreground (0.7). */
  fgIouThresh?: number;
  /** IoU below which an anchor is background (0.3); in between it is ignored. */
  bgIouThresh?: number;
  /** Anchors sampled per image (256). */
  batchSizePerImage?: number;
  /** Largest share of positives in the sample (0.5). */
  positiveFraction?: number;
}

export interface AnchorTargets {
  /** int32 [K]: 1 sampled foreground, 0 sampled background, -1 ignored or not sampled. */
  labels: Tensor1D;
  /**
   * [K, 4]: deltas (weights 1, 1, 1, 1) that move each foreground anchor onto its matched
   * ground truth; 0 in every row whose label is not 1.
   */
  regressionTargets: Tensor2D;
}

export const DEFAULT_ANCHOR_TARGET_OPTIONS: Required<AnchorTargetOptions> = {
  fgIouThresh: 0.7,
  bgIouThresh: 0.3,
  batchSizePerImage: 256,
  positiveFraction: 0.5,
};

/**
 * RPN training targets for one image (torchvision `RegionProposalNetwork.
 * assign_targets_to_anchors` followed by its `fg_bg_sampler`): each anchor matches its
 * best ground truth (IoU >= fgIouThresh foreground, < bgIouThresh background, between
 * ignored; every ground truth also claims its best anchors — low-quality matches), then a
 * seeded balanced sample of `batchSizePerImage` anchors, at most `positiveFraction` of
 * them positive, is kept. An image without ground truth (`gtBoxes` [0, 4]) has only
 * background: its sample is all negatives.
 *
 * Runs on typed arrays (@lumen/boxes); nothing here is differentiable.
 */
export function assignAnchorTargets(
  anchors: Tensor2D | Float32Array,
  gtBoxes: Tensor2D,
  options: AnchorTargetOptions,
  rng: Rng,
): AnchorTargets {
  const fn = 'assignAnchorTargets';
  assertBoxes(fn, 'gtBoxes', gtBoxes);
  assertOptions(fn, options, 'fgIouThresh?, bgIouThresh?, batchSizePerImage?, positiveFraction?');
  const { fgIouThresh, bgIouThresh, batchSizePerImage, positiveFraction } = { ...DEFAULT_ANCHOR_TARGET_OPTIONS, ...options };
  assertNumber(fn, 'fgIouThresh', fgIouThresh, 'a number in [0, 1]', isFraction);
  assertNumber(fn, 'bgIouThresh', bgIouThresh, `a number in [0, fgIouThresh = ${fgIouThresh}]`, (v) => v >= 0 && v <= fgIouThresh);
  assertNumber(fn, 'batchSizePerImage', batchSizePerImage, 'a non-negative integer', isNonNegativeInteger);
  assertNumber(fn, 'positiveFraction', positiveFraction, 'a number in [0, 1]', isFraction);
  assertRng(fn, rng);

  return tidy(() => {
    const anchorBoxes = anchorsTensor(fn, anchors);
    const k = anchorBoxes.shape[0];
    const g = gtBoxes.shape[0];

    // Matcher labels: 1 foreground, 0 background, -1 between the thresholds.
    const candidates = new Int32Array(k);
    let matches: Int32Array | null = null;
    if (g > 0) {
      const matched = matchBoxes(boxIou(gtBoxes, anchorBoxes), { highThreshold: fgIouThresh, lowThreshold: bgIouThresh, allowLowQualityMatches: true });
      matches = matched.dataSync() as Int32Array;
      // Module constants read once: an imported binding is a getter call per access.
      const below = BELOW_LOW_THRESHOLD;
      const between = BETWEEN_THRESHOLDS;
      for (let i = 0; i < k; i++) {
        const m = matches[i];
        candidates[i] = m >= 0 ? 1 : m === below ? 0 : m === between ? -1 : fail(fn, `unexpected match ${m}.`);
      }
    }
    const sample = sampleBalanced(tensor1d(candidates, 'int32'), { batchSizePerImage, positiveFraction, seed: drawSeed(fn, rng) });
    const positive = sample.positive.dataSync();
    const negative = sample.negative.dataSync();

    const labels = new Int32Array(k).fill(-1);
    for (let j = 0; j < negative.length; j++) labels[negative[j]] = 0;
    for (let j = 0; j < positive.length; j++) labels[positive[j]] = 1;

    // Deltas only where they are used: the sampled positives.
    const targets = new Float32Array(k * 4);
    if (positive.length > 0 && matches != null) {
      const anchorData = anchorBoxes.dataSync();
      const gtData = gtBoxes.dataSync();
      const p = positive.length;
      const reference = new Float32Array(p * 4);
      const matchedGt = new Float32Array(p * 4);
      for (let j = 0; j < p; j++) {
        const i = positive[j];
        reference.set(anchorData.subarray(4 * i, 4 * i + 4), 4 * j);
        matchedGt.set(gtData.subarray(4 * matches[i], 4 * matches[i] + 4), 4 * j);
      }
      const encoded = encodeBoxes(tensor2d(reference, [p, 4]), tensor2d(matchedGt, [p, 4]), RPN_BOX_CODER_WEIGHTS).dataSync();
      for (let j = 0; j < p; j++) targets.set(encoded.subarray(4 * j, 4 * j + 4), 4 * positive[j]);
    }
    return { labels: tensor1d(labels, 'int32'), regressionTargets: tensor2d(targets, [k, 4]) };
  });
}
