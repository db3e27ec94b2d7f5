import * as tf from '@tensorflow/tfjs-core';
import { rcnnLoss } from './loss';
import { loadFixture, relativeError } from './testing/fixtures';

interface LossCase {
  name: string;
  rois: number;
  numClasses: number;
  classLogits: number[];
  boxDeltas: number[];
  labels: number[];
  regressionTargets: number[];
  classifierLoss: number;
  boxLoss: number;
  gradLogits: number[];
  gradDeltas: number[];
}
const cases = loadFixture<{ cases: LossCase[] }>('loss.json').cases;

describe('rcnnLoss against torchvision fastrcnn_loss', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s: both losses and their gradients', (_, c) => {
    const before = tf.memory().numTensors;
    const { rois: r, numClasses: k } = c;
    const logits = tf.tensor2d(c.classLogits, [r, k]);
    const deltas = tf.tensor2d(c.boxDeltas, [r, 4 * k]);
    const labels = tf.tensor1d(c.labels, 'int32');
    const targets = tf.tensor2d(c.regressionTargets, [r, 4]);
    // As one tensor each, and split per image (first 2 rows, the rest).
    const split = { labels: [tf.tensor1d(c.labels.slice(0, 2), 'int32'), tf.tensor1d(c.labels.slice(2), 'int32')], targets: tf.split(targets, [2, r - 2]) as tf.Tensor2D[] };
    for (const [l, t] of [[labels, targets], [split.labels, split.targets]] as const) {
      const loss = rcnnLoss(logits, deltas, l, t);
      expect(Math.abs(loss.classifier.dataSync()[0] - c.classifierLoss)).toBeLessThan(1e-5);
      expect(Math.abs(loss.boxReg.dataSync()[0] - c.boxLoss)).toBeLessThan(1e-5);
      tf.dispose([loss.classifier, loss.boxReg]);
    }
    const gradLogits = tf.grad((x: tf.Tensor) => rcnnLoss(x as tf.Tensor2D, deltas, labels, targets).classifier)(logits);
    const gradDeltas = tf.grad((x: tf.Tensor) => rcnnLoss(logits, x as tf.Tensor2D, labels, targets).boxReg)(deltas);
    expect(relativeError(gradLogits.dataSync(), c.gradLogits)).toBeLessThan(1e-5);
    expect(relativeError(gradDeltas.dataSync(), c.gradDeltas)).toBeLessThan(1e-5);
    tf.dispose([logits, deltas, labels, targets, gradLogits, gradDeltas, ...split.labels, ...split.targets]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is 0 for no samples (torchvision: NaN)', () => {
    const before = tf.memory().numTensors;
    const logits = tf.zeros<tf.Rank.R2>([0, 3]);
    const deltas = tf.zeros<tf.Rank.R2>([0, 12]);
    const labels = tf.zeros<tf.Rank.R1>([0], 'int32');
    const targets = tf.zeros<tf.Rank.R2>([0, 4]);
    const loss = rcnnLoss(logits, deltas, labels, targets);
    expect([loss.classifier.dataSync()[0], loss.boxReg.dataSync()[0]]).toEqual([0, 0]);
    tf.dispose([logits, deltas, labels, targets, loss.classifier, loss.boxReg]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the bad argument', () => {
    const before = tf.memory().numTensors;
    const logits = tf.zeros<tf.Rank.R2>([2, 3]);
    const deltas = tf.zeros<tf.Rank.R2>([2, 12]);
    const labels = tf.tensor1d([0, 3], 'int32');
    const good = tf.tensor1d([0, 2], 'int32');
    const targets = tf.zeros<tf.Rank.R2>([2, 4]);
    expect(() => rcnnLoss(logits, deltas, labels, targets)).toThrow("Error in rcnnLoss: 'labels' must be class ids in [0, 2], but label 1 is 3.");
    expect(() => rcnnLoss(logits, logits, good, targets)).toThrow("'boxDeltas' must be [R, 4(K+1)] = [2, 12] beside classLogits [2, 3], but got [2,3].");
    expect(() => rcnnLoss(logits, deltas, [good, good], targets)).toThrow("'labels' must hold one class per row of classLogits (2), but hold 4.");
    expect(() => rcnnLoss(logits, deltas, good, [targets, targets])).toThrow("'regressionTargets' must be [2, 4] in all, but got [2,4] + [2,4].");
    tf.dispose([logits, deltas, labels, good, targets]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
