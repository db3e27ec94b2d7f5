import { gridAnchors, referenceAnchors } from '@lumen/anchors';
import { seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { assignAnchorTargets } from './anchor-targets';
import { loadFixture, relativeError } from './testing/fixtures';

interface TargetCase {
  name: string;
  anchors: number[];
  gtBoxes: number[];
  labels: number[];
  regressionTargets: number[];
}
const cases = loadFixture<{ cases: TargetCase[] }>('anchor-targets.json').cases;

function count(values: ArrayLike<number>, v: number): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === v) n++;
  return n;
}

describe('assignAnchorTargets against torchvision assign_targets_to_anchors (every candidate sampled)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s: labels exactly, regression targets of the positives', (_, c) => {
    const before = tf.memory().numTensors;
    const anchors = tf.tensor2d(c.anchors, [c.anchors.length / 4, 4]);
    const gt = tf.tensor2d(c.gtBoxes, [c.gtBoxes.length / 4, 4]);
    const t = assignAnchorTargets(anchors, gt, {}, seededRandom(1));
    expect(t.labels.dtype).toBe('int32');
    expect(Array.from(t.labels.dataSync())).toEqual(c.labels);
    expect(t.regressionTargets.shape).toEqual([c.labels.length, 4]);
    expect(relativeError(t.regressionTargets.dataSync(), c.regressionTargets)).toBeLessThan(1e-4);
    // The same from a Float32Array of anchors.
    const fromArray = assignAnchorTargets(new Float32Array(c.anchors), gt, {}, seededRandom(1));
    expect(Array.from(fromArray.labels.dataSync())).toEqual(c.labels);
    tf.dispose([anchors, gt, t.labels, t.regressionTargets, fromArray.labels, fromArray.regressionTargets]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('assignAnchorTargets sampling', () => {
  const reference = referenceAnchors([32, 64, 128], [0.5, 1, 2]);
  const anchors = gridAnchors(reference, 20, 25, 16); // 4 500 anchors
  const gt = tf.tensor2d([
    [10, 20, 120, 140],
    [200, 40, 330, 150],
    [60, 180, 300, 310],
    [320, 200, 390, 300],
  ]);
  afterAll(() => tf.dispose([reference, anchors, gt]));

  it('keeps at most batchSizePerImage·positiveFraction positives and fills the batch with negatives', () => {
    const before = tf.memory().numTensors;
    for (const [batch, fraction] of [[256, 0.5], [64, 0.25], [10, 1]] as const) {
      const t = assignAnchorTargets(anchors, gt, { batchSizePerImage: batch, positiveFraction: fraction }, seededRandom(batch));
      const labels = t.labels.dataSync();
      const all = assignAnchorTargets(anchors, gt, { batchSizePerImage: 1e6, positiveFraction: 1 }, seededRandom(0));
      const allPositives = count(all.labels.dataSync(), 1);
      expect(count(labels, 1)).toBe(Math.min(allPositives, Math.floor(batch * fraction)));
      expect(count(labels, 1) + count(labels, 0)).toBe(batch);
      // Sampled anchors are a subset of the candidates, with their labels.
      const candidates = all.labels.dataSync();
      const relabelled = Array.from(labels).filter((v, i) => v >= 0 && candidates[i] !== v);
      expect(relabelled).toEqual([]);
      // Deltas only on sampled positives.
      const reg = t.regressionTargets.dataSync();
      const stray = Array.from(reg).filter((v, i) => v !== 0 && labels[i >> 2] !== 1);
      expect(stray).toEqual([]);
      tf.dispose([t.labels, t.regressionTargets, all.labels, all.regressionTargets]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is reproducible from the generator; another seed draws another sample', () => {
    const draw = (seed: number) => {
      const t = assignAnchorTargets(anchors, gt, {}, seededRandom(seed));
      const labels = Array.from(t.labels.dataSync());
      tf.dispose([t.labels, t.regressionTargets]);
      return labels;
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });

  it('gives an image without ground truth a sample of negatives only', () => {
    const before = tf.memory().numTensors;
    const empty = tf.zeros<tf.Rank.R2>([0, 4]);
    const t = assignAnchorTargets(anchors, empty, {}, seededRandom(2));
    const labels = t.labels.dataSync();
    expect(count(labels, 0)).toBe(256);
    expect(count(labels, 1)).toBe(0);
    expect(count(labels, -1)).toBe(4500 - 256);
    expect(Array.from(t.regressionTargets.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([empty, t.labels, t.regressionTargets]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('never samples anchors between the thresholds', () => {
    const t = assignAnchorTargets(anchors, gt, { batchSizePerImage: 1e6, positiveFraction: 1 }, seededRandom(0));
    const loose = assignAnchorTargets(anchors, gt, { batchSizePerImage: 1e6, positiveFraction: 1, bgIouThresh: 0.7 }, seededRandom(0));
    const ignored = count(t.labels.dataSync(), -1);
    expect(ignored).toBeGreaterThan(0);
    expect(count(loose.labels.dataSync(), -1)).toBe(0);
    expect(count(loose.labels.dataSync(), 0)).toBe(count(t.labels.dataSync(), 0) + ignored);
    tf.dispose([t.labels, t.regressionTargets, loose.labels, loose.regressionTargets]);
  });
});

describe('argument checks', () => {
  const anchors = tf.tensor2d([[0, 0, 10, 10]]);
  const gt = tf.tensor2d([[0, 0, 8, 8]]);
  afterAll(() => tf.dispose([anchors, gt]));
  const rng = seededRandom(1);

  it('names the bad argument', () => {
    const before = tf.memory().numTensors;
    const flat = tf.tensor1d([1, 2, 3, 4]);
    expect(() => assignAnchorTargets(anchors, gt, { fgIouThresh: 1.5 }, rng)).toThrow(
      "Error in assignAnchorTargets: 'fgIouThresh' must be a number in [0, 1], but got 1.5.",
    );
    expect(() => assignAnchorTargets(anchors, gt, { bgIouThresh: 0.8 }, rng)).toThrow("'bgIouThresh' must be a number in [0, fgIouThresh = 0.7], but got 0.8.");
    expect(() => assignAnchorTargets(anchors, gt, { batchSizePerImage: -1 }, rng)).toThrow("'batchSizePerImage' must be a non-negative integer, but got -1.");
    expect(() => assignAnchorTargets(anchors, gt, {}, 5 as unknown as () => number)).toThrow("Error in assignAnchorTargets: 'rng' must be a function");
    expect(() => assignAnchorTargets(new Float32Array(6), gt, {}, rng)).toThrow("'anchors' must hold [x1, y1, x2, y2] rows (a length divisible by 4)");
    expect(() => assignAnchorTargets(anchors, flat as unknown as tf.Tensor2D, {}, rng)).toThrow(
      "Error in assignAnchorTargets: 'gtBoxes' must be boxes of shape [N, 4]",
    );
    flat.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
