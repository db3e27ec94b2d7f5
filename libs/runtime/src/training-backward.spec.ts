import * as tf from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from './testing/compare';

/**
 * One forward + backward through every op family the detectors use — ResNet stem and
 * bottleneck (frozen and batch-statistics BN), MobileNetV2 inverted residual, VGG
 * conv/fc, RPN head and losses, crop-pool and RoI head with softmax cross-entropy — on
 * wasm, compared with the cpu backend. It also fails if any kernel of it needs the cpu
 * fallback on wasm.
 */
type Params = Record<string, tf.Tensor>;

const shapes: Record<string, number[]> = {
  stem: [7, 7, 3, 8], a1: [1, 1, 8, 4], a2: [3, 3, 4, 4], a3: [1, 1, 4, 12], down: [1, 1, 8, 12],
  gamma: [12], beta: [12],
  expand: [1, 1, 12, 18], dw: [3, 3, 18, 1], project: [1, 1, 18, 10],
  vgg: [3, 3, 10, 10], rpnConv: [3, 3, 10, 10], rpnCls: [1, 1, 10, 3], rpnBox: [1, 1, 10, 12],
  fc: [2 * 2 * 10, 16], cls: [16, 4], box: [16, 16],
};

function frozenBn(x: tf.Tensor4D, channels: number, seed: number): tf.Tensor4D {
  const scale = tf.tensor1d(randomValues(channels, seed).map((v) => 1 + 0.1 * v));
  const shift = tf.tensor1d(randomValues(channels, seed + 1).map((v) => 0.1 * v));
  return tf.add(tf.mul(x, scale), shift) as tf.Tensor4D;
}

function smoothL1(diff: tf.Tensor, beta: number): tf.Tensor {
  const a = tf.abs(diff);
  return tf.where(tf.less(a, beta), tf.div(tf.mul(0.5, tf.square(a)), beta), tf.sub(a, 0.5 * beta));
}

function detectorLoss(p: Params, image: tf.Tensor4D): tf.Scalar {
  // ResNet stem: 7x7/2 explicit pad 3, frozen BN, ReLU, 3x3/2 max-pool with pad 1.
  let x = tf.relu(frozenBn(tf.conv2d(image, p.stem as tf.Tensor4D, 2, [[0, 0], [3, 3], [3, 3], [0, 0]]), 8, 1));
  x = tf.maxPool(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], -1e9), 3, 2, 'valid');
  // Bottleneck v1.5 with stride on the 3x3 and a 1x1/2 downsample.
  let y = tf.relu(tf.conv2d(x, p.a1 as tf.Tensor4D, 1, 'valid'));
  y = tf.relu(tf.conv2d(y, p.a2 as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]));
  y = tf.conv2d(y, p.a3 as tf.Tensor4D, 1, 'valid');
  x = tf.relu(tf.add(y, tf.conv2d(x, p.down as tf.Tensor4D, 2, 'valid'))) as tf.Tensor4D;
  // Trainable batch norm from batch statistics.
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  x = tf.batchNorm(x, mean, variance, p.beta as tf.Tensor1D, p.gamma as tf.Tensor1D, 1e-5) as tf.Tensor4D;
  // MobileNetV2 inverted residual: expand, depthwise 3x3 (ReLU6), project.
  let m = tf.relu6(tf.conv2d(x, p.expand as tf.Tensor4D, 1, 'valid'));
  m = tf.relu6(tf.depthwiseConv2d(m, p.dw as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]));
  x = tf.conv2d(m, p.project as tf.Tensor4D, 1, 'valid');
  // VGG conv.
  const features = tf.relu(tf.conv2d(x, p.vgg as tf.Tensor4D, 1, 'same'));
  // RPN head: objectness (sigmoid BCE over sampled anchors) and deltas (smooth L1).
  const h = tf.relu(tf.conv2d(features, p.rpnConv as tf.Tensor4D, 1, 'same'));
  const logits = tf.reshape(tf.conv2d(h, p.rpnCls as tf.Tensor4D, 1, 'valid'), [-1]);
  const deltas = tf.reshape(tf.conv2d(h, p.rpnBox as tf.Tensor4D, 1, 'valid'), [-1, 4]);
  const sampled = tf.tensor1d([0, 3, 5, 8], 'int32');
  const labels = tf.tensor1d([1, 0, 1, 0]);
  const z = tf.gather(logits, sampled);
  const bce = tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, labels)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))));
  const rpnBox = tf.sum(smoothL1(tf.sub(tf.gatherND(deltas, tf.tensor2d([[0], [5]], [2, 1], 'int32')), 0.3), 1 / 9));
  // Crop-pool (crop-and-resize 2x then 2x2 max-pool) and the RoI head.
  const rois = tf.image.cropAndResize(features, tf.tensor2d([[0.1, 0.1, 0.8, 0.9], [0, 0.2, 0.5, 1]]), tf.tensor1d([0, 0], 'int32'), [4, 4]);
  const pooled = tf.reshape(tf.maxPool(rois, 2, 2, 'valid'), [2, -1]);
  const fc = tf.relu(tf.matMul(pooled, p.fc as tf.Tensor2D));
  const scores = tf.matMul(fc, p.cls as tf.Tensor2D);
  const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(scores), tf.oneHot(tf.tensor1d([2, 0], 'int32'), 4)), 1)));
  const boxDeltas = tf.reshape(tf.matMul(fc, p.box as tf.Tensor2D), [2, 4, 4]);
  const trueClass = tf.squeeze(tf.slice(boxDeltas, [0, 2, 0], [1, 1, 4]));
  const rcnnBox = tf.sum(smoothL1(tf.sub(trueClass, 0.1), 1));
  // Global average pool, as a ResNet tail ends.
  const pooledAvg = tf.mean(tf.avgPool(features, 2, 2, 'valid'));
  return tf.addN([bce, rpnBox, ce, rcnnBox, pooledAvg]) as tf.Scalar;
}

describe('forward + backward of the detector op set on wasm', () => {
  beforeAll(setUpWasmAndCpu);

  it('gives the cpu backend gradients to 1e-4, with no cpu fallback and no leaks', async () => {
    const names = Object.keys(shapes);
    const values = names.map((n, i) => randomValues(shapes[n].reduce((a, b) => a * b), 100 + i).map((v) => v * 0.3));
    const image = randomValues(2 * 37 * 45 * 3, 7);
    const step = () => {
      const params: Params = {};
      names.forEach((n, i) => (params[n] = tf.tensor(values[i], shapes[n])));
      const { value, grads } = tf.valueAndGrads((...ts: tf.Tensor[]) => {
        const p: Params = {};
        names.forEach((n, i) => (p[n] = ts[i]));
        return detectorLoss(p, tf.tensor4d(image, [2, 37, 45, 3]));
      })(names.map((n) => params[n]));
      return [value, ...grads];
    };
    const warn = jest.spyOn(console, 'warn');
    const onWasm = await runOn('wasm', step);
    const onCpu = await runOn('cpu', step);
    expect(warn.mock.calls.flat().join('\n')).not.toMatch(/running it on the cpu backend/);
    warn.mockRestore();
    expect(relativeError(onWasm[0], onCpu[0])).toBeLessThan(1e-5);
    names.forEach((n, i) => {
      expect({ n, err: relativeError(onWasm[i + 1], onCpu[i + 1]) < 1e-4 }).toEqual({ n, err: true });
      expect(onWasm[i + 1].some((v) => v !== 0)).toBe(true);
    });
  });
});
