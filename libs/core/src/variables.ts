import { tensor, variable, type Rank, type Variable } from '@tensorflow/tfjs-core';

/**
 * A float32 variable holding `values` in `shape`; `trainable` false keeps it out of the
 * optimizer (frozen layers, batch-norm statistics). The initial tensor is released.
 */
export function makeVariable<R extends Rank = Rank>(values: Float32Array, shape: number[], trainable = true): Variable<R> {
  const initial = tensor(values, shape, 'float32');
  const v = variable(initial, trainable) as Variable<R>;
  initial.dispose();
  return v;
}
