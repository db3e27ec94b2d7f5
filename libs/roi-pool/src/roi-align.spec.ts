import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { setKernelChoice, type KernelChoice } from './kernels/select-kernels';
import { roiAlign } from './roi-align';
import { seededRandom } from '@lumen/core';
import { loadFixture, relativeError, type RoiAlignMap } from './testing/fixtures';
import { resetPoolingPath, usePoolingPath, type PoolingPath } from './testing/pooling-paths';

const { maps } = loadFixture<{ maps: RoiAlignMap[] }>('roi-align.json');

afterEach(resetPoolingPath);

function inputs(map: RoiAlignMap) {
  return {
    features: tf.tensor4d(map.features, map.shape),
    boxes: tf.tensor2d(map.boxes),
    boxIndices: tf.tensor1d(map.boxIndices, 'int32'),
  };
}

// Every torchvision case, through the JavaScript kernels, through the default choice (wasm
// SIMD for the 8-channel map, JavaScript for the 3-channel one), and through a backend kernel.
const runs = maps.flatMap((map) =>
  (['js', 'auto', 'backend kernel'] as PoolingPath[]).flatMap((kernels) =>
    map.cases.map((c) => [`${map.name} ${map.shape.join('x')}`, c.aligned, c.samplingRatio, kernels, map, c] as const),
  ),
);

