import { disposeParams, flattenParams, seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { getBackbone, type BackboneParams, type ForwardContext } from './index';

let before: number;
beforeEach(() => (before = tf.memory().numTensors));
afterEach(() => expect(tf.memory().numTensors).toBe(before));

describe('body and tail arguments', () => {
  const bb = getBackbone('resnet18');

  it('name what is wrong', () => {
    const params = bb.init({ width: 1 / 64 }, seededRandom(1));
    const ok = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    const gray = tf.zeros([1, 32, 32, 1]) as tf.Tensor4D;
    const flat = tf.zeros([32, 32, 3]);
    const ints = tf.zeros([1, 32, 32, 3], 'int32') as tf.Tensor4D;
    const pooled = tf.zeros([2, 7, 7, 5]) as tf.Tensor4D;
    const ctx = { training: false };
    expect(() => bb.body(params, gray, ctx)).toThrow("Error in resnet18.body: 'images' must have 3 channels (NHWC), but got a tensor of shape [1,32,32,1].");
    expect(() => bb.body(params, flat as tf.Tensor4D, ctx)).toThrow("Error in resnet18.body: 'images' must be a rank-4 float32 NHWC tensor, but got a float32 tensor of shape [32,32,3].");
    expect(() => bb.body(params, ints, ctx)).toThrow("Error in resnet18.body: 'images' must be a rank-4 float32 NHWC tensor, but got a int32 tensor of shape [1,32,32,3].");
    expect(() => bb.body(params, ok, undefined as unknown as ForwardContext)).toThrow("Error in resnet18.body: 'ctx' must be { training: boolean }, but got undefined.");
    expect(() => bb.body(null as unknown as BackboneParams, ok, ctx)).toThrow("Error in resnet18.body: 'params' must be the nested params of init or importWeights, but got null.");
    expect(() => bb.tail(params, pooled, ctx)).toThrow("Error in resnet18.tail: 'pooled' must have the body's 8 channels (NHWC), but got a tensor of shape [2,7,7,5].");
    expect(() => bb.body({ conv1: {} } as BackboneParams, ok, ctx)).toThrow("Error in resnet18.body: params lack the tf.Variable 'conv1.kernel'.");
    tf.dispose([ok, gray, flat, ints, pooled]);
    disposeParams(params);
  });

  it('VGG-16 takes 7x7 RoIs only', () => {
    const vgg = getBackbone('vgg16');
    const params = vgg.init({ width: 1 / 64 }, seededRandom(2));
    const pooled = tf.zeros([1, 14, 14, 8]) as tf.Tensor4D;
    expect(() => vgg.tail(params, pooled, { training: false })).toThrow("Error in vgg16.tail: 'pooled' must be 7x7 RoIs (fc6 was trained on them), but got a tensor of shape [1,14,14,8].");
    pooled.dispose();
    disposeParams(params);
  });
});

describe('VGG dropout', () => {
  const vgg = getBackbone('vgg16');

  it('draws inverted-dropout masks from ctx.rng in training only', () => {
    const params = vgg.init({ width: 1 / 64, dropout: 0.5 }, seededRandom(3));
    const pooled = tf.randomNormal([2, 7, 7, 8], 0, 1, 'float32', 4) as tf.Tensor4D;
    // Biases 1 and identity-like weights would be needed for exact values; compare against no dropout.
    const clean = vgg.tail(params, pooled, { training: false });
    expect(() => vgg.tail(params, pooled, { training: true })).toThrow("Error in vgg16.tail: dropout 0.5 in training draws its masks from 'ctx.rng', but got none.");
    const a = vgg.tail(params, pooled, { training: true, rng: seededRandom(5) });
    const b = vgg.tail(params, pooled, { training: true, rng: seededRandom(5) });
    const d = vgg.tail(params, pooled, { training: true, rng: seededRandom(6) });
    expect(a.dataSync()).toEqual(b.dataSync());
    expect(a.dataSync()).not.toEqual(d.dataSync());
    // Some fc7 outputs dropped (ReLU zeros aside), the eval output unchanged by the option.
    const zeros = (t: tf.Tensor) => Array.from(t.dataSync()).filter((v) => v === 0).length;
    expect(zeros(a)).toBeGreaterThan(zeros(clean));
    tf.dispose([pooled, clean, a, b, d]);
    disposeParams(params);
  });

  it('is off by default', () => {
    const params = vgg.init({ width: 1 / 64 }, seededRandom(3));
    const pooled = tf.randomNormal([2, 7, 7, 8], 0, 1, 'float32', 4) as tf.Tensor4D;
    const train = vgg.tail(params, pooled, { training: true });
    const evaluate = vgg.tail(params, pooled, { training: false });
    expect(train.dataSync()).toEqual(evaluate.dataSync());
    tf.dispose([pooled, train, evaluate]);
    disposeParams(params);
  });
});

describe('params assembled by hand', () => {
  it('run with the default tailStride 2 (options live on the object init made)', () => {
    const bb = getBackbone('resnet18');
    const params = bb.init({ width: 1 / 16, tailStride: 1 }, seededRandom(7));
    const copy = JSON.parse('{}') as BackboneParams;
    Object.assign(copy, params); // same variables, no attached options
    const pooled = tf.randomNormal([1, 8, 8, 16], 0, 1, 'float32', 1) as tf.Tensor4D;
    const stride1 = bb.tail(params, pooled, { training: false });
    const stride2 = bb.tail(copy, pooled, { training: false });
    expect(stride1.shape).toEqual(stride2.shape);
    expect(stride1.dataSync()).not.toEqual(stride2.dataSync());
    tf.dispose([pooled, stride1, stride2]);
    expect(flattenParams(copy).map(([n]) => n)).toEqual(flattenParams(params).map(([n]) => n));
    disposeParams(params);
  });

  it('say when the structure does not fit the stride', () => {
    // At width 1/64 resnet18's layer4 keeps 8 channels: with tailStride 1 it has no projection.
    const bb = getBackbone('resnet18');
    const params = bb.init({ width: 1 / 64, tailStride: 1 }, seededRandom(7));
    const copy = { ...params } as BackboneParams;
    const pooled = tf.zeros([1, 8, 8, 8]) as tf.Tensor4D;
    expect(() => bb.tail(copy, pooled, { training: false })).toThrow(
      "Error in resnet18.tail: 'layer4.0.downsample' is missing, but the block has stride 2 and 8 -> 8 channels (params made with another tailStride?).",
    );
    pooled.dispose();
    disposeParams(params);
  });
});

describe('inference memory', () => {
  it.each(['resnet50', 'vgg16', 'mobilenet_v2'])('%s body and tail leave only their outputs', (name) => {
    const bb = getBackbone(name);
    const params = bb.init({ width: 1 / 64, batchNorm: 'trainable' }, seededRandom(8));
    const x = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const start = tf.memory().numTensors;
    const body = bb.body(params, x, { training: true });
    const pooled = tf.randomNormal([2, 7, 7, bb.bodyChannels({ width: 1 / 64 })], 0, 1, 'float32', 3) as tf.Tensor4D;
    const tail = bb.tail(params, pooled, { training: false });
    expect(tf.memory().numTensors).toBe(start + 3);
    tf.dispose([x, body, pooled, tail]);
    disposeParams(params);
  });
});
