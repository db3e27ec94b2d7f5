import * as tf from '@tensorflow/tfjs-core';
import fixtures from '../fixtures/optimizer.json';
import type { ParamTree } from '../params';
import { applyGradients } from './apply-gradients';
import { createOptimizer, disposeOptimizer, optimizerSlots, type OptimizerConfig } from './state';

function maxDiff(a: ArrayLike<number>, b: number[]): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(['tensor', 'loop'] as const)('applyGradients (%s) against torch.optim', (mode) => {
  it.each(fixtures.steps.map((s) => [`${s.config.type}${s.clip ? ` clipped at ${s.clip}` : ''}`, s] as const))('%s', (_, ref) => {
    const before = tf.memory().numTensors;
    const params: ParamTree = tf.tidy(() => ({ layer: { w: tf.variable(tf.tensor2d(ref.w0)), b: tf.variable(tf.tensor1d(ref.b0)) } }));
    const state = createOptimizer(ref.config as OptimizerConfig, params);
    ref.grads.forEach(([gw, gb], step) => {
      const grads = { 'layer.w': tf.tensor2d(gw as number[][]), 'layer.b': tf.tensor1d(gb as number[]) };
      const norm = applyGradients(state, params, grads, ref.config.lr, ref.clip, mode);
      if (ref.clip) expect(norm).toBeCloseTo(ref.norms[step], 5);
      tf.dispose(Object.values(grads));
    });
    expect(maxDiff(((params.layer as ParamTree).w as tf.Variable).dataSync() as Float32Array, ref.w.flat())).toBeLessThan(1e-5);
    expect(maxDiff(((params.layer as ParamTree).b as tf.Variable).dataSync() as Float32Array, ref.b)).toBeLessThan(1e-5);
    expect(state.step).toBe(ref.grads.length);
    expect(optimizerSlots(state).map(([n]) => n)).toEqual(ref.config.type === 'sgd' ? ['layer.w.momentum', 'layer.b.momentum'] : ['layer.w.m', 'layer.w.v', 'layer.b.m', 'layer.b.v']);
    disposeOptimizer(state);
    tf.dispose([(params.layer as ParamTree).w as tf.Variable, (params.layer as ParamTree).b as tf.Variable]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves frozen variables alone and has no state for them', () => {
    const frozen = tf.tidy(() => tf.variable(tf.ones([2]), false));
    const live = tf.tidy(() => tf.variable(tf.ones([2])));
    const params: ParamTree = { frozen, live };
    const state = createOptimizer({ type: 'sgd', lr: 1, momentum: 0, weightDecay: 0, betas: [0.9, 0.999], epsilon: 1e-8 }, params);
    expect([...state.slots.keys()]).toEqual(['live']);
    const grads = { live: tf.ones([2]), frozen: tf.ones([2]) };
    applyGradients(state, params, grads, 0.5, null);
    expect(Array.from(frozen.dataSync())).toEqual([1, 1]);
    expect(Array.from(live.dataSync())).toEqual([0.5, 0.5]);
    tf.dispose([frozen, live, ...Object.values(grads)]);
    disposeOptimizer(state);
  });
});
