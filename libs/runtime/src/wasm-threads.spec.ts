import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './init-backend';
import { randomValues, relativeError } from './testing/compare';

describe('threaded wasm in Node', () => {
  it('starts the threaded SIMD build with 2 threads and computes what the cpu backend does', async () => {
    const choice = await initBackend({ backend: 'wasm', threads: 2, log: () => undefined });
    expect(choice).toMatchObject({ name: 'wasm', threads: 2 });
    expect(choice.detail).toMatch(/threaded/);
    const x = randomValues(1 * 32 * 32 * 16, 1);
    const w = randomValues(3 * 3 * 16 * 24, 2);
    const grads = () =>
      tf.tidy(() =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))))([
          tf.tensor4d(x, [1, 32, 32, 16]),
          tf.tensor4d(w, [3, 3, 16, 24]),
        ]).map((t) => t.dataSync() as Float32Array),
      );
    const onWasm = grads();
    await tf.setBackend('cpu');
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false; // no tfjs-node banner
    const onCpu = grads();
    expect(relativeError(onWasm[0], onCpu[0])).toBeLessThan(1e-4);
    expect(relativeError(onWasm[1], onCpu[1])).toBeLessThan(1e-4);
  });
});
