// The update as tfjs ops (~10 small kernels per variable), for backends without the fused
// kernels where a JS loop does not pay (GPU): the variables never leave the device.
import * as tf from '@tensorflow/tfjs-core';
import { clipFactor, globalNorm } from './clip';
import type { OptimizerState } from './state';

export function updateWithTensorOps(state: OptimizerState, entries: Array<[string, tf.Variable]>, grads: Record<string, tf.Tensor>, lr: number, clipNorm: number | null): number {
  const { config } = state;
  const norm = globalNorm(entries.map(([name]) => grads[name]));
  const normValue = norm.dataSync()[0];
  norm.dispose();
  const clip = clipFactor(normValue, clipNorm);
  const t = state.step;
  for (const [name, variable] of entries) {
    const slots = state.slots.get(name) as Record<string, tf.Variable>;
    tf.tidy(() => {
      let g = grads[name];
      if (clip !== 1) g = tf.mul(g, clip);
      if (config.weightDecay > 0) g = tf.add(g, tf.mul(variable, config.weightDecay));
      if (config.type === 'sgd') {
        const buffer = config.momentum > 0 ? tf.add(tf.mul(slots.momentum, config.momentum), g) : g;
        if (config.momentum > 0) slots.momentum.assign(buffer);
        variable.assign(tf.sub(variable, tf.mul(buffer, lr)));
      } else {
        const [b1, b2] = config.betas;
        const m = tf.add(tf.mul(slots.m, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(slots.v, b2), tf.mul(tf.square(g), 1 - b2));
        slots.m.assign(m);
        slots.v.assign(v);
        const stepSize = lr / (1 - b1 ** t);
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(1 - b2 ** t)), config.epsilon);
        variable.assign(tf.sub(variable, tf.mul(tf.div(m, denom), stepSize)));
      }
    });
  }
  return normValue;
}
