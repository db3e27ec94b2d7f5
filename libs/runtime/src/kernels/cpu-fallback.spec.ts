import * as tf from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { CPU_FALLBACK_KERNELS, cpuFallbackKernel } from './cpu-fallback';

beforeAll(setUpWasmAndCpu);

describe('cpu fallback for rare kernels wasm lacks', () => {
  it('covers every listed kernel on wasm', () => {
    for (const name of CPU_FALLBACK_KERNELS) expect(getKernel(name, 'wasm')).toBeDefined();
  });

  it('runs einsum on wasm with the cpu result, logging the fallback once', async () => {
    const messages: string[] = [];
    unregisterKernel('Einsum', 'wasm');
    registerKernel(cpuFallbackKernel('Einsum', (m) => messages.push(m)));
    const a = randomValues(12, 41);
    const b = randomValues(20, 42);
    const f = () => [tf.einsum('ij,jk->ik', tf.tensor2d(a, [3, 4]), tf.tensor2d(b, [4, 5]))];
    const [w] = await runOn('wasm', f);
    await runOn('wasm', f);
    const [c] = await runOn('cpu', f);
    expect(relativeError(w, c)).toBeLessThan(1e-6);
    expect(messages.filter((m) => m.includes("'Einsum'"))).toHaveLength(1);
  });
});
