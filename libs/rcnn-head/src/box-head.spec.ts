import { seededRandom, type ParamTree } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { getBoxHead, mlpFc6FromTorch, type InjectedTail, type MlpHeadParams } from './box-head';
import { initPredictor, predictor, type PredictorParams } from './predictor';
import { loadFixture, relativeError } from './testing/fixtures';

interface HeadFixture {
  rois: number;
  channels: number;
  poolSize: [number, number];
  hidden: number;
  numClasses: number;
  pooled: number[];
  features: number[];
  classLogits: number[];
  boxDeltas: number[];
  [weight: string]: unknown;
}
const fx = loadFixture<HeadFixture>('box-head.json');
const weight = (name: string) => fx[name] as number[];

function variable<R extends tf.Rank>(t: tf.Tensor<R>): tf.Variable<R> {
  const v = tf.variable(t);
  t.dispose();
  return v;
}

/** torch Linear weight [out, in] → kernel [in, out]. */
function linear(name: string, inFeatures: number, outFeatures: number) {
  return {
    kernel: variable(tf.tidy(() => tf.transpose(tf.tensor2d(weight(`${name}.weight`), [outFeatures, inFeatures])))),
    bias: variable(tf.tensor1d(weight(`${name}.bias`))),
  };
}

const disposeTree = (tree: ParamTree) =>
  Object.values(tree).forEach((v) => (v instanceof tf.Variable ? v.dispose() : disposeTree(v)));

