import * as tf from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { meanGradConfig, sumGradConfig } from './reduce-grads';

beforeAll(setUpWasmAndCpu);

const shape = [2, 3, 5, 4];

/** dx of sum(reduce(x) · upstream): upstream spread over the reduced axes, divided by their size for a mean. */
function expected(axes: number[], mean: boolean, upstream: Float32Array): Float32Array {
  const count = axes.reduce((n, a) => n * shape[a], 1);
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const kept = shape.map((d, a) => (axes.includes(a) ? 1 : d));
  out.forEach((_, i) => {
    let rest = i, k = 0, stride = 1;
    for (let a = shape.length - 1; a >= 0; a--) {
      const coord = rest % shape[a];
      rest = Math.floor(rest / shape[a]);
      if (!axes.includes(a)) k += coord * stride;
      stride *= kept[a];
    }
    out[i] = mean ? upstream[k] / count : upstream[k];
  });
  return out;
}

it('replace tfjs\'s Sum and Mean gradients once the backend is up', () => {
  expect(tf.getGradient(tf.Sum)).toBe(sumGradConfig);
  expect(tf.getGradient(tf.Mean)).toBe(meanGradConfig);
});

describe.each(['wasm', 'cpu'] as const)('Sum and Mean gradients on %s', (backend) => {
  it.each([
    { axes: [0, 1, 2, 3], keepDims: false },
    { axes: [1, 2], keepDims: true },
    { axes: [3], keepDims: false },
    { axes: [0, 2], keepDims: false },
  ])('spread dy over axes $axes (keepDims $keepDims), without leaks', async ({ axes, keepDims }) => {
    const xv = randomValues(shape.reduce((a, b) => a * b, 1), 71);
    const outSize = shape.reduce((n, d, a) => (axes.includes(a) ? n : n * d), 1);
    const upstream = randomValues(outSize, 72);
    const [dSum, dMean] = await runOn(backend, () => {
      const x = tf.tensor(xv, shape);
      const grad = (reduce: (t: tf.Tensor) => tf.Tensor) =>
        tf.grad((t: tf.Tensor) => { const r = reduce(t); return tf.sum(tf.mul(r, tf.tensor(upstream, r.shape))); })(x);
      const all = axes.length === shape.length;
      return [grad((t) => tf.sum(t, all ? undefined : axes, keepDims)), grad((t) => tf.mean(t, all ? undefined : axes, keepDims))];
    });
    expect(relativeError(dSum, expected(axes, false, upstream))).toBeLessThan(1e-6);
    expect(relativeError(dMean, expected(axes, true, upstream))).toBeLessThan(1e-6);
  });
});
