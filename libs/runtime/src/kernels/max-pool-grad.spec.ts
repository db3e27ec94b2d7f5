import * as tf from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { withoutNativeKernels } from './native-switch';

beforeAll(setUpWasmAndCpu);

describe.each([
  { name: '3x3/2 same, batch 2, odd map (ResNet stem)', x: [2, 11, 9, 5], k: 3, s: 2, pad: 'same' as const },
  { name: '2x2/2 valid (VGG, crop-pool)', x: [3, 8, 10, 3], k: 2, s: 2, pad: 'valid' as const },
  { name: '3x3/1 explicit pad 1', x: [1, 7, 6, 6], k: 3, s: 1, pad: 1 },
  { name: '3x3/2 same, batch 3, 20 channels (rows and pixels split across threads)', x: [3, 13, 17, 20], k: 3, s: 2, pad: 'same' as const },
  { name: '2x3/1 valid, rectangular windows overlapping along both axes', x: [2, 6, 9, 4], k: [2, 3] as [number, number], s: 1, pad: 'valid' as const },
])('maxPool gradient on wasm: $name', ({ x, k, s, pad }) => {
  // Weighting each window's output differently makes a misrouted gradient visible.
  const loss = (a: tf.Tensor) => {
    const pooled = tf.maxPool(a as tf.Tensor4D, k, s, pad);
    return tf.sum(tf.mul(pooled, tf.reshape(tf.range(1, 1 + pooled.size), pooled.shape)));
  };
  const grad = (values: Float32Array) => () => [tf.grad(loss)(tf.tensor4d(values, x as [number, number, number, number]))];

  // @lumen/runtime-native's kernel, and the JS one that runs without it.
  const modes = [['native', <T>(f: () => Promise<T>) => f()], ['JS', withoutNativeKernels]] as const;

  it.each(modes)('%s: matches the cpu backend, without leaks', async (_, mode) => {
    const values = randomValues(x.reduce((a, b) => a * b), 71);
    const [w] = await mode(() => runOn('wasm', grad(values)));
    const [c] = await runOn('cpu', grad(values));
    expect(relativeError(w, c)).toBeLessThan(1e-6);
  });

  it.each(modes)('%s: sends a tied window’s gradient to its first maximum, as the cpu backend does', async (_, mode) => {
    const values = new Float32Array(x.reduce((a, b) => a * b)).fill(2);
    const [w] = await mode(() => runOn('wasm', grad(values)));
    const [c] = await runOn('cpu', grad(values));
    expect(Array.from(w)).toEqual(Array.from(c));
  });
});