describe('mlp head and predictor against torchvision TwoMLPHead / FastRCNNPredictor', () => {
  it('gives torchvision features, class logits and deltas from imported weights', () => {
    const before = tf.memory().numTensors;
    const { rois, channels, poolSize, hidden, numClasses } = fx;
    const head = getBoxHead('mlp');
    const params: MlpHeadParams = {
      fc6: { kernel: variable(mlpFc6FromTorch(new Float32Array(weight('fc6.weight')), channels, poolSize)), bias: variable(tf.tensor1d(weight('fc6.bias'))) },
      fc7: linear('fc7', hidden, hidden),
    };
    const pooled = tf.tensor4d(fx.pooled, [rois, poolSize[0], poolSize[1], channels]);
    const features = head.apply(params, pooled, { training: false });
    expect(features.shape).toEqual([rois, hidden]);
    expect(relativeError(features.dataSync(), fx.features)).toBeLessThan(1e-4);

    const p: PredictorParams = { cls_score: linear('cls_score', hidden, numClasses), bbox_pred: linear('bbox_pred', hidden, 4 * numClasses) };
    const out = predictor(p, features);
    expect(out.classLogits.shape).toEqual([rois, numClasses]);
    expect(out.boxDeltas.shape).toEqual([rois, 4 * numClasses]);
    expect(relativeError(out.classLogits.dataSync(), fx.classLogits)).toBeLessThan(1e-4);
    expect(relativeError(out.boxDeltas.dataSync(), fx.boxDeltas)).toBeLessThan(1e-4);
    tf.dispose([pooled, features, out.classLogits, out.boxDeltas]);
    disposeTree(params);
    disposeTree(p);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('mlpFc6FromTorch takes a tensor too, and permutes NCHW columns to NHWC rows', () => {
    const before = tf.memory().numTensors;
    // out = 2, C = 3, h = 1, w = 2: torch column c·2 + x, Lumen row x·3 + c.
    const torchWeight = tf.tensor2d([[0, 1, 10, 11, 20, 21], [100, 101, 110, 111, 120, 121]]);
    const kernel = mlpFc6FromTorch(torchWeight, 3, [1, 2]);
    expect(kernel.shape).toEqual([6, 2]);
    expect(Array.from(kernel.dataSync())).toEqual([0, 100, 10, 110, 20, 120, 1, 101, 11, 111, 21, 121]);
    tf.dispose([torchWeight, kernel]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('getBoxHead', () => {
  it("'mlp' initialises as torch nn.Linear (U(±1/sqrt(in))) and reports its width", () => {
    const before = tf.memory().numTensors;
    const head = getBoxHead('mlp');
    const options = { inChannels: 8, poolSize: [7, 7] as [number, number], hidden: 64 };
    const p = head.init(options, seededRandom(1));
    expect(p.fc6.kernel.shape).toEqual([392, 64]);
    expect(p.fc7.kernel.shape).toEqual([64, 64]);
    const bound = 1 / Math.sqrt(392);
    const k = Array.from(p.fc6.kernel.dataSync());
    expect(Math.max(...k.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...k.map(Math.abs))).toBeGreaterThan(0.99 * bound);
    expect(head.outChannels(options)).toBe(64);
    expect(head.outChannels({ inChannels: 8, poolSize: [7, 7] })).toBe(1024);
    const pooled = tf.randomNormal<tf.Rank.R4>([3, 7, 7, 8], 0, 1, 'float32', 2);
    const x = head.apply(p, pooled, { training: true });
    expect(x.shape).toEqual([3, 64]);
    expect(Array.from(x.dataSync()).every((v) => v >= 0)).toBe(true);
    tf.dispose([pooled, x]);
    disposeTree(p);
    expect(tf.memory().numTensors).toBe(before);
  });

  /** A stand-in backbone tail: one 1x1 conv to 5 channels, stride 2 (a [R, h', w', D] map). */
  function fakeTail(returns2d: boolean): InjectedTail<{ conv: tf.Variable }> {
    return {
      init: (rng) => ({ conv: variable(tf.tensor4d(Array.from({ length: 20 }, () => rng() - 0.5), [1, 1, 4, 5])) }),
      apply: (params, pooled) => {
        const map = tf.conv2d(pooled, params.conv as tf.Variable<tf.Rank.R4>, 2, 'valid');
        if (!returns2d) return map;
        const flat = tf.reshape(map, [pooled.shape[0], -1]) as tf.Tensor2D;
        map.dispose();
        return flat;
      },
      outChannels: 5,
    };
  }

  it("'resnet-tail' runs the injected tail and averages its map; 'vgg-fc' flattens it (NHWC)", () => {
    const before = tf.memory().numTensors;
    const options = { inChannels: 4, poolSize: [4, 4] as [number, number] };
    const pooled = tf.randomNormal<tf.Rank.R4>([3, 4, 4, 4], 0, 1, 'float32', 3);
    for (const name of ['resnet-tail', 'vgg-fc'] as const) {
      const tail = fakeTail(false);
      const head = getBoxHead(name, tail);
      const p = head.init(options, seededRandom(4));
      const x = head.apply(p, pooled, { training: false });
      const map = tail.apply(p, pooled, { training: false }) as tf.Tensor4D;
      const expected = name === 'resnet-tail' ? tf.mean(map, [1, 2]) : tf.reshape(map, [3, 20]);
      expect(x.shape).toEqual(expected.shape);
      expect(relativeError(x.dataSync(), Array.from(expected.dataSync()))).toBeLessThan(1e-6);
      expect(head.outChannels(options)).toBe(5);
      tf.dispose([x, map, expected]);
      disposeTree(p);
    }
    const flat = getBoxHead('vgg-fc', fakeTail(true));
    const p = flat.init(options, seededRandom(4));
    const x = flat.apply(p, pooled, { training: false });
    expect(x.shape).toEqual([3, 20]);
    tf.dispose([pooled, x]);
    disposeTree(p);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the bad argument', () => {
    expect(() => getBoxHead('resnet-tail')).toThrow("Error in getBoxHead: 'resnet-tail' needs the backbone's tail: pass it as 'tail' ({ init, apply, outChannels }).");
    expect(() => getBoxHead('vgg-fc', { init: () => ({}), apply: () => tf.zeros([1, 1]), outChannels: 0 } as unknown as InjectedTail)).toThrow(
      "Error in getBoxHead: 'tail' must be { init(rng), apply(params, pooled, ctx), outChannels } (the backbone's tail)",
    );
    expect(() => getBoxHead('fpn' as 'mlp')).toThrow(`Error in getBoxHead: 'name' must be 'mlp', 'conv-fc', 'resnet-tail' or 'vgg-fc', but got "fpn".`);
    const head = getBoxHead('mlp');
    expect(() => head.init({ inChannels: 4, poolSize: [7] as unknown as [number, number] }, seededRandom(1))).toThrow(
      "Error in mlpHead.init: 'poolSize' must be [height, width] (positive integers), but got [7].",
    );
    const before = tf.memory().numTensors;
    const p = head.init({ inChannels: 2, poolSize: [2, 2], hidden: 3 }, seededRandom(1));
    const pooled = tf.zeros<tf.Rank.R4>([1, 2, 2, 3]);
    expect(() => head.apply(p, pooled, { training: false })).toThrow(
      "Error in mlpHead.apply: 'params.fc6' must have kernel [12, 3] and bias [3], but got kernel [8,3] and bias [3].",
    );
    pooled.dispose();
    disposeTree(p);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('initPredictor', () => {
  it('has torchvision names, [in, out] kernels, N(0, 0.01²) / N(0, 0.001²) and zero biases', () => {
    const before = tf.memory().numTensors;
    const p = initPredictor(256, 21, seededRandom(5));
    expect(p.cls_score.kernel.shape).toEqual([256, 21]);
    expect(p.bbox_pred.kernel.shape).toEqual([256, 84]);
    const std = (v: tf.Variable) => {
      const a = Array.from(v.dataSync());
      return Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    };
    expect(std(p.cls_score.kernel)).toBeCloseTo(0.01, 3);
    expect(std(p.bbox_pred.kernel)).toBeCloseTo(0.001, 4);
    expect(Array.from(p.bbox_pred.bias.dataSync()).every((v) => v === 0)).toBe(true);
    disposeTree(p);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the bad argument', () => {
    expect(() => initPredictor(16, 1, seededRandom(1))).toThrow("Error in initPredictor: 'numClasses' must be an integer >= 2 (background included), but got 1.");
    const before = tf.memory().numTensors;
    const p = initPredictor(16, 3, seededRandom(1));
    const x = tf.zeros<tf.Rank.R2>([2, 8]);
    expect(() => predictor(p, x)).toThrow("Error in predictor: 'params.cls_score' must have kernel [8, 3] and bias [3], but got kernel [16,3] and bias [3].");
    x.dispose();
    disposeTree(p);
    expect(tf.memory().numTensors).toBe(before);
  });
});
