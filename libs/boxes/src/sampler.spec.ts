import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { sampleBalanced } from './sampler';

function sample(labels: number[], batchSizePerImage: number, positiveFraction: number, seed: number) {
  const { positive, negative } = sampleBalanced(tf.tensor1d(labels, 'int32'), { batchSizePerImage, positiveFraction, seed });
  expect(positive.dtype).toBe('int32');
  expect(negative.dtype).toBe('int32');
  return { positive: Array.from(positive.dataSync()), negative: Array.from(negative.dataSync()) };
}

describe('sampleBalanced (torchvision BalancedPositiveNegativeSampler)', () => {
  it('draws the counts torchvision draws, from the right labels, without repeats, ascending', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 400 }),
        fc.integer({ min: 0, max: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(),
        (labels, batch, fraction, seed) => {
          const { positive, negative } = sample(labels, batch, fraction, seed);
          const positives = labels.filter((l) => l >= 1).length;
          const negatives = labels.filter((l) => l === 0).length;
          const wantPositive = Math.min(positives, Math.floor(batch * fraction));
          expect(positive).toHaveLength(wantPositive);
          expect(negative).toHaveLength(Math.min(negatives, batch - wantPositive));
          expect(positive.every((i) => labels[i] >= 1)).toBe(true);
          expect(negative.every((i) => labels[i] === 0)).toBe(true);
          for (const picked of [positive, negative]) {
            expect(picked.every((v, k) => k === 0 || picked[k - 1] < v)).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('fills the batch with negatives when positives are scarce (RPN: 256, 50%)', () => {
    const labels = Array.from({ length: 1000 }, (_, i) => (i % 100 === 0 ? 1 : i % 3 === 0 ? -1 : 0));
    const { positive, negative } = sample(labels, 256, 0.5, 1);
    expect(positive).toEqual(labels.flatMap((l, i) => (l === 1 ? [i] : [])));
    expect(negative).toHaveLength(246);
  });

  it('is reproducible from the seed, and the seed matters', () => {
    const labels = Array.from({ length: 500 }, (_, i) => (i % 7 === 0 ? 1 : 0));
    expect(sample(labels, 64, 0.25, 42)).toEqual(sample(labels, 64, 0.25, 42));
    expect(sample(labels, 64, 0.25, 42)).not.toEqual(sample(labels, 64, 0.25, 43));
  });

  it('picks every candidate about equally often over many seeds', () => {
    const labels = Array.from({ length: 50 }, () => 0);
    const counts = new Array<number>(50).fill(0);
    const seeds = 2000;
    for (let seed = 0; seed < seeds; seed++) for (const i of sample(labels, 10, 0, seed).negative) counts[i]++;
    // Each index is drawn with probability 10/50: 400 expected, sd ~18.
    expect(Math.min(...counts)).toBeGreaterThan(320);
    expect(Math.max(...counts)).toBeLessThan(480);
  });

  it('names bad arguments', () => {
    const labels = tf.tensor1d([1, 0, -1], 'int32');
    expect(() => sampleBalanced(labels, { batchSizePerImage: 2.5, positiveFraction: 0.5, seed: 0 })).toThrow("Error in sampleBalanced: 'batchSizePerImage' must be a non-negative integer, but got 2.5.");
    expect(() => sampleBalanced(labels, { batchSizePerImage: 2, positiveFraction: 1.5, seed: 0 })).toThrow("Error in sampleBalanced: 'positiveFraction' must be a number in [0, 1], but got 1.5.");
    expect(() => sampleBalanced(labels, { batchSizePerImage: 2, positiveFraction: 0.5, seed: -1 })).toThrow("Error in sampleBalanced: 'seed' must be an integer in [0, 2^32), but got -1.");
    expect(() => sampleBalanced(tf.tensor1d([1, NaN]), { batchSizePerImage: 2, positiveFraction: 0.5, seed: 0 })).toThrow("Error in sampleBalanced: 'labels' must not contain NaN, but index 1 is NaN.");
    expect(() => sampleBalanced(tf.zeros([2, 2]) as unknown as tf.Tensor1D, { batchSizePerImage: 2, positiveFraction: 0.5, seed: 0 })).toThrow("Error in sampleBalanced: 'labels' must be a rank-1 tensor, but got a float32 tensor of shape [2,2].");
  });
});
