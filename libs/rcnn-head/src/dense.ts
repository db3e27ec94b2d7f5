import type { Rank, Variable } from '@tensorflow/tfjs-core';
import { assertTensor, describe, fail, makeVariable, uniformValues, type Rng } from '@lumen/core';

/** A fully connected layer: `kernel` [in, out] (torchvision's weight transposed), `bias` [out]. */
export type DenseParams = { kernel: Variable<Rank.R2>; bias: Variable<Rank.R1> };

/** torch nn.Linear's default init: weight and bias from U(-1/sqrt(in), 1/sqrt(in)). */
export function initDense(inFeatures: number, outFeatures: number, rng: Rng): DenseParams {
  const bound = 1 / Math.sqrt(inFeatures);
  return {
    kernel: makeVariable<Rank.R2>(uniformValues(inFeatures * outFeatures, bound, rng), [inFeatures, outFeatures]),
    bias: makeVariable<Rank.R1>(uniformValues(outFeatures, bound, rng), [outFeatures]),
  };
}

export function checkDense(fn: string, name: string, p: unknown, inFeatures: number, outFeatures?: number): asserts p is DenseParams {
  if (p == null || typeof p !== 'object') fail(fn, `'params.${name}' must be { kernel, bias }, but got ${describe(p)}.`);
  const { kernel, bias } = p as Partial<DenseParams>;
  assertTensor(fn, `params.${name}.kernel`, kernel, 2);
  assertTensor(fn, `params.${name}.bias`, bias, 1);
  const out = outFeatures ?? kernel.shape[1];
  if (kernel.shape[0] !== inFeatures || kernel.shape[1] !== out || bias.shape[0] !== out) {
    fail(
      fn,
      `'params.${name}' must have kernel [${inFeatures}, ${out}] and bias [${out}], but got kernel [${kernel.shape.join(',')}] and bias [${bias.shape.join(',')}].`,
    );
  }
}