describe('roiAlign against torchvision.ops.roi_align', () => {
  it.each(runs)('%s, aligned %p, sampling ratio %p, %s kernels: forward and backward', (_, aligned, ratio, kernels, map, c) => {
    usePoolingPath(kernels);
    const { features, boxes, boxIndices } = inputs(map);
    const dy = tf.tensor4d(c.dy, [map.boxes.length, ...map.outputSize, map.shape[3]]);
    const before = tf.memory().numTensors;
    const f = (x: tf.Tensor) => roiAlign(x as tf.Tensor4D, boxes, boxIndices, map.outputSize, map.spatialScale, ratio, aligned);
    const out = f(features);
    expect(out.shape).toEqual([map.boxes.length, ...map.outputSize, map.shape[3]]);
    expect(relativeError(out.dataSync(), c.output)).toBeLessThan(1e-4);
    const grad = tf.grad(f)(features, dy);
    expect(grad.shape).toEqual(map.shape);
    expect(relativeError(grad.dataSync(), c.grad)).toBeLessThan(1e-4);
    tf.dispose([out, grad]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([features, boxes, boxIndices, dy]);
  });
});

describe('roiAlign', () => {
  it('runs the 8-channel map on wasm SIMD kernels in this Node', () => {
    setKernelChoice('wasm');
    const map = maps.find((m) => m.shape[3] % 4 === 0) as RoiAlignMap;
    const { features, boxes, boxIndices } = inputs(map);
    const out = roiAlign(features, boxes, boxIndices, map.outputSize, map.spatialScale, 2, false);
    expect(relativeError(out.dataSync(), map.cases[0].output)).toBeLessThan(1e-4);
    tf.dispose([out, features, boxes, boxIndices]);
  });

  it('has the gradient of finite differences (tiny map; the op is linear in the features)', () => {
    const random = seededRandom(7);
    const shape: [number, number, number, number] = [2, 4, 5, 2];
    const values = Float32Array.from({ length: 80 }, () => random() * 2 - 1);
    const boxes = tf.tensor2d([[1, 1.5, 7.5, 6], [-2, 3, 4, 9], [6.2, 0.4, 6.9, 1.1]]);
    const boxIndices = tf.tensor1d([0, 1, 1], 'int32');
    const weights = Float32Array.from({ length: 3 * 2 * 3 * 2 }, () => random() * 2 - 1);
    const dy = tf.tensor4d(weights, [3, 2, 3, 2]);
    for (const [ratio, aligned] of [[2, false], [0, true]] as const) {
      const f = (x: tf.Tensor) => roiAlign(x as tf.Tensor4D, boxes, boxIndices, [2, 3], 0.5, ratio, aligned);
      // loss = <f(x), weights>; its gradient is f's backward pass applied to the weights.
      const loss = (x: Float32Array) => tf.tidy(() => (f(tf.tensor4d(x, shape)).dataSync() as Float32Array).reduce((s, v, k) => s + v * weights[k], 0));
      const grad = tf.tidy(() => tf.grad(f)(tf.tensor4d(values, shape), dy).dataSync());
      const eps = 0.25;
      const numeric = Array.from(values, (_, i) => {
        const at = (delta: number) => loss(values.map((v, k) => (k === i ? v + delta : v)));
        return (at(eps) - at(-eps)) / (2 * eps);
      });
      expect(relativeError(grad, numeric)).toBeLessThan(1e-4);
    }
    tf.dispose([boxes, boxIndices, dy]);
  });

  it('gives the same answers on wasm and JavaScript kernels for any boxes (property)', () => {
    const random = seededRandom(11);
    const features = tf.tensor4d(Float32Array.from({ length: 2 * 5 * 6 * 4 }, () => random() * 2 - 1), [2, 5, 6, 4]);
    const coordinate = fc.double({ min: -12, max: 36, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(coordinate, coordinate, coordinate, coordinate, fc.integer({ min: 0, max: 1 })), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: -1, max: 3 }),
        fc.boolean(),
        (rows, ratio, aligned) => {
          const boxes = tf.tensor2d(rows.map((r) => r.slice(0, 4) as number[]));
          const boxIndices = tf.tensor1d(rows.map((r) => r[4]), 'int32');
          const dy = tf.tensor4d(Float32Array.from({ length: rows.length * 3 * 2 * 4 }, () => random() * 2 - 1), [rows.length, 3, 2, 4]);
          const run = (kernels: KernelChoice) => {
            setKernelChoice(kernels);
            const f = (x: tf.Tensor) => roiAlign(x as tf.Tensor4D, boxes, boxIndices, [3, 2], 0.25, ratio, aligned);
            return tf.tidy(() => [f(features).dataSync(), tf.grad(f)(features, dy).dataSync()]);
          };
          const [wasmOut, wasmGrad] = run('wasm');
          const [jsOut, jsGrad] = run('js');
          tf.dispose([boxes, boxIndices, dy]);
          return relativeError(wasmOut, jsOut) < 1e-5 && relativeError(wasmGrad, jsGrad) < 1e-5;
        },
      ),
      { seed: 42, numRuns: 60 },
    );
    features.dispose();
  });

  it('handles no boxes: an empty output and a zero gradient', () => {
    const features = tf.ones([1, 3, 3, 4]) as tf.Tensor4D;
    const boxes = tf.zeros([0, 4]) as tf.Tensor2D;
    const boxIndices = tf.zeros([0], 'int32') as tf.Tensor1D;
    const f = (x: tf.Tensor) => roiAlign(x as tf.Tensor4D, boxes, boxIndices, [7, 7], 1 / 16, 2);
    const out = f(features);
    expect(out.shape).toEqual([0, 7, 7, 4]);
    const grad = tf.grad(f)(features, tf.zeros([0, 7, 7, 4]));
    expect(Array.from(grad.dataSync())).toEqual(new Array(36).fill(0));
    tf.dispose([features, boxes, boxIndices, out, grad]);
  });

  it('carries no gradient to the boxes: asking for one is an error', () => {
    const features = tf.ones([1, 3, 3, 1]) as tf.Tensor4D;
    const boxIndices = tf.tensor1d([0], 'int32');
    expect(() => tf.grad((b: tf.Tensor) => roiAlign(features, b as tf.Tensor2D, boxIndices, [2, 2], 1, 2))(tf.tensor2d([[0, 0, 2, 2]]))).toThrow(
      /Cannot compute gradient/,
    );
    tf.dispose([features, boxIndices]);
  });

  it('names a bad argument', () => {
    const features = tf.zeros([2, 3, 3, 1]) as tf.Tensor4D;
    const boxes = tf.tensor2d([[0, 0, 1, 1]]);
    const idx = tf.tensor1d([0], 'int32');
    const call = (over: Partial<{ f: unknown; b: unknown; i: unknown; size: unknown; scale: unknown; ratio: unknown; aligned: unknown }>) => () =>
      roiAlign(
        (over.f ?? features) as tf.Tensor4D,
        (over.b ?? boxes) as tf.Tensor2D,
        (over.i ?? idx) as tf.Tensor1D,
        (over.size ?? [2, 2]) as [number, number],
        (over.scale ?? 1) as number,
        (over.ratio ?? 2) as number,
        (over.aligned ?? false) as boolean,
      );
    expect(call({ f: tf.zeros([3, 3, 1]) })).toThrow("Error in roiAlign: 'features' must be a rank-4 tensor, but got a float32 tensor of shape [3,3,1].");
    expect(call({ f: tf.zeros([1, 3, 3, 1], 'int32') })).toThrow("Error in roiAlign: 'features' must be a float32 tensor, but got a int32 tensor of shape [1,3,3,1].");
    expect(call({ f: tf.zeros([1, 0, 3, 1]) })).toThrow("Error in roiAlign: 'features' must have a height and a width of at least 1");
    expect(call({ b: tf.zeros([1, 5]) })).toThrow("Error in roiAlign: 'boxes' must be boxes of shape [R, 4], but got a float32 tensor of shape [1,5].");
    expect(call({ b: tf.tensor2d([[0, NaN, 1, 1]]) })).toThrow("Error in roiAlign: 'boxes' must be finite, but row 0 is [0, NaN, 1, 1].");
    expect(call({ i: tf.tensor1d([0]) })).toThrow("Error in roiAlign: 'boxIndices' must be a int32 tensor, but got a float32 tensor of shape [1].");
    expect(call({ i: tf.tensor1d([0, 1], 'int32') })).toThrow("Error in roiAlign: 'boxes' and 'boxIndices' must have the same length, but got 1 and 2.");
    expect(call({ i: tf.tensor1d([2], 'int32') })).toThrow("Error in roiAlign: 'boxIndices' must be in [0, 2) (the features' batch), but index 0 is 2.");
    expect(call({ size: [7, 0] })).toThrow("Error in roiAlign: 'outputSize' must be [height, width] of positive integers, but got [7, 0].");
    expect(call({ size: 7 })).toThrow("Error in roiAlign: 'outputSize' must be [height, width] of positive integers, but got 7.");
    expect(call({ scale: 0 })).toThrow("Error in roiAlign: 'spatialScale' must be a positive number, but got 0.");
    expect(call({ ratio: 1.5 })).toThrow("Error in roiAlign: 'samplingRatio' must be an integer (<= 0: adaptive), but got 1.5.");
    expect(call({ aligned: 1 })).toThrow("Error in roiAlign: 'aligned' must be a boolean, but got number.");
    tf.dispose([features, boxes, idx]);
  });
});
