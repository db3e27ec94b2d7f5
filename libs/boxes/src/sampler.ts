import { tensor1d, type Tensor1D } from '@tensorflow/tfjs-core';
import { assertNumber, assertRank, fail, seededRandom } from '@lumen/core';
import { assertNoNaN } from './validate';

export interface SamplerOptions {
  /** Examples drawn per image (RPN 256, R-CNN 512). */
  batchSizePerImage: number;
  /** Share of the batch that may be positive (RPN 0.5, R-CNN 0.25). */
  positiveFraction: number;
  /** Seeds the draw: the same labels and seed give the same sample. */
  seed: number;
}

export interface BalancedSample {
  /** int32 indices of the sampled positives (labels >= 1), ascending. */
  positive: Tensor1D;
  /** int32 indices of the sampled negatives (labels == 0), ascending. */
  negative: Tensor1D;
}

/**
 * Draws a batch of positives (label >= 1) and negatives (label 0) from one image's labels,
 * ignoring -1 — torchvision `BalancedPositiveNegativeSampler`: at most
 * `floor(batchSizePerImage * positiveFraction)` positives, negatives filling the rest of
 * the batch, each chosen uniformly without replacement. torchvision returns masks; the
 * indices here are what its callers then take from them. Its draw uses torch's RNG, so
 * the same seed does not pick the same boxes as torchvision — only the same counts.
 */
export function sampleBalanced(labels: Tensor1D, options: SamplerOptions): BalancedSample {
  const fn = 'sampleBalanced';
  assertRank(fn, 'labels', labels, 1, ['int32', 'float32']);
  if (options == null || typeof options !== 'object') fail(fn, `'options' must be { batchSizePerImage, positiveFraction, seed }.`);
  const { batchSizePerImage, positiveFraction, seed } = options;
  assertNumber(fn, 'batchSizePerImage', batchSizePerImage, 'a non-negative integer', (v) => Number.isInteger(v) && v >= 0);
  assertNumber(fn, 'positiveFraction', positiveFraction, 'a number in [0, 1]', (v) => v >= 0 && v <= 1);
  assertNumber(fn, 'seed', seed, 'an integer in [0, 2^32)', (v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32);

  const values = labels.dataSync();
  assertNoNaN(fn, 'labels', values);
  let positives = 0;
  let negatives = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] >= 1) positives++;
    else if (values[i] === 0) negatives++;
  }
  const positive = new Int32Array(positives);
  const negative = new Int32Array(negatives);
  for (let i = 0, p = 0, q = 0; i < values.length; i++) {
    if (values[i] >= 1) positive[p++] = i;
    else if (values[i] === 0) negative[q++] = i;
  }

  const positiveCount = Math.min(positives, Math.floor(batchSizePerImage * positiveFraction));
  const negativeCount = Math.min(negatives, batchSizePerImage - positiveCount);
  const random = seededRandom(seed);
  return {
    positive: tensor1d(chooseSorted(positive, positiveCount, random), 'int32'),
    negative: tensor1d(chooseSorted(negative, negativeCount, random), 'int32'),
  };
}

/** `count` distinct items of `items` chosen uniformly (partial Fisher–Yates), ascending. */
function chooseSorted(items: Int32Array, count: number, random: () => number): Int32Array {
  const pool = items.slice();
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    const swap = pool[i];
    pool[i] = pool[j];
    pool[j] = swap;
  }
  return pool.subarray(0, count).sort();
}
