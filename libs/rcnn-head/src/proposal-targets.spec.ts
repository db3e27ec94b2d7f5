import { seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { sampleProposalTargets, type ProposalTargets } from './proposal-targets';
import { loadFixture, relativeError } from './testing/fixtures';

interface TargetCase {
  name: string;
  fgIouThresh: number;
  bgIouThresh: number;
  proposals: number[];
  gtBoxes: number[];
  gtLabels: number[];
  sampledProposals: number[];
  labels: number[];
  regressionTargets: number[];
}
const cases = loadFixture<{ cases: TargetCase[] }>('proposal-targets.json').cases;

const boxes = (values: number[]) => tf.tensor2d(values, [values.length / 4, 4]);
const disposeTargets = (t: ProposalTargets) => tf.dispose([t.proposals, t.labels, t.regressionTargets]);

describe('sampleProposalTargets against torchvision select_training_samples (every candidate sampled)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s: sampled proposals, labels and regression targets', (_, c) => {
    const before = tf.memory().numTensors;
    const proposals = boxes(c.proposals);
    const gt = boxes(c.gtBoxes);
    const gtLabels = tf.tensor1d(c.gtLabels, 'int32');
    const t = sampleProposalTargets(proposals, gt, gtLabels, { fgIouThresh: c.fgIouThresh, bgIouThresh: c.bgIouThresh }, seededRandom(1));
    expect(t.labels.dtype).toBe('int32');
    expect(Array.from(t.labels.dataSync())).toEqual(c.labels);
    expect(relativeError(t.proposals.dataSync(), c.sampledProposals)).toBe(0);
    expect(relativeError(t.regressionTargets.dataSync(), c.regressionTargets)).toBeLessThan(1e-4);
    tf.dispose([proposals, gt, gtLabels]);
    disposeTargets(t);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('sampleProposalTargets sampling', () => {
  const rng = seededRandom(9);
  const many = new Float32Array(2000 * 4);
  const gtValues = [
    [20, 30, 140, 160],
    [300, 40, 420, 200],
    [150, 250, 380, 400],
  ];
  // Most proposals jittered around the ground truth: far more than 128 foreground.
  for (let i = 0; i < 2000; i++) {
    const [x1, y1, x2, y2] = gtValues[i % 3];
    const jitter = i < 1500 ? 8 : 200;
    const dx = (rng() - 0.5) * jitter;
    const dy = (rng() - 0.5) * jitter;
    many.set([x1 + dx, y1 + dy, x2 + dx + (rng() - 0.5) * 10, y2 + dy + (rng() - 0.5) * 10], 4 * i);
  }
  const proposals = tf.tensor2d(many, [2000, 4]);
  const gt = tf.tensor2d(gtValues);
  const gtLabels = tf.tensor1d([3, 1, 2], 'int32');
  afterAll(() => tf.dispose([proposals, gt, gtLabels]));

  it('keeps 512 with at most 25% foreground, in index order, reproducibly', () => {
    const before = tf.memory().numTensors;
    const a = sampleProposalTargets(proposals, gt, gtLabels, {}, seededRandom(1));
    const b = sampleProposalTargets(proposals, gt, gtLabels, {}, seededRandom(1));
    const c = sampleProposalTargets(proposals, gt, gtLabels, {}, seededRandom(2));
    const labels = Array.from(a.labels.dataSync());
    expect(labels).toHaveLength(512);
    expect(labels.filter((v) => v > 0)).toHaveLength(128);
    expect(Array.from(b.proposals.dataSync())).toEqual(Array.from(a.proposals.dataSync()));
    expect(Array.from(c.proposals.dataSync())).not.toEqual(Array.from(a.proposals.dataSync()));
    // Foreground rows carry their ground truth's class and a target; background rows 0.
    const reg = a.regressionTargets.dataSync();
    const stray = labels.filter((v, i) => v === 0 && [0, 1, 2, 3].some((k) => reg[4 * i + k] !== 0));
    expect(stray).toEqual([]);
    expect(new Set(labels.filter((v) => v > 0))).toEqual(new Set([1, 2, 3]));
    [a, b, c].forEach(disposeTargets);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('appends the ground truth: with no proposals it samples the ground-truth boxes themselves', () => {
    const before = tf.memory().numTensors;
    const none = tf.zeros<tf.Rank.R2>([0, 4]);
    const t = sampleProposalTargets(none, gt, gtLabels, {}, seededRandom(1));
    expect(Array.from(t.proposals.dataSync())).toEqual(gtValues.flat());
    expect(Array.from(t.labels.dataSync())).toEqual([3, 1, 2]);
    expect(Array.from(t.regressionTargets.dataSync()).every((v) => v === 0)).toBe(true);
    none.dispose();
    disposeTargets(t);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('accepts float32 labels and honours the weights option', () => {
    const before = tf.memory().numTensors;
    const floatLabels = tf.tensor1d([3, 1, 2]);
    const few = tf.tensor2d([[22, 28, 150, 160]]);
    const a = sampleProposalTargets(few, gt, floatLabels, {}, seededRandom(1));
    const b = sampleProposalTargets(few, gt, floatLabels, { weights: [1, 1, 1, 1] }, seededRandom(1));
    expect(a.labels.dtype).toBe('int32');
    expect(Array.from(a.labels.dataSync())).toEqual([3, 3, 1, 2]);
    const ra = a.regressionTargets.dataSync();
    const rb = b.regressionTargets.dataSync();
    expect(ra[0]).toBeCloseTo(10 * rb[0], 5);
    expect(ra[2]).toBeCloseTo(5 * rb[2], 5);
    tf.dispose([floatLabels, few]);
    [a, b].forEach(disposeTargets);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the bad argument', () => {
    const before = tf.memory().numTensors;
    const zeroLabel = tf.tensor1d([3, 0, 2], 'int32');
    const short = tf.tensor1d([3, 1], 'int32');
    expect(() => sampleProposalTargets(proposals, gt, zeroLabel, {}, rng)).toThrow(
      "Error in sampleProposalTargets: 'gtLabels' must be class ids >= 1 (0 is background), but label 1 is 0.",
    );
    expect(() => sampleProposalTargets(proposals, gt, short, {}, rng)).toThrow("'gtLabels' must have one label per ground-truth box (3), but got 2.");
    expect(() => sampleProposalTargets(proposals, gt, gtLabels, { positiveFraction: 2 }, rng)).toThrow("'positiveFraction' must be a number in [0, 1], but got 2.");
    expect(() => sampleProposalTargets(proposals, gt, gtLabels, { bgIouThresh: 0.6 }, rng)).toThrow("'bgIouThresh' must be a number in [0, fgIouThresh = 0.5], but got 0.6.");
    tf.dispose([zeroLabel, short]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
