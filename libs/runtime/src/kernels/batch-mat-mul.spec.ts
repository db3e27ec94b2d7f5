import * as tf from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';

beforeAll(setUpWasmAndCpu);

describe('BatchMatMul with transposed operands on wasm', () => {
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[7, 5], [5, 3], false, false],
    [[5, 7], [5, 3], true, false],
    [[7, 5], [3, 5], false, true],
    [[5, 7], [3, 5], true, true],
    [[2, 5, 7], [2, 3, 5], true, true],
    [[3, 4, 6], [1, 6, 2], false, false],
    [[3, 6, 4], [1, 2, 6], true, true],
  ];
  it.each(cases)('%j · %j (transposeA %s, transposeB %s) equals the cpu backend', async (aShape, bShape, ta, tb) => {
    const a = randomValues(aShape.reduce((x, y) => x * y, 1), 1);
    const b = randomValues(bShape.reduce((x, y) => x * y, 1), 2);
    const f = () => [tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb)];
    expect(relativeError((await runOn('wasm', f))[0], (await runOn('cpu', f))[0])).toBeLessThan(1e-5);
  });

  it('dense-layer gradients (which transpose) equal the cpu backend', async () => {
    const x = randomValues(8 * 6, 3);
    const w = randomValues(6 * 4, 4);
    const f = () => {
      const [gx, gw] = tf.grads((xs: tf.Tensor, ws: tf.Tensor) => tf.sum(tf.square(tf.matMul(xs, ws))))([tf.tensor2d(x, [8, 6]), tf.tensor2d(w, [6, 4])]);
      return [gx, gw];
    };
    const wasm = await runOn('wasm', f);
    const cpu = await runOn('cpu', f);
    expect(relativeError(wasm[0], cpu[0])).toBeLessThan(1e-5);
    expect(relativeError(wasm[1], cpu[1])).toBeLessThan(1e-5);
  });
});
