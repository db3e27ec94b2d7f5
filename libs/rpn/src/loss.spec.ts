import * as tf from '@tensorflow/tfjs-core';
import { rpnLoss, type RpnTargets } from './loss';
import { loadFixture, relativeError } from './testing/fixtures';

interface LossCase {
  name: string;
  batch: number;
  height: number;
  width: number;
  anchorsPerLocation: number;
  objectness: number[];
  deltas: number[];
  labels: number[];
  regressionTargets: number[];
  objectnessLoss: number;
  boxLoss: number;
  gradObjectness: number[];
  gradDeltas: number[];
}
const cases = loadFixture<{ cases: LossCase[] }>('loss.json').cases;

function inputs(c: LossCase) {
  const { batch: n, height: h, width: w, anchorsPerLocation: a } = c;
  const k = h * w * a;
  const perImage: RpnTargets[] = Array.from({ length: n }, (_, i) => ({
    labels: tf.tensor1d(c.labels.slice(i * k, (i + 1) * k), 'int32'),
    regressionTargets: tf.tensor2d(c.regressionTargets.slice(4 * i * k, 4 * (i + 1) * k), [k, 4]),
  }));
  return {
    objectness: tf.tensor4d(c.objectness, [n, h, w, a]),
    deltas: tf.tensor4d(c.deltas, [n, h, w, 4 * a]),
    perImage,
    batched: { labels: tf.tensor1d(c.labels, 'float32'), regressionTargets: tf.tensor2d(c.regressionTargets, [n * k, 4]) },
  };
}

function disposeInputs(x: ReturnType<typeof inputs>): void {
  tf.dispose([x.objectness, x.deltas, x.batched.labels, x.batched.regressionTargets]);
  x.perImage.forEach((t) => tf.dispose([t.labels, t.regressionTargets]));
}

describe('rpnLoss against torchvision RegionProposalNetwork.compute_loss', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s: both losses and their gradients', (_, c) => {
    const before = tf.memory().numTensors;
    const x = inputs(c);
    for (const targets of [x.perImage, x.batched]) {
      const loss = rpnLoss(x.objectness, x.deltas, targets);
      expect(Math.abs(loss.objectness.dataSync()[0] - c.objectnessLoss)).toBeLessThan(1e-5);
      expect(Math.abs(loss.boxReg.dataSync()[0] - c.boxLoss)).toBeLessThan(1e-5);
      tf.dispose([loss.objectness, loss.boxReg]);
    }
    // Each loss depends on one head output, so the gradient of the sum splits in two.
    const gradObjectness = tf.grad((o: tf.Tensor) => rpnLoss(o as tf.Tensor4D, x.deltas, x.perImage).objectness)(x.objectness);
    const gradDeltas = tf.grad((d: tf.Tensor) => rpnLoss(x.objectness, d as tf.Tensor4D, x.perImage).boxReg)(x.deltas);
    expect(gradObjectness.shape).toEqual(x.objectness.shape);
    expect(gradDeltas.shape).toEqual(x.deltas.shape);
    expect(relativeError(gradObjectness.dataSync(), c.gradObjectness)).toBeLessThan(1e-5);
    expect(relativeError(gradDeltas.dataSync(), c.gradDeltas)).toBeLessThan(1e-5);
    tf.dispose([gradObjectness, gradDeltas]);
    disposeInputs(x);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the softmax head the 2-class cross-entropy: [0, x] logits equal the sigmoid loss of x', () => {
    const before = tf.memory().numTensors;
    const c = cases[0];
    const x = inputs(c);
    const pairs = tf.tidy(() => {
      const [n, h, w, a] = x.objectness.shape;
      return tf.reshape(tf.stack([tf.zerosLike(x.objectness), x.objectness], 4), [n, h, w, 2 * a]) as tf.Tensor4D;
    });
    const loss = rpnLoss(pairs, x.deltas, x.perImage);
    expect(Math.abs(loss.objectness.dataSync()[0] - c.objectnessLoss)).toBeLessThan(1e-5);
    expect(Math.abs(loss.boxReg.dataSync()[0] - c.boxLoss)).toBeLessThan(1e-5);
    const gradient = tf.grad((o: tf.Tensor) => rpnLoss(o as tf.Tensor4D, x.deltas, x.perImage).objectness)(pairs);
    const grad = gradient.dataSync();
    const fg = grad.filter((_, i) => i % 2 === 1);
    const bg = grad.filter((_, i) => i % 2 === 0);
    expect(relativeError(fg, c.gradObjectness)).toBeLessThan(1e-5);
    expect(relativeError(bg, c.gradObjectness.map((v) => -v))).toBeLessThan(1e-5);
    tf.dispose([pairs, gradient, loss.objectness, loss.boxReg]);
    disposeInputs(x);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is 0 with a zero gradient when no anchor is sampled (torchvision: NaN)', () => {
    const before = tf.memory().numTensors;
    const o = tf.randomNormal<tf.Rank.R4>([1, 2, 2, 3], 0, 1, 'float32', 1);
    const d = tf.randomNormal<tf.Rank.R4>([1, 2, 2, 12], 0, 1, 'float32', 2);
    const targets = { labels: tf.fill([12], -1, 'int32') as tf.Tensor1D, regressionTargets: tf.zeros<tf.Rank.R2>([12, 4]) };
    const loss = rpnLoss(o, d, targets);
    expect([loss.objectness.dataSync()[0], loss.boxReg.dataSync()[0]]).toEqual([0, 0]);
    const g = tf.grad((x: tf.Tensor) => rpnLoss(x as tf.Tensor4D, d, targets).objectness)(o);
    expect(Array.from(g.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([o, d, targets.labels, targets.regressionTargets, loss.objectness, loss.boxReg, g]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('argument checks', () => {
  it('names the bad argument', () => {
    const before = tf.memory().numTensors;
    const o = tf.zeros<tf.Rank.R4>([2, 1, 1, 3]);
    const d = tf.zeros<tf.Rank.R4>([2, 1, 1, 12]);
    const t = { labels: tf.zeros<tf.Rank.R1>([3], 'int32'), regressionTargets: tf.zeros<tf.Rank.R2>([3, 4]) };
    const bad = { labels: tf.tensor1d([0, 2, 1], 'int32'), regressionTargets: tf.zeros<tf.Rank.R2>([3, 4]) };
    const short = { labels: tf.zeros<tf.Rank.R1>([3], 'int32'), regressionTargets: tf.zeros<tf.Rank.R2>([2, 4]) };
    expect(() => rpnLoss(o, d, [t])).toThrow("Error in rpnLoss: 'targets' must cover the 6 anchors of the batch (N·H·W·A), but got 3.");
    expect(() => rpnLoss(o, d, [t, bad])).toThrow("Error in rpnLoss: 'targets[1].labels' must be 1, 0 or -1, but label 1 is 2.");
    expect(() => rpnLoss(o, d, [t, short])).toThrow("'targets[1].regressionTargets' must be [3, 4] beside 3 labels, but got [2,4].");
    expect(() => rpnLoss(o, o, [t, t])).toThrow("Error in rpnLoss: 'objectness' [N, H, W, A or 2A] and 'deltas' [N, H, W, 4A] must match");
    expect(() => rpnLoss(o, d, [t, t], { beta: -1 })).toThrow("'beta' must be a non-negative number, but got -1.");
    tf.dispose([o, d, t.labels, t.regressionTargets, bad.labels, bad.regressionTargets, short.labels, short.regressionTargets]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
