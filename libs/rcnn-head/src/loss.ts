import { tidy, type Scalar, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';
import { maskedSmoothL1, weightedSoftmaxCrossEntropy } from '@lumen/boxes';
import { assertNumber, assertTensor, fail } from '@lumen/core';

export interface RcnnLosses {
  /** Softmax cross-entropy averaged over the R sampled proposals. */
  classifier: Scalar;
  /** Smooth-L1 (beta 1/9) of the true class's deltas summed over foreground proposals, divided by R. */
  boxReg: Scalar;
}

export interface RcnnLossOptions {
  /** Smooth-L1 beta (torchvision 1/9). */
  beta?: number;
}

function concatenated<T extends Tensor1D | Tensor2D>(fn: string, name: string, value: T | readonly T[], rank: 1 | 2, dtypes: Array<'int32' | 'float32'>): T[] {
  const list = Array.isArray(value) ? (value as T[]) : [value as T];
  list.forEach((t, i) => assertTensor(fn, Array.isArray(value) ? `${name}[${i}]` : name, t, rank, dtypes));
  return list;
}

/**
 * The R-CNN losses, torchvision's `fastrcnn_loss`, over R sampled proposals (all images
 * concatenated, in the order of the head's rows):
 *  - classifier = mean over R of the softmax cross-entropy of `classLogits` [R, K+1];
 *  - boxReg = Σ smoothL1(boxDeltas[r, 4c..4c+4] − regressionTargets[r], beta 1/9) over
 *    the foreground rows r of class c = labels[r] > 0, divided by R.
 *
 * `labels` [R] int32 class ids (0 background) and `regressionTargets` [R, 4], one tensor
 * each or one per image (as `sampleProposalTargets` returns them), concatenated in order.
 * Differentiable w.r.t. `classLogits` and `boxDeltas` (custom gradients, no registered ones
 * needed). With R = 0 both losses are 0 (torchvision: NaN).
 */
export function rcnnLoss(
  classLogits: Tensor2D,
  boxDeltas: Tensor2D,
  labels: Tensor1D | readonly Tensor1D[],
  regressionTargets: Tensor2D | readonly Tensor2D[],
  options: RcnnLossOptions = {},
): RcnnLosses {
  const fn = 'rcnnLoss';
  assertTensor(fn, 'classLogits', classLogits, 2);
  assertTensor(fn, 'boxDeltas', boxDeltas, 2);
  const [r, k] = classLogits.shape;
  if (boxDeltas.shape[0] !== r || boxDeltas.shape[1] !== 4 * k) {
    fail(fn, `'boxDeltas' must be [R, 4(K+1)] = [${r}, ${4 * k}] beside classLogits [${r}, ${k}], but got [${boxDeltas.shape.join(',')}].`);
  }
  const beta = options.beta ?? 1 / 9;
  assertNumber(fn, 'beta', beta, 'a non-negative number', (v) => v >= 0 && Number.isFinite(v));
  const labelList = concatenated(fn, 'labels', labels, 1, ['int32', 'float32']);
  const targetList = concatenated(fn, 'regressionTargets', regressionTargets, 2, ['float32']);
  const labelCount = labelList.reduce((s, t) => s + t.shape[0], 0);
  const targetCount = targetList.reduce((s, t) => s + t.shape[0], 0);
  if (labelCount !== r) fail(fn, `'labels' must hold one class per row of classLogits (${r}), but hold ${labelCount}.`);
  if (targetCount !== r || targetList.some((t) => t.shape[1] !== 4)) {
    fail(fn, `'regressionTargets' must be [${r}, 4] in all, but got ${targetList.map((t) => `[${t.shape.join(',')}]`).join(' + ')}.`);
  }

  const classes = new Int32Array(r);
  let offset = 0;
  for (const t of labelList) {
    const values = t.dataSync();
    for (let j = 0; j < values.length; j++) {
      const c = values[j];
      if (!(Number.isInteger(c) && c >= 0 && c < k)) fail(fn, `'labels' must be class ids in [0, ${k - 1}], but label ${offset + j} is ${c}.`);
      classes[offset + j] = c;
    }
    offset += values.length;
  }
  const regression = new Float32Array(r * 4);
  offset = 0;
  for (const t of targetList) {
    regression.set(t.dataSync(), offset);
    offset += t.size;
  }

  const scale = r > 0 ? 1 / r : 0;
  const mask = new Float32Array(r * 4 * k);
  const boxTargets = new Float32Array(r * 4 * k);
  for (let i = 0; i < r; i++) {
    const c = classes[i];
    if (c === 0) continue;
    const at = (i * k + c) * 4;
    mask.fill(1, at, at + 4);
    boxTargets.set(regression.subarray(4 * i, 4 * i + 4), at);
  }
  return tidy(() => ({
    classifier: weightedSoftmaxCrossEntropy(classLogits, k, classes, new Float32Array(r).fill(scale)),
    boxReg: maskedSmoothL1(boxDeltas, mask, boxTargets, beta, scale),
  }));
}
