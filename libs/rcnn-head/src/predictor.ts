import { fused, tidy, type Rank, type Tensor2D } from '@tensorflow/tfjs-core';
import { checkDense, type DenseParams } from './dense';
import { assertNumber, assertRng, assertTensor, describe, fail, isPositiveInteger, makeVariable, normalValues, type Rng } from '@lumen/core';

/**
 * torchvision `FastRCNNPredictor`'s layers: `cls_score` [D, K+1] and `bbox_pred`
 * [D, 4(K+1)], kernels [in, out] (torchvision's weights transposed).
 */
export type PredictorParams = { cls_score: DenseParams; bbox_pred: DenseParams };

export interface PredictorOutputs {
  /** [R, K+1] class logits, column 0 background. */
  classLogits: Tensor2D;
  /** [R, 4(K+1)] per-class deltas, column `4k + (dx, dy, dw, dh)` for class k (torchvision's layout). */
  boxDeltas: Tensor2D;
}

function layer(inFeatures: number, outFeatures: number, std: number, rng: Rng): DenseParams {
  return {
    kernel: makeVariable<Rank.R2>(normalValues(inFeatures * outFeatures, std, rng), [inFeatures, outFeatures]),
    bias: makeVariable<Rank.R1>(new Float32Array(outFeatures), [outFeatures]),
  };
}

/**
 * New predictor parameters for `numClasses` classes including background (K + 1):
 * `cls_score` kernel from N(0, 0.01²), `bbox_pred` from N(0, 0.001²), biases 0 — the
 * Detectron / Luminoth initialisation (torchvision's FastRCNNPredictor keeps nn.Linear's
 * uniform default), so training starts from near-uniform class scores and near-zero deltas.
 */
export function initPredictor(inFeatures: number, numClasses: number, rng: Rng): PredictorParams {
  const fn = 'initPredictor';
  assertNumber(fn, 'inFeatures', inFeatures, 'a positive integer', isPositiveInteger);
  assertNumber(fn, 'numClasses', numClasses, 'an integer >= 2 (background included)', (v) => Number.isInteger(v) && v >= 2);
  assertRng(fn, rng);
  return { cls_score: layer(inFeatures, numClasses, 0.01, rng), bbox_pred: layer(inFeatures, 4 * numClasses, 0.001, rng) };
}

/** Class logits and per-class box deltas for box-head features `x` [R, D]. */
export function predictor(params: PredictorParams, x: Tensor2D): PredictorOutputs {
  const fn = 'predictor';
  assertTensor(fn, 'x', x, 2);
  if (params == null || typeof params !== 'object') fail(fn, `'params' must be { cls_score, bbox_pred }, but got ${describe(params)}.`);
  const d = x.shape[1];
  checkDense(fn, 'cls_score', params.cls_score, d);
  const classes = params.cls_score.kernel.shape[1];
  checkDense(fn, 'bbox_pred', params.bbox_pred, d, 4 * classes);
  return tidy(() => ({
    classLogits: fused.matMul({ a: x, b: params.cls_score.kernel, bias: params.cls_score.bias }) as Tensor2D,
    boxDeltas: fused.matMul({ a: x, b: params.bbox_pred.kernel, bias: params.bbox_pred.bias }) as Tensor2D,
  }));
}
