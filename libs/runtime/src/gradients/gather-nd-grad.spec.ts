import * as tf from '@tensorflow/tfjs-core';
import { randomValues, runOn, setUpWasmAndCpu } from '../testing/compare';

beforeAll(setUpWasmAndCpu);

describe('gatherND gradient', () => {
  it.each(['wasm', 'cpu'] as const)('scatter-adds dy to the gathered slots, repeated slots summed (%s)', async (backend) => {
    const upstream = randomValues(4 * 2, 61);
    const f = () => [
      tf.grad((p: tf.Tensor) =>
        tf.sum(tf.mul(tf.gatherND(p, tf.tensor2d([[0, 1], [2, 0], [0, 1], [1, 2]], [4, 2], 'int32')), tf.tensor2d(upstream, [4, 2]))),
      )(tf.zeros([3, 3, 2])),
    ];
    const [g] = await runOn(backend, f);
    const expected = new Float32Array(3 * 3 * 2);
    const slots = [[0, 1], [2, 0], [0, 1], [1, 2]];
    slots.forEach(([i, j], k) => {
      for (let c = 0; c < 2; c++) expected[(i * 3 + j) * 2 + c] += upstream[k * 2 + c];
    });
    expect(Array.from(g).map((v) => +v.toFixed(5))).toEqual(Array.from(expected).map((v) => +v.toFixed(5)));
  });
});
