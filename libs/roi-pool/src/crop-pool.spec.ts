import * as tf from '@tensorflow/tfjs-core';
import { cropPool } from './crop-pool';
import { setKernelChoice, type KernelChoice } from './kernels/select-kernels';
import { seededRandom } from '@lumen/core';
import { relativeError } from './testing/fixtures';

afterEach(() => setKernelChoice('auto'));

// Boxes in input pixels of a 2x6x7 map at scale 1/2 (a 12x14 input): inside, over each
// border, fully outside, smaller than a map pixel, empty, inverted, the whole input.
const BOXES = [
  [1, 2, 9, 10],
  [-4, -3, 6, 5],
  [8, 6, 17.3, 15.2],
  [20, 20, 30, 28],
  [5, 5, 5.6, 5.4],
  [3, 4, 3, 4],
  [6, 7, 2, 3],
  [0, 0, 14, 12],
  [2.3, 1.7, 11.9, 8.2],
];
const BOX_INDICES = [0, 1, 0, 1, 0, 1, 0, 1, 1];
const SCALE = 0.5;

function map(channels: number, seed: number): tf.Tensor4D {
  const random = seededRandom(seed);
  return tf.tensor4d(Float32Array.from({ length: 2 * 6 * 7 * channels }, () => random() * 2 - 1), [2, 6, 7, channels]);
}

/** Luminoth's layer as TensorFlow ops (tfjs' cpu kernels mirror TensorFlow's). */
function luminoth(features: tf.Tensor4D, boxes: number[][], boxIndices: number[], [h, w]: [number, number], scale: number): tf.Tensor4D {
  const [, height, width] = features.shape;
  const inH = height / scale;
  const inW = width / scale;
  return tf.tidy(() => {
    const normalised = tf.tensor2d(boxes.map(([x1, y1, x2, y2]) => [y1 / inH, x1 / inW, y2 / inH, x2 / inW]));
    const crops = tf.image.cropAndResize(features, normalised, tf.tensor1d(boxIndices, 'int32'), [2 * h, 2 * w], 'bilinear', 0);
    return tf.maxPool(crops, 2, 2, 'valid');
  });
}

const runs = [3, 4].flatMap((channels) => (['js', 'auto'] as KernelChoice[]).flatMap((kernels) => [[2, 3], [1, 1], [3, 2]].map((size) => [channels, kernels, size as [number, number]] as const)));

