import { pyramidAnchors } from '@lumen/anchors';
import { seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { assignAnchorTargets } from './anchor-targets';
import { rpnLoss, type RpnTargets } from './loss';
import { relativeError } from './testing/fixtures';
import { ANCHORS_PER_LOCATION, fpnRpn, levelTensors } from './testing/fpn-rpn';

type LossCase = (typeof fpnRpn.losses)[number];
// The losses were computed with the depth-2 head's outputs.
const head = fpnRpn.heads.find((h) => h.convDepth === 2) ?? fail('no depth-2 head in fpn-rpn.json');
const A = ANCHORS_PER_LOCATION;

/** Lumen's targets for a case: pyramid anchors, then assignAnchorTargets per image. */
function targetsOf(c: LossCase): RpnTargets[] {
  const { anchors } = pyramidAnchors(fpnRpn.sizes, fpnRpn.ratios, fpnRpn.mapSizes, fpnRpn.imageSize);
  const rng = seededRandom(5);
  const options = { batchSizePerImage: fpnRpn.batchSizePerImage, positiveFraction: fpnRpn.positiveFraction };
  const targets = c.gtBoxes.map((boxes) => {
    const gt = tf.tensor2d(boxes, [boxes.length / 4, 4]);
    const t = assignAnchorTargets(anchors, gt, options, rng);
    gt.dispose();
    return t;
  });
  anchors.dispose();
  return targets;
}

const disposeTargets = (targets: RpnTargets[]) => targets.forEach((t) => tf.dispose([t.labels, t.regressionTargets]));

describe('rpnLoss over levels against torchvision RegionProposalNetwork (train mode)', () => {
  it.each(fpnRpn.losses.map((c) => [c.name, c] as const))('%s: labels, both losses and their gradients w.r.t. every level', (_, c) => {
    const before = tf.memory().numTensors;
    const objectness = levelTensors(head.objectness, A);
    const deltas = levelTensors(head.deltas, 4 * A);
    const targets = targetsOf(c);
    // Every labelled anchor is sampled (fewer than batchSizePerImage), as in torchvision.
    targets.forEach((t, i) => expect(Array.from(t.labels.dataSync())).toEqual(c.labels[i]));
    const batched = {
      labels: tf.concat(targets.map((t) => t.labels)) as tf.Tensor1D,
      regressionTargets: tf.concat(targets.map((t) => t.regressionTargets)) as tf.Tensor2D,
    };
    for (const given of [targets, batched]) {
      const loss = rpnLoss(objectness, deltas, given);
      expect(Math.abs(loss.objectness.dataSync()[0] - c.objectnessLoss)).toBeLessThan(1e-5);
      expect(Math.abs(loss.boxReg.dataSync()[0] - c.boxLoss)).toBeLessThan(1e-6);
      tf.dispose([loss.objectness, loss.boxReg]);
    }
    // Each loss depends on one head output, so the gradient of the sum splits in two.
    const gradObjectness = tf.grads((...o: tf.Tensor[]) => rpnLoss(o as tf.Tensor4D[], deltas, targets).objectness)(objectness);
    const gradDeltas = tf.grads((...d: tf.Tensor[]) => rpnLoss(objectness, d as tf.Tensor4D[], targets).boxReg)(deltas);
    fpnRpn.mapSizes.forEach((_, l) => {
      expect(gradObjectness[l].shape).toEqual(objectness[l].shape);
      expect(gradDeltas[l].shape).toEqual(deltas[l].shape);
      expect(relativeError(gradObjectness[l].dataSync(), c.gradObjectness[l])).toBeLessThan(1e-6);
      expect(relativeError(gradDeltas[l].dataSync(), c.gradDeltas[l])).toBeLessThan(1e-6);
    });
    tf.dispose([...objectness, ...deltas, ...gradObjectness, ...gradDeltas, batched.labels, batched.regressionTargets]);
    disposeTargets(targets);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives a softmax head over levels the 2-class cross-entropy: [0, x] logits equal the sigmoid loss of x', () => {
    const before = tf.memory().numTensors;
    const c = fpnRpn.losses[0];
    const objectness = levelTensors(head.objectness, A);
    const deltas = levelTensors(head.deltas, 4 * A);
    const pairs = objectness.map((o) =>
      tf.tidy(() => {
        const [n, h, w, a] = o.shape;
        return tf.reshape(tf.stack([tf.zerosLike(o), o], 4), [n, h, w, 2 * a]) as tf.Tensor4D;
      }),
    );
    const targets = targetsOf(c);
    const loss = rpnLoss(pairs, deltas, targets);
    expect(Math.abs(loss.objectness.dataSync()[0] - c.objectnessLoss)).toBeLessThan(1e-5);
    const grads = tf.grads((...o: tf.Tensor[]) => rpnLoss(o as tf.Tensor4D[], deltas, targets).objectness)(pairs);
    grads.forEach((g, l) => {
      const fg = g.dataSync().filter((_, i) => i % 2 === 1);
      expect(relativeError(fg, c.gradObjectness[l])).toBeLessThan(1e-6);
    });
    tf.dispose([...objectness, ...deltas, ...pairs, ...grads, loss.objectness, loss.boxReg]);
    disposeTargets(targets);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('argument checks over levels', () => {
  it('names the level and the anchor count', () => {
    const before = tf.memory().numTensors;
    const o = [tf.zeros<tf.Rank.R4>([1, 2, 2, 3]), tf.zeros<tf.Rank.R4>([1, 1, 1, 3])];
    const d = [tf.zeros<tf.Rank.R4>([1, 2, 2, 12]), tf.zeros<tf.Rank.R4>([1, 1, 1, 12])];
    const t = { labels: tf.zeros<tf.Rank.R1>([12], 'int32'), regressionTargets: tf.zeros<tf.Rank.R2>([12, 4]) };
    expect(() => rpnLoss(o, d, [t])).toThrow("Error in rpnLoss: 'targets' must cover the 15 anchors of the batch (N·Σ H·W·A), but got 12.");
    expect(() => rpnLoss(o, [d[0], o[1]], [t])).toThrow("Error in rpnLoss: 'objectness[1]' [N, H, W, A or 2A] and 'deltas[1]' [N, H, W, 4A] must match, but got [1,1,1,3] and [1,1,1,3].");
    expect(() => rpnLoss(o, d[0], [t])).toThrow("Error in rpnLoss: 'objectness' and 'deltas' must both be tensors (one map) or both lists (one per level)");
    tf.dispose([...o, ...d, t.labels, t.regressionTargets]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
