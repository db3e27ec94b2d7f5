import * as tf from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';

beforeAll(setUpWasmAndCpu);

describe('UnsortedSegmentSum on wasm', () => {
  const xv = randomValues(6 * 3 * 5, 31);

  it('sums rows with repeated segment ids, like the cpu backend', async () => {
    const f = () => [tf.unsortedSegmentSum(tf.tensor3d(xv, [6, 3, 5]), tf.tensor1d([2, 0, 2, 4, 0, 2], 'int32'), 5)];
    const [w] = await runOn('wasm', f);
    const [c] = await runOn('cpu', f);
    expect(relativeError(w, c)).toBeLessThan(1e-6);
    // Segment 1 and 3 receive nothing; segment 2 = rows 0 + 2 + 5.
    expect(Array.from(w.slice(15, 30)).every((v) => v === 0)).toBe(true);
    expect(w[30]).toBeCloseTo(xv[0] + xv[30] + xv[75], 5);
  });

  it('drops ids outside [0, numSegments) as the cpu backend does', async () => {
    const f = () => [tf.unsortedSegmentSum(tf.tensor3d(xv, [6, 3, 5]), tf.tensor1d([-1, 0, 7, 1, 1, 5], 'int32'), 3)];
    const [w] = await runOn('wasm', f);
    const [c] = await runOn('cpu', f);
    expect(w.length).toBe(3 * 15);
    expect(relativeError(w, c)).toBeLessThan(1e-6);
  });

  it('gives gather its gradient on wasm', async () => {
    const f = () => tf.grads((p: tf.Tensor) => tf.sum(tf.square(tf.gather(p, tf.tensor1d([0, 3, 3, 1], 'int32')))))([
      tf.tensor2d(xv.slice(0, 12), [4, 3]),
    ]);
    const [w] = await runOn('wasm', f);
    const [c] = await runOn('cpu', f);
    expect(relativeError(w, c)).toBeLessThan(1e-6);
  });
});
