import { tensor, variable, type Rank, type Variable } from '@tensorflow/tfjs-core';

/** A uniform generator in [0, 1): `seededRandom(seed)` from @lumen/boxes makes one. */
export type Rng = () => number;

/** `count` draws of N(0, std²) from `rng` (Box–Muller, both values of each pair used). */
export function normalValues(count: number, std: number, rng: Rng): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const radius = std * Math.sqrt(-2 * Math.log(1 - rng()));
    const angle = 2 * Math.PI * rng();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** A trainable variable holding `values` (the initial tensor is released). */
export function makeVariable<R extends Rank>(values: Float32Array, shape: number[]): Variable<R> {
  const initial = tensor(values, shape, 'float32');
  const v = variable(initial, true) as Variable<R>;
  initial.dispose();
  return v;
}
