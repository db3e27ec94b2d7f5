import * as tf from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { tileValues } from './tile';

beforeAll(setUpWasmAndCpu);

describe('Tile on wasm', () => {
  const cases: Array<[number[], number[]]> = [
    [[1, 1, 1, 16], [2, 13, 7, 1]], // batch-norm gradient broadcast
    [[3], [4]],
    [[2, 3], [1, 1]],
    [[2, 3], [3, 2]],
    [[2, 1, 3], [1, 5, 2]],
    [[1, 2, 3, 2, 2], [2, 1, 2, 3, 1]],
    [[4, 5], [0, 2]],
  ];
  it.each(cases)('float32 %j x reps %j equals the cpu backend', async (shape, reps) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = randomValues(size, size + 7);
    const f = () => [tf.tile(tf.tensor(values, shape), reps)];
    const [wasm] = await runOn('wasm', f);
    const [cpu] = await runOn('cpu', f);
    expect(wasm.length).toBe(cpu.length);
    if (cpu.length > 0) expect(relativeError(wasm, cpu)).toBe(0);
  });

  it('tiles int32 and bool tensors', async () => {
    const ints = () => [tf.tile(tf.tensor2d([[1, -2], [3, 4]], [2, 2], 'int32'), [2, 3])];
    expect(Array.from((await runOn('wasm', ints))[0])).toEqual(Array.from((await runOn('cpu', ints))[0]));
    const bools = () => [tf.tile(tf.tensor1d([true, false, true], 'bool'), [3])];
    expect(Array.from((await runOn('wasm', bools))[0])).toEqual(Array.from((await runOn('cpu', bools))[0]));
  });

  it('gives the gradient of a broadcast through tile (sum over the copies)', async () => {
    const x = randomValues(6, 3);
    const f = () => [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tile(t, [2, 3]), tf.reshape(tf.range(0, 36), [4, 9]))))(tf.tensor2d(x, [2, 3]))];
    expect(relativeError((await runOn('wasm', f))[0], (await runOn('cpu', f))[0])).toBeLessThan(1e-6);
  });

  it('tileValues handles a scalar', () => {
    const out = new Float32Array(1);
    tileValues(new Float32Array([5]), [], [], out);
    expect(out[0]).toBe(5);
  });
});
