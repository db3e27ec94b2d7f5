import { tidy, type Scalar, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';
import { maskedSmoothL1, weightedSigmoidCrossEntropy, weightedSoftmaxCrossEntropy } from '@lumen/boxes';
import { assertNumber, assertTensor, describe, fail } from '@lumen/core';
import { concatLevels, levelLayout, type LevelTensors } from './levels';

/** One image's (or a batch's, concatenated) targets, as `assignAnchorTargets` returns them. */
export interface RpnTargets {
  /** [K] int32 (or float32): 1 sampled foreground, 0 sampled background, -1 not counted. */
  labels: Tensor1D;
  /** [K, 4] deltas; only rows labelled 1 are read. */
  regressionTargets: Tensor2D;
}

export interface RpnLosses {
  /** Binary cross-entropy (softmax head: 2-class cross-entropy) averaged over the sampled anchors. */
  objectness: Scalar;
  /** Smooth-L1 (beta 1/9) summed over the positive anchors' deltas, divided by the number of sampled anchors. */
  boxReg: Scalar;
}

export interface RpnLossOptions {
  /** Smooth-L1 beta (torchvision 1/9). */
  beta?: number;
}

function readTargets(fn: string, targets: unknown, total: number, anchorsOfBatch: string): { labels: Int32Array; regression: Float32Array } {
  const list = Array.isArray(targets) ? targets : [targets];
  if (list.length === 0) fail(fn, `'targets' must be { labels, regressionTargets } or one per image, but got an empty array.`);
  const labels = new Int32Array(total);
  const regression = new Float32Array(total * 4);
  let offset = 0;
  list.forEach((t: unknown, i) => {
    const name = Array.isArray(targets) ? `targets[${i}]` : 'targets';
    if (t == null || typeof t !== 'object') fail(fn, `'${name}' must be { labels, regressionTargets }, but got ${describe(t)}.`);
    const { labels: l, regressionTargets: r } = t as Partial<RpnTargets>;
    assertTensor(fn, `${name}.labels`, l, 1, ['int32', 'float32']);
    assertTensor(fn, `${name}.regressionTargets`, r, 2);
    const k = l.shape[0];
    if (r.shape[0] !== k || r.shape[1] !== 4) fail(fn, `'${name}.regressionTargets' must be [${k}, 4] beside ${k} labels, but got [${r.shape.join(',')}].`);
    if (offset + k > total) fail(fn, `'targets' must cover the ${total} anchors of the batch (${anchorsOfBatch}), but got more.`);
    const lv = l.dataSync();
    for (let j = 0; j < k; j++) {
      const v = lv[j];
      if (v !== 1 && v !== 0 && v !== -1) fail(fn, `'${name}.labels' must be 1, 0 or -1, but label ${j} is ${v}.`);
      labels[offset + j] = v;
    }
    regression.set(r.dataSync(), 4 * offset);
    offset += k;
  });
  if (offset !== total) fail(fn, `'targets' must cover the ${total} anchors of the batch (${anchorsOfBatch}), but got ${offset}.`);
  return { labels, regression };
}

/**
 * The RPN losses, torchvision's `RegionProposalNetwork.compute_loss` on targets from
 * `assignAnchorTargets` (already sampled: label -1 = not in the sample): over the S anchors
 * labelled 0 or 1 in the whole batch,
 *  - objectness = mean binary cross-entropy with logits (softmax head: mean 2-class
 *    cross-entropy, the original paper's);
 *  - boxReg = Σ smoothL1(deltas − targets, beta 1/9) over positive anchors / S.
 *
 * `objectness` [N, H, W, A] or [N, H, W, 2A], `deltas` [N, H, W, 4A] (as `rpnHead` returns
 * them), or a list of each, one per pyramid level (`rpnHeadLevels`); `targets` one per
 * image in batch order, each over the image's anchors level after level (`pyramidAnchors`'
 * order), or one for the batch with N·Σ H·W·A rows, image after image. Differentiable
 * w.r.t. `objectness` and `deltas` (custom gradients, no registered ones needed). With no
 * sampled anchor both losses are 0 (torchvision: NaN).
 */
export function rpnLoss(objectness: LevelTensors, deltas: LevelTensors, targets: RpnTargets | readonly RpnTargets[], options: RpnLossOptions = {}): RpnLosses {
  const fn = 'rpnLoss';
  const layout = levelLayout(fn, objectness, deltas, ({ objectness: o, deltas: d, objectnessName, deltasName }) => {
    const [n, h, w, c] = o.shape;
    const dc = d.shape[3];
    if (d.shape[0] !== n || d.shape[1] !== h || d.shape[2] !== w || dc % 4 !== 0 || dc === 0 || (c !== dc / 4 && c !== dc / 2)) {
      fail(fn, `'${objectnessName}' [N, H, W, A or 2A] and '${deltasName}' [N, H, W, 4A] must match, but got [${o.shape.join(',')}] and [${d.shape.join(',')}].`);
    }
  });
  const beta = options.beta ?? 1 / 9;
  assertNumber(fn, 'beta', beta, 'a non-negative number', (v) => v >= 0 && Number.isFinite(v));
  const total = layout.n * layout.anchorsPerImage;
  const { labels, regression } = readTargets(fn, targets, total, layout.levels.length === 1 ? 'N·H·W·A' : 'N·Σ H·W·A');

  let sampled = 0;
  for (let i = 0; i < total; i++) if (labels[i] >= 0) sampled++;
  const scale = sampled > 0 ? 1 / sampled : 0;

  const mask = new Float32Array(total * 4);
  const boxTargets = new Float32Array(total * 4);
  for (let i = 0; i < total; i++) {
    if (labels[i] !== 1) continue;
    mask.fill(1, 4 * i, 4 * i + 4);
    boxTargets.set(regression.subarray(4 * i, 4 * i + 4), 4 * i);
  }

  return tidy(() => {
    // The levels in the targets' order: per image, level after level.
    const logits = concatLevels(objectness, layout.n);
    let objectnessLoss: Scalar;
    if (!layout.softmax) {
      const y = new Float32Array(total);
      const weight = new Float32Array(total);
      for (let i = 0; i < total; i++) {
        if (labels[i] < 0) continue;
        y[i] = labels[i];
        weight[i] = scale;
      }
      objectnessLoss = weightedSigmoidCrossEntropy(logits, y, weight);
    } else {
      objectnessLoss = weightedSoftmaxCrossEntropy(logits, 2, labels, new Float32Array(total).fill(scale));
    }
    return { objectness: objectnessLoss, boxReg: maskedSmoothL1(concatLevels(deltas, layout.n), mask, boxTargets, beta, scale) };
  });
}
