import { tensor1d, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';
import { assertNumber, assertRank, fail } from '@lumen/core';
import { assertNoNaN } from './validate';

/** A prediction whose best quality is below `lowThreshold`. */
export const BELOW_LOW_THRESHOLD = -1;
/** A prediction whose best quality is in [lowThreshold, highThreshold). */
export const BETWEEN_THRESHOLDS = -2;

export interface MatcherOptions {
  /** Qualities >= this match (RPN 0.7, R-CNN 0.5). */
  highThreshold: number;
  /** Qualities below this are BELOW_LOW_THRESHOLD; [low, high) are BETWEEN_THRESHOLDS. */
  lowThreshold: number;
  /**
   * Also match each ground truth's best predictions (ties included) even below
   * `highThreshold`, to that prediction's best ground truth (torchvision
   * `set_low_quality_matches_`). Default false.
   */
  allowLowQualityMatches?: boolean;
}

/**
 * Assigns every prediction (column) the ground truth (row) it matches best in a quality
 * matrix [M ground truths, N predictions], e.g. `boxIou(gt, anchors)` — torchvision
 * `Matcher`. Returns int32 [N]: the matched row, or BELOW_LOW_THRESHOLD (-1) /
 * BETWEEN_THRESHOLDS (-2). Among equal qualities the lower row wins (torch's `max`).
 *
 * One difference: with no ground truth (M = 0) every prediction is BELOW_LOW_THRESHOLD,
 * which is what torchvision's RPN and R-CNN do for an image without boxes before they
 * would call the Matcher (which raises). With allowLowQualityMatches, a ground truth that
 * overlaps nothing (best quality 0) matches every prediction of quality 0 to it, exactly
 * as torchvision does — ground-truth boxes must have an area.
 */
export function matchBoxes(quality: Tensor2D, options: MatcherOptions): Tensor1D {
  const fn = 'matchBoxes';
  assertRank(fn, 'quality', quality, 2);
  if (options == null || typeof options !== 'object') fail(fn, `'options' must be { highThreshold, lowThreshold, allowLowQualityMatches? }.`);
  const { highThreshold: high, lowThreshold: low, allowLowQualityMatches = false } = options;
  assertNumber(fn, 'highThreshold', high, 'a number', () => true);
  assertNumber(fn, 'lowThreshold', low, `a number <= highThreshold (${high})`, (v) => v <= high);
  if (typeof allowLowQualityMatches !== 'boolean') fail(fn, `'allowLowQualityMatches' must be a boolean, but got ${typeof allowLowQualityMatches}.`);

  const [m, n] = quality.shape;
  const q = quality.dataSync();
  assertNoNaN(fn, 'quality', q);
  const matches = new Int32Array(n).fill(BELOW_LOW_THRESHOLD);
  if (m === 0) return tensor1d(matches, 'int32');

  // Best row per column (first maximum), then thresholds.
  const best = new Int32Array(n);
  const bestValue = new Float32Array(n);
  bestValue.set(q.subarray(0, n));
  for (let row = 1; row < m; row++) {
    const offset = row * n;
    for (let col = 0; col < n; col++) {
      if (q[offset + col] > bestValue[col]) {
        bestValue[col] = q[offset + col];
        best[col] = row;
      }
    }
  }
  // torch compares a float32 tensor with the thresholds in float32: IoU 0.7f >= 0.7.
  const highF32 = Math.fround(high);
  const lowF32 = Math.fround(low);
  for (let col = 0; col < n; col++) {
    const v = bestValue[col];
    matches[col] = v >= highF32 ? best[col] : v >= lowF32 ? BETWEEN_THRESHOLDS : BELOW_LOW_THRESHOLD;
  }

  if (allowLowQualityMatches) {
    for (let row = 0; row < m; row++) {
      const offset = row * n;
      let highest = -Infinity;
      for (let col = 0; col < n; col++) highest = Math.max(highest, q[offset + col]);
      for (let col = 0; col < n; col++) if (q[offset + col] === highest) matches[col] = best[col];
    }
  }
  return tensor1d(matches, 'int32');
}
