import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { randomValues, relativeError } from './testing/compare';

// Reloading tfjs in an isolated registry re-registers its kernels, which tfjs warns about at length.
beforeEach(() => jest.spyOn(console, 'warn').mockImplementation(() => undefined));
afterEach(() => jest.restoreAllMocks());

describe('threaded wasm in Node', () => {
  it('starts the threaded SIMD build with 2 threads and computes what the cpu backend does', async () => {
    // Beside the native kernels wasm runs on one thread; without them (LUMEN_NATIVE=0, read when
    // the addon's module loads: hence a fresh module registry) it takes the threads.
    const saved = process.env.LUMEN_NATIVE;
    process.env.LUMEN_NATIVE = '0';
    try {
      await jest.isolateModulesAsync(async () => {
        const { initBackend } = await import('./init-backend');
        const tf = await import('@tensorflow/tfjs-core');
        const choice = await initBackend({ backend: 'wasm', threads: 2, log: () => undefined });
        expect(choice).toMatchObject({ name: 'wasm', threads: 2, native: null });
        expect(choice.detail).toMatch(/threaded/);
        const x = randomValues(1 * 32 * 32 * 16, 1);
        const w = randomValues(3 * 3 * 16 * 24, 2);
        const grads = () =>
          tf.tidy(() =>
            tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.square(tf.conv2d(a as Tensor4D, b as Tensor4D, 2, 'same'))))([tf.tensor4d(x, [1, 32, 32, 16]), tf.tensor4d(w, [3, 3, 16, 24])]).map((t) => t.dataSync() as Float32Array),
          );
        const onWasm = grads();
        await tf.setBackend('cpu');
        (tf.backend() as unknown as { firstUse: boolean }).firstUse = false; // no tfjs-node banner
        const onCpu = grads();
        expect(relativeError(onWasm[0], onCpu[0])).toBeLessThan(1e-4);
        expect(relativeError(onWasm[1], onCpu[1])).toBeLessThan(1e-4);
      });
    } finally {
      if (saved === undefined) delete process.env.LUMEN_NATIVE;
      else process.env.LUMEN_NATIVE = saved;
    }
  });
});
