// The update as one JavaScript loop per variable (cpu's and wasm's fallback: see
// applyGradients), rounding to float32 as torch's in-place float32 ops do.
import * as tf from '@tensorflow/tfjs-core';
import { clipFactor } from './clip';
import type { OptimizerState } from './state';

export function updateInLoops(state: OptimizerState, entries: Array<[string, tf.Variable]>, grads: Record<string, tf.Tensor>, lr: number, clipNorm: number | null): number {
  const { config } = state;
  const gradValues = entries.map(([name]) => grads[name].dataSync() as Float32Array);
  let sumSquares = 0;
  for (const g of gradValues) for (let i = 0; i < g.length; i++) sumSquares += g[i] * g[i];
  const norm = Math.sqrt(sumSquares);
  const clip = clipFactor(norm, clipNorm);
  const wd = config.weightDecay;
  const t = state.step;
  entries.forEach(([name, variable], k) => {
    const slots = state.slots.get(name) as Record<string, tf.Variable>;
    const g = gradValues[k];
    const w = (variable.dataSync() as Float32Array).slice();
    const set = (target: tf.Variable, values: Float32Array) => tf.tidy(() => target.assign(tf.tensor(values, target.shape)));
    if (config.type === 'sgd') {
      const mu = config.momentum;
      const buffer = mu > 0 ? (slots.momentum.dataSync() as Float32Array).slice() : null;
      for (let i = 0; i < w.length; i++) {
        // float32 at each step, as torch's in-place float32 ops
        let d = Math.fround(Math.fround(g[i] * clip) + Math.fround(w[i] * wd));
        if (buffer) d = buffer[i] = Math.fround(Math.fround(buffer[i] * mu) + d);
        w[i] = Math.fround(w[i] - Math.fround(d * lr));
      }
      if (buffer) set(slots.momentum, buffer);
    } else {
      const [b1, b2] = config.betas;
      const m = (slots.m.dataSync() as Float32Array).slice();
      const v = (slots.v.dataSync() as Float32Array).slice();
      const stepSize = lr / (1 - b1 ** t);
      const correction2 = Math.sqrt(1 - b2 ** t);
      for (let i = 0; i < w.length; i++) {
        const d = Math.fround(Math.fround(g[i] * clip) + Math.fround(w[i] * wd));
        m[i] = Math.fround(m[i] * b1 + d * (1 - b1));
        v[i] = Math.fround(v[i] * b2 + d * d * (1 - b2));
        w[i] = Math.fround(w[i] - (stepSize * m[i]) / (Math.sqrt(v[i]) / correction2 + config.epsilon));
      }
      set(slots.m, m);
      set(slots.v, v);
    }
    set(variable, w);
  });
  return norm;
}
