import * as tf from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';

beforeAll(setUpWasmAndCpu);

const imageShape: [number, number, number, number] = [2, 5, 6, 3];
const imageSize = imageShape.reduce((a, b) => a * b);
// Inside, partly outside (extrapolated samples pass no gradient), degenerate (crop size
// from one point), and on integer sample positions.
const boxes = [
  [0.1, 0.2, 0.7, 0.9],
  [-0.2, 0.3, 0.6, 1.3],
  [0.5, 0.5, 0.5, 0.5],
  [0, 0, 1, 1],
];
const boxIndex = [1, 0, 1, 0];

describe.each([
  { method: 'bilinear' as const, crop: [4, 3] as [number, number] },
  { method: 'nearest' as const, crop: [3, 5] as [number, number] },
  { method: 'bilinear' as const, crop: [1, 1] as [number, number] },
])('cropAndResize gradient w.r.t. the image ($method, crop $crop)', ({ method, crop }) => {
  const weights = randomValues(boxes.length * crop[0] * crop[1] * imageShape[3], 51);
  const loss = (image: tf.Tensor) =>
    tf.sum(tf.mul(
      tf.image.cropAndResize(image as tf.Tensor4D, tf.tensor2d(boxes), tf.tensor1d(boxIndex, 'int32'), crop, method, 0.5),
      tf.tensor4d(weights, [boxes.length, ...crop, imageShape[3]]),
    ));

  // The crop is linear in the image, so the exact gradient is the loss of each unit image.
  async function probedGradient(): Promise<Float32Array> {
    await tf.setBackend('cpu');
    const out = new Float32Array(imageSize);
    const base = tf.tidy(() => loss(tf.zeros(imageShape)).dataSync()[0]);
    for (let i = 0; i < imageSize; i++) {
      const unit = new Float32Array(imageSize);
      unit[i] = 1;
      out[i] = tf.tidy(() => loss(tf.tensor4d(unit, imageShape)).dataSync()[0]) - base;
    }
    return out;
  }

  it('is the adjoint of the forward sampling, on wasm and cpu, without leaks', async () => {
    const expected = await probedGradient();
    const image = randomValues(imageSize, 52);
    const grad = () => [tf.grad(loss)(tf.tensor4d(image, imageShape))];
    const [onWasm] = await runOn('wasm', grad);
    const [onCpu] = await runOn('cpu', grad);
    expect(relativeError(onWasm, expected)).toBeLessThan(1e-5);
    expect(relativeError(onCpu, expected)).toBeLessThan(1e-5);
  });
});

describe('cropAndResize gradient w.r.t. the boxes', () => {
  it('is refused with a clear error rather than returned as zeros', async () => {
    await tf.setBackend('cpu');
    const image = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
    const boxesT = tf.tensor2d([[0, 0, 1, 1]]);
    expect(() =>
      tf.grad((b: tf.Tensor) => tf.sum(tf.image.cropAndResize(image, b as tf.Tensor2D, tf.tensor1d([0], 'int32'), [2, 2])))(boxesT),
    ).toThrow(/gradient for `image` only/);
    tf.dispose([image, boxesT]);
  });
});
