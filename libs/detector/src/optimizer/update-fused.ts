// The update as the backend's fused kernels: one pass over each variable's memory
// (@lumen/runtime registers them for wasm).
import * as tf from '@tensorflow/tfjs-core';
import { LumenAdamUpdate, LumenSgdUpdate, LumenSumSquares } from '@lumen/core';
import { clipFactor } from './clip';
import type { OptimizerState } from './state';

/** Kernel names of the fused update contract: a backend has all of them or the update does not use them. */
export const FUSED_KERNELS = [LumenSgdUpdate, LumenAdamUpdate, LumenSumSquares] as const;

export function hasFusedKernels(backend: string): boolean {
  return FUSED_KERNELS.every((name) => tf.getKernel(name, backend) != null);
}

function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number>): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs as never, attrs as never) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

export function updateWithFusedKernels(state: OptimizerState, entries: Array<[string, tf.Variable]>, grads: Record<string, tf.Tensor>, lr: number, clipNorm: number | null): number {
  const { config } = state;
  let sumSquares = 0;
  for (const [name] of entries) {
    const [s] = runKernel(LumenSumSquares, { x: grads[name] }, {});
    sumSquares += s.dataSync()[0];
    s.dispose();
  }
  const norm = Math.sqrt(sumSquares);
  const gradScale = clipFactor(norm, clipNorm);
  const t = state.step;
  for (const [name, variable] of entries) {
    const slots = state.slots.get(name) as Record<string, tf.Variable>;
    const grad = grads[name];
    if (config.type === 'sgd') {
      const withMomentum = config.momentum > 0;
      const [w, buffer] = runKernel(LumenSgdUpdate, withMomentum ? { param: variable, grad, momentum: slots.momentum } : { param: variable, grad }, {
        lr, momentum: config.momentum, weightDecay: config.weightDecay, gradScale,
      });
      if (buffer) {
        slots.momentum.assign(buffer);
        buffer.dispose();
      }
      variable.assign(w);
      w.dispose();
    } else {
      const [b1, b2] = config.betas;
      const [w, m, v] = runKernel(LumenAdamUpdate, { param: variable, grad, m: slots.m, v: slots.v }, {
        stepSize: lr / (1 - b1 ** t), beta1: b1, beta2: b2, biasCorrection2Sqrt: Math.sqrt(1 - b2 ** t), epsilon: config.epsilon,
        weightDecay: config.weightDecay, gradScale,
      });
      slots.m.assign(m);
      slots.v.assign(v);
      variable.assign(w);
      tf.dispose([w, m, v]);
    }
  }
  return norm;
}
