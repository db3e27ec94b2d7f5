import * as tf from '@tensorflow/tfjs-core';
import { BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, matchBoxes } from './matcher';
import { loadFixture } from './testing/fixtures';

interface MatcherSet {
  name: string;
  quality: number[][];
  cases: { high: number; low: number; allowLowQualityMatches: boolean; matches: number[] }[];
}
const { sets } = loadFixture<{ sets: MatcherSet[] }>('matcher.json');

const match = (quality: number[][], high: number, low: number, allow = false) =>
  Array.from(matchBoxes(tf.tensor2d(quality), { highThreshold: high, lowThreshold: low, allowLowQualityMatches: allow }).dataSync());

describe('matchBoxes against torchvision Matcher', () => {
  describe.each(sets.map((s) => [s.name, s] as const))('%s', (_, set) => {
    it.each(set.cases.map((c) => [c.high, c.low, c.allowLowQualityMatches, c] as const))(
      'high %p, low %p, low-quality matches %p',
      (high, low, allow, c) => {
        const out = matchBoxes(tf.tensor2d(set.quality), { highThreshold: high, lowThreshold: low, allowLowQualityMatches: allow });
        expect(out.dtype).toBe('int32');
        expect(Array.from(out.dataSync())).toEqual(c.matches);
      },
    );
  });

  it('labels -1 below low, -2 between, the best row at or above high (in float32, as torch)', () => {
    const quality = [
      [0.1, 0.3, 0.69, 0.7, 0.2],
      [0.2, 0.1, 0.5, 0.1, 0.9],
    ];
    expect(match(quality, 0.7, 0.3)).toEqual([BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, BETWEEN_THRESHOLDS, 0, 1]);
  });

  it('gives each ground truth its best predictions, ties included, when allowed', () => {
    const quality = [
      [0.4, 0.4, 0.1, 0.0],
      [0.0, 0.2, 0.6, 0.65],
    ];
    // Row 0's best (0.4) is shared by columns 0 and 1; row 1's best is column 3.
    expect(match(quality, 0.7, 0.3, true)).toEqual([0, 0, BETWEEN_THRESHOLDS, 1]);
    expect(match(quality, 0.7, 0.3, false)).toEqual([BETWEEN_THRESHOLDS, BETWEEN_THRESHOLDS, BETWEEN_THRESHOLDS, BETWEEN_THRESHOLDS]);
  });

  it('prefers the lower row among equal qualities', () => {
    expect(match([[0.8, 0.5], [0.8, 0.5]], 0.5, 0.3)).toEqual([0, 0]);
  });

  it('matches nothing when there is no ground truth, and handles no predictions', () => {
    expect(Array.from(matchBoxes(tf.zeros([0, 3]), { highThreshold: 0.7, lowThreshold: 0.3, allowLowQualityMatches: true }).dataSync())).toEqual([-1, -1, -1]);
    expect(matchBoxes(tf.zeros([2, 0]), { highThreshold: 0.7, lowThreshold: 0.3 }).shape).toEqual([0]);
  });

  it('names bad arguments', () => {
    const q = tf.tensor2d([[0.5]]);
    expect(() => matchBoxes(q, { highThreshold: 0.3, lowThreshold: 0.7 })).toThrow("Error in matchBoxes: 'lowThreshold' must be a number <= highThreshold (0.3), but got 0.7.");
    expect(() => matchBoxes(q, { highThreshold: NaN, lowThreshold: 0.3 })).toThrow("Error in matchBoxes: 'highThreshold' must be a number, but got NaN.");
    expect(() => matchBoxes(tf.tensor2d([[0.5, NaN]]), { highThreshold: 0.7, lowThreshold: 0.3 })).toThrow("Error in matchBoxes: 'quality' must not contain NaN, but index 1 is NaN.");
    expect(() => matchBoxes(tf.zeros([3]) as unknown as tf.Tensor2D, { highThreshold: 0.7, lowThreshold: 0.3 })).toThrow("Error in matchBoxes: 'quality' must be a rank-2 tensor, but got a float32 tensor of shape [3].");
  });
});
