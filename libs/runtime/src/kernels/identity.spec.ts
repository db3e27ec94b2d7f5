import * as tf from '@tensorflow/tfjs-core';
import { setUpWasmAndCpu } from '../testing/compare';

beforeAll(setUpWasmAndCpu);

describe('Identity on wasm', () => {
  it('shares the buffer instead of copying it, and frees it with the last holder', async () => {
    await tf.setBackend('wasm');
    const buffers = tf.memory().numDataBuffers;
    const ids = tf.backend().numDataIds();
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect(tf.memory().numDataBuffers).toBe(buffers + 1);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(tf.memory().numDataBuffers).toBe(buffers);
    expect(tf.backend().numDataIds()).toBe(ids);
  });
});