describe('cropPool', () => {
  it.each(runs)('is crop_and_resize to 2x then a 2x2 max-pool (Luminoth), %p channels, %s kernels, output %p', (channels, kernels, size) => {
    setKernelChoice(kernels);
    const features = map(channels, 3);
    const boxes = tf.tensor2d(BOXES);
    const boxIndices = tf.tensor1d(BOX_INDICES, 'int32');
    const expected = luminoth(features, BOXES, BOX_INDICES, size, SCALE);
    const before = tf.memory().numTensors;
    const out = cropPool(features, boxes, boxIndices, size, SCALE);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(out.shape).toEqual([BOXES.length, ...size, channels]);
    expect(relativeError(out.dataSync(), expected.dataSync())).toBeLessThan(1e-5);
    tf.dispose([features, boxes, boxIndices, expected, out]);
  });

  it.each([
    [3, 'js'],
    [4, 'js'],
    [4, 'wasm'],
  ] as const)('has the gradient of finite differences, %p channels, %s kernels', (channels, kernels) => {
    setKernelChoice(kernels);
    const random = seededRandom(5);
    const shape: [number, number, number, number] = [2, 6, 7, channels];
    const values = Float32Array.from({ length: 2 * 6 * 7 * channels }, () => random() * 2 - 1);
    const boxes = tf.tensor2d(BOXES);
    const boxIndices = tf.tensor1d(BOX_INDICES, 'int32');
    const weights = Float32Array.from({ length: BOXES.length * 2 * 3 * channels }, () => random() * 2 - 1);
    const dy = tf.tensor4d(weights, [BOXES.length, 2, 3, channels]);
    const f = (x: tf.Tensor) => cropPool(x as tf.Tensor4D, boxes, boxIndices, [2, 3], SCALE);
    const before = tf.memory().numTensors;
    const grad = tf.tidy(() => tf.grad(f)(tf.tensor4d(values, shape), dy).dataSync());
    expect(tf.memory().numTensors).toBe(before);
    // loss = <f(x), weights>, piecewise linear: central differences are exact away from ties.
    const loss = (x: Float32Array) => tf.tidy(() => (f(tf.tensor4d(x, shape)).dataSync() as Float32Array).reduce((s, v, k) => s + v * weights[k], 0));
    const eps = 1e-3;
    const numeric = Array.from(values, (_, i) => {
      const at = (delta: number) => loss(values.map((v, k) => (k === i ? v + delta : v)));
      return (at(eps) - at(-eps)) / (2 * eps);
    });
    expect(relativeError(grad, numeric)).toBeLessThan(1e-4);
    tf.dispose([boxes, boxIndices, dy]);
  });

  it('sends the gradient of a tie to the first maximum of the window (row-major)', () => {
    // A constant map: every crop sample inside the map is 1, the ones outside 0.
    const features = tf.ones([1, 4, 4, 4]) as tf.Tensor4D;
    const boxIndices = tf.tensor1d([0], 'int32');
    const dy = tf.ones([1, 1, 1, 4]);
    for (const kernels of ['js', 'wasm'] as const) {
      setKernelChoice(kernels);
      // Scale 1: the input is 4x4 pixels; the box covers the map's rows/columns 0..3 x 0..3,
      // so the 2x2 crop samples the four corner pixels: all 1, the first (0, 0) wins.
      const grad = tf.grad((x: tf.Tensor) => cropPool(x as tf.Tensor4D, tf.tensor2d([[0, 0, 4, 4]]), boxIndices, [1, 1], 1))(features, dy);
      const values = grad.dataSync() as Float32Array;
      const pixel = (y: number, x: number) => Array.from(values.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4));
      expect(pixel(0, 0)).toEqual([1, 1, 1, 1]);
      expect(values.reduce((s, v) => s + v, 0)).toBe(4);
      grad.dispose();
    }
    tf.dispose([features, boxIndices, dy]);
  });

  it('handles no boxes: an empty output and a zero gradient', () => {
    const features = tf.ones([1, 3, 3, 4]) as tf.Tensor4D;
    const boxes = tf.zeros([0, 4]) as tf.Tensor2D;
    const boxIndices = tf.zeros([0], 'int32') as tf.Tensor1D;
    const f = (x: tf.Tensor) => cropPool(x as tf.Tensor4D, boxes, boxIndices, [7, 7], 1 / 16);
    const out = f(features);
    expect(out.shape).toEqual([0, 7, 7, 4]);
    const grad = tf.grad(f)(features, tf.zeros([0, 7, 7, 4]));
    expect(Array.from(grad.dataSync())).toEqual(new Array(36).fill(0));
    tf.dispose([features, boxes, boxIndices, out, grad]);
  });

  it('names a bad argument', () => {
    const features = tf.zeros([1, 3, 3, 1]) as tf.Tensor4D;
    const boxes = tf.tensor2d([[0, 0, 1, 1]]);
    const idx = tf.tensor1d([0], 'int32');
    expect(() => cropPool(features, boxes, tf.tensor1d([1], 'int32'), [7, 7], 1)).toThrow(
      "Error in cropPool: 'boxIndices' must be in [0, 1) (the features' batch), but index 0 is 1.",
    );
    expect(() => cropPool(features, boxes, idx, [7, 7], -1)).toThrow("Error in cropPool: 'spatialScale' must be a positive number, but got -1.");
    expect(() => cropPool(features, tf.tensor2d([[0, 0, Infinity, 1]]), idx, [7, 7], 1)).toThrow("Error in cropPool: 'boxes' must be finite, but row 0 is [0, 0, Infinity, 1].");
    expect(() => cropPool(features, boxes, idx, [7.5, 7], 1)).toThrow("Error in cropPool: 'outputSize' must be [height, width] of positive integers, but got [7.5, 7].");
    tf.dispose([features, boxes, idx]);
  });
});
