import { disposeParams, flattenParams, seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { backboneOptionsOf, BACKBONE_NAMES, getBackbone, type BackboneParams } from './index';

function trainableNames(params: BackboneParams): string[] {
  return flattenParams(params)
    .filter(([, v]) => v.trainable)
    .map(([n]) => n);
}

describe('init', () => {
  let before: number;
  beforeEach(() => (before = tf.memory().numTensors));
  afterEach(() => expect(tf.memory().numTensors).toBe(before));

  it.each(BACKBONE_NAMES.map((n) => [n]))('%s: one variable per parameter spec, under its dotted name and shape, in both BN modes', (name) => {
    const bb = getBackbone(name);
    const width = name === 'vgg16' ? 1 / 32 : 1 / 16;
    const specs = bb.paramSpecs({ width });
    for (const batchNorm of ['frozen', 'trainable'] as const) {
      const params = bb.init({ width, batchNorm }, seededRandom(1));
      const flat = Object.fromEntries(flattenParams(params));
      expect(Object.keys(flat)).toEqual(specs.map((s) => s.name));
      for (const s of specs) expect(flat[s.name].shape).toEqual(s.shape);
      disposeParams(params);
    }
  });

  it("freezes stages by freezeAt, BN affine when 'frozen', running statistics always", () => {
    const bb = getBackbone('resnet18');
    const frozenBn = bb.init({ width: 1 / 16, freezeAt: 2 }, seededRandom(2));
    const names = trainableNames(frozenBn);
    expect(names.some((n) => n.startsWith('conv1') || n.startsWith('bn1') || n.startsWith('layer1.'))).toBe(false);
    expect(names.every((n) => n.endsWith('.kernel'))).toBe(true);
    expect(names).toContain('layer2.0.conv1.kernel');
    expect(names).toContain('layer4.1.conv2.kernel');

    const trainableBn = bb.init({ width: 1 / 16, freezeAt: 1, batchNorm: 'trainable' }, seededRandom(2));
    const t = trainableNames(trainableBn);
    expect(t).toContain('layer1.0.bn1.weight');
    expect(t).toContain('layer1.0.bn1.bias');
    expect(t.some((n) => n.includes('running_'))).toBe(false);
    expect(t.some((n) => n.startsWith('conv1') || n.startsWith('bn1'))).toBe(false);

    const all = bb.init({ width: 1 / 16, freezeAt: 5 }, seededRandom(2));
    expect(trainableNames(all)).toEqual([]);
    [frozenBn, trainableBn, all].forEach(disposeParams);
  });

  it('freezes VGG by conv block and MobileNetV2 by output stride', () => {
    const vgg = getBackbone('vgg16').init({ width: 1 / 32, freezeAt: 2 }, seededRandom(3));
    expect(trainableNames(vgg)[0]).toBe('features.10.kernel');
    const mobile = getBackbone('mobilenet_v2').init({ width: 0.15, freezeAt: 3 }, seededRandom(3));
    expect(trainableNames(mobile)[0]).toBe('features.7.conv.0.0.kernel');
    disposeParams(vgg);
    disposeParams(mobile);
  });

  it("draws torchvision's initialisation from the rng: kaiming fan_out kernels, BN 1/0/0/1, linear N(0, 0.01)", () => {
    const params = getBackbone('vgg16').init({ width: 1 / 8 }, seededRandom(4));
    const flat = Object.fromEntries(flattenParams(params));
    const std = (name: string) => {
      const v = flat[name].dataSync();
      let s = 0;
      for (const x of v) s += x * x;
      return Math.sqrt(s / v.length);
    };
    // features.2: 3x3, 8 -> 8 channels: std sqrt(2 / (8·9)).
    expect(std('features.2.kernel')).toBeCloseTo(Math.sqrt(2 / 72), 1);
    expect(std('classifier.3.kernel')).toBeCloseTo(0.01, 3);
    expect(Array.from(flat['features.2.bias'].dataSync()).every((x) => x === 0)).toBe(true);
    disposeParams(params);

    const resnet = Object.fromEntries(flattenParams(getBackbone('resnet18').init({ width: 1 / 16 }, seededRandom(4))));
    expect(Array.from(resnet['bn1.weight'].dataSync())).toEqual(new Array(8).fill(1));
    expect(Array.from(resnet['bn1.running_var'].dataSync())).toEqual(new Array(8).fill(1));
    expect(Array.from(resnet['bn1.running_mean'].dataSync())).toEqual(new Array(8).fill(0));
    Object.values(resnet).forEach((v) => v.dispose());
  });

  it('is deterministic given the rng', () => {
    const a = getBackbone('mobilenet_v2').init({ width: 0.15 }, seededRandom(5));
    const b = getBackbone('mobilenet_v2').init({ width: 0.15 }, seededRandom(5));
    const c = getBackbone('mobilenet_v2').init({ width: 0.15 }, seededRandom(6));
    const k = 'features.4.conv.1.0.kernel';
    const [fa, fb, fc] = [a, b, c].map((p) => Object.fromEntries(flattenParams(p)));
    expect(fa[k].dataSync()).toEqual(fb[k].dataSync());
    expect(fa[k].dataSync()).not.toEqual(fc[k].dataSync());
    [a, b, c].forEach(disposeParams);
  });

  it('attaches its options to the params, invisible to walkers', () => {
    const params = getBackbone('resnet18').init({ width: 1 / 16, tailStride: 1 }, seededRandom(7));
    expect(backboneOptionsOf(params)).toEqual({ batchNorm: 'frozen', freezeAt: 0, tailStride: 1, width: 1 / 16, dropout: 0 });
    expect(Object.keys(params)).toEqual(['conv1', 'bn1', 'layer1', 'layer2', 'layer3', 'layer4']);
    expect(JSON.stringify(flattenParams(params).map(([n]) => n)).includes('Symbol')).toBe(false);
    disposeParams(params);
  });

  it('names bad options and arguments', () => {
    const bb = getBackbone('resnet50');
    const rng = seededRandom(8);
    expect(() => bb.init({ freezeAt: 6 }, rng)).toThrow("Error in resnet50.init: 'freezeAt' must be an integer from 0 to 5, but got 6.");
    expect(() => bb.init({ batchNorm: 'sync' as 'frozen' }, rng)).toThrow("Error in resnet50.init: 'batchNorm' must be 'frozen' or 'trainable', but got 'sync'.");
    expect(() => bb.init({ tailStride: 3 as 2 }, rng)).toThrow("Error in resnet50.init: 'tailStride' must be 1 or 2, but got 3.");
    expect(() => bb.init({ width: -1 }, rng)).toThrow("Error in resnet50.init: 'width' must be a finite number > 0, but got -1.");
    expect(() => bb.init({ dropout: 1 }, rng)).toThrow("Error in resnet50.init: 'dropout' must be a number in [0, 1), but got 1.");
    expect(() => bb.init({}, 42 as unknown as () => number)).toThrow("Error in resnet50.init: 'rng' must be a function returning numbers in [0, 1), but got 42.");
    expect(() => getBackbone('vgg16').init({ freezeAt: 7 }, rng)).toThrow("'freezeAt' must be an integer from 0 to 6, but got 7.");
  });
});
