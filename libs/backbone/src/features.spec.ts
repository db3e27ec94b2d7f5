import * as tf from '@tensorflow/tfjs-core';
import { disposeParams, flattenParams, seededRandom } from '@lumen/core';
import { getBackbone, importWeightsSync, type BackboneOptionsInput, type BackboneParams, type ForwardContext } from './index';
import { isTrainable, resolveOptions } from './params';
import { readSafetensors } from './safetensors';
import { loadManifest, readBytes, scaledError, tensorOf, type LevelCase } from './testing/fixtures';
import { registerTfjsGradients } from './testing/gradients';

// Feature levels against torchvision's FPN extractors (tools/fixtures/mobilenet_v3_fixtures.py):
// which levels there are (names, strides, channels), the outputs of the extractor's
// IntermediateLayerGetter in eval and training mode and as the detection builders run it
// (FrozenBatchNorm2d with their eps), gradients through several levels, and freezeAt against
// trainable_backbone_layers. Tolerance as reference.spec.ts: 1e-4 of the output's scale.
registerTfjsGradients();
const TOLERANCE = 1e-4;
const manifest = loadManifest();

let before: number;
beforeEach(() => (before = tf.memory().numTensors));
afterEach(() => expect(tf.memory().numTensors).toBe(before));

function load(c: LevelCase, options: BackboneOptionsInput = {}): BackboneParams {
  return importWeightsSync(getBackbone(c.backbone), readBytes(c.weights), { width: c.width, onNotice: () => undefined, ...options });
}

function expectLevels(actual: tf.Tensor4D[], io: ReturnType<typeof readSafetensors>, prefix: string, names: readonly string[], bar = TOLERANCE): void {
  names.forEach((name, i) => {
    const expected = tensorOf(io, `${prefix}.${name}`);
    expect([name, actual[i].shape]).toEqual([name, expected.shape]);
    expect([name, scaledError(actual[i], expected) < bar]).toEqual([name, true]);
    expected.dispose();
  });
}

describe("featureLevels: the levels of torchvision's FPN extractors (width 1)", () => {
  it.each(Object.entries(manifest.featureLevels))('%s: names, measured strides, in_channels_list', (name, reference) => {
    const bb = getBackbone(name);
    expect(bb.featureLevels()).toEqual(reference.levels);
    expect(reference.levels.map((l) => l.channels)).toEqual(reference.inChannelsList);
    // The names are torchvision's module paths: return_layers' keys (MobileNets: indices into `features`).
    const modulePath = (key: string) => (name.startsWith('resnet') ? key : `features.${key}`);
    expect(reference.levels.map((l) => l.name)).toEqual(Object.keys(reference.returnLayers).map(modulePath));
  });

  it('the FPN of the detection builders takes ResNet layer1 … layer4 and the last two MobileNet levels, both at stride 32', () => {
    const fpn = (name: string) => manifest.featureLevels[name].fpn.names;
    expect(fpn('resnet50')).toEqual(['layer1', 'layer2', 'layer3', 'layer4']);
    expect(fpn('mobilenet_v3_large')).toEqual(['features.13', 'features.16']);
    const v3 = getBackbone('mobilenet_v3_large').featureLevels();
    expect(v3.slice(-2)).toEqual([
      { name: 'features.13', stride: 32, channels: 160 },
      { name: 'features.16', stride: 32, channels: 960 },
    ]);
    expect(v3.slice(-2).map((l) => l.channels)).toEqual(manifest.featureLevels.mobilenet_v3_large.fpn.inChannelsList);
  });

  it('offers the levels past the body only with tailStride 2, scales channels with width; VGG has none', () => {
    const names = (name: string, options: BackboneOptionsInput) => getBackbone(name).featureLevels(options).map((l) => l.name);
    expect(names('resnet18', { tailStride: 1 })).toEqual(['layer1', 'layer2', 'layer3']);
    expect(names('mobilenet_v3_large', { tailStride: 1 })).toEqual(['features.0', 'features.2', 'features.4', 'features.7']);
    expect(names('mobilenet_v2', { tailStride: 1 })).toEqual(['features.0', 'features.2', 'features.4', 'features.7']);
    expect(getBackbone('vgg16').featureLevels()).toEqual([]);
    expect(getBackbone('resnet18').featureLevels({ width: 0.25 }).map((l) => l.channels)).toEqual([16, 32, 64, 128]);
    expect(getBackbone('mobilenet_v3_large').featureLevels({ width: 0.15 }).map((l) => l.channels)).toEqual([8, 8, 8, 16, 24, 144]);
    expect(() => getBackbone('resnet18').featureLevels({ width: 0 })).toThrow("Error in resnet18.featureLevels: 'width' must be a finite number > 0, but got 0.");
  });
});

describe.each(manifest.levelCases.map((c) => [c.id, c] as const))("%s levels against torchvision's extractor", (_id, c) => {
  const bb = getBackbone(c.backbone);
  const eval_: ForwardContext = { training: false };

  it('every level in eval mode, each with its stride and channels', () => {
    const io = readSafetensors(readBytes(c.levels));
    const params = load(c);
    tf.tidy(() => {
      const input = tensorOf<tf.Rank.R4>(io, 'input');
      const outputs = bb.features(params, input, c.names, eval_);
      expectLevels(outputs, io, 'eval', c.names);
      const levels = bb.featureLevels({ width: c.width });
      outputs.forEach((y, i) => {
        expect(y.shape[3]).toBe(levels[i].channels);
        expect(y.shape[1]).toBe(Math.ceil(c.size[0] / levels[i].stride));
      });
    });
    disposeParams(params);
  });

  it('in the order asked, the same alone as together', () => {
    const io = readSafetensors(readBytes(c.levels));
    const params = load(c);
    tf.tidy(() => {
      const input = tensorOf<tf.Rank.R4>(io, 'input');
      const reversed = [...c.names].reverse();
      expectLevels(bb.features(params, input, reversed, eval_), io, 'eval', reversed);
      for (const name of [c.names[0], c.names[2]]) expectLevels(bb.features(params, input, [name], eval_), io, 'eval', [name]);
    });
    disposeParams(params);
  });

  it(`the FPN's levels as the detection builder runs them: FrozenBatchNorm2d, bnEps ${c.frozen.eps}`, () => {
    const io = readSafetensors(readBytes(c.levels));
    const params = load(c, { bnEps: c.frozen.eps });
    tf.tidy(() => expectLevels(bb.features(params, tensorOf<tf.Rank.R4>(io, 'input'), c.frozen.names, eval_), io, 'frozen', c.frozen.names));
    disposeParams(params);
  });

  it('training mode with trainable BN: outputs and every running statistic (torch float64; bar 1e-4 / 1e-5 or twice torch float32 error)', () => {
    const io = readSafetensors(readBytes(c.levels));
    const params = load(c, { batchNorm: 'trainable' });
    const { outputs, statistics } = c.train.torchF32Error;
    tf.tidy(() => {
      const levels = bb.features(params, tensorOf<tf.Rank.R4>(io, 'train_input'), c.train.names, { training: true });
      expectLevels(levels, io, 'train', c.train.names, Math.max(TOLERANCE, 2 * outputs));
    });
    const flat = Object.fromEntries(flattenParams(params));
    const stats = Object.keys(io).filter((k) => k.startsWith('train_after.'));
    expect(stats.length).toBe(flattenParams(params).filter(([n]) => n.endsWith('running_mean') || n.endsWith('running_var')).length);
    for (const key of stats) {
      const name = key.slice('train_after.'.length);
      expect([name, scaledError(flat[name], io[key].data as Float32Array) < Math.max(1e-5, 2 * statistics)]).toEqual([name, true]);
    }
    disposeParams(params);
  });

  it.each(['frozen', 'trainable'] as const)('gradients through several levels, %s BN (torch float64; bar as gradients.spec.ts)', (mode) => {
    const io = readSafetensors(readBytes(c.levels));
    const params = load(c, { batchNorm: mode });
    const flat = Object.fromEntries(flattenParams(params));
    const spec = c.grads;
    const names = spec[mode];
    const x = tensorOf<tf.Rank.R4>(io, 'grad_input');
    const upstream = spec.names.map((level) => tensorOf(io, `grad.${mode}.upstream.${level}`));
    const { value, grads } = tf.variableGrads(() => {
      const outputs = bb.features(params, x, spec.names, { training: true });
      return tf.addN(outputs.map((y, i) => tf.sum(tf.mul(y, upstream[i])))) as tf.Scalar;
    }, names.map((n) => flat[n]));
    for (const name of names) {
      const expected = tensorOf(io, `grad.${mode}.${name}`);
      const bar = Math.max(TOLERANCE, 2 * spec.torchF32Error[mode][name]);
      expect([name, scaledError(grads[flat[name].name], expected) <= bar]).toEqual([name, true]);
      expected.dispose();
    }
    tf.dispose([value, x, ...upstream, ...Object.values(grads)]);
    disposeParams(params);
  });
});

describe('features', () => {
  it("ResNet's layer3 is the body's output; layer4 runs on the full map at stride 32", () => {
    const bb = getBackbone('resnet18');
    const params = bb.init({ width: 1 / 16 }, seededRandom(1));
    tf.tidy(() => {
      const x = tf.randomNormal([1, 64, 96, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
      const [layer3, layer4] = bb.features(params, x, ['layer3', 'layer4'], { training: false });
      expect(layer3.dataSync()).toEqual(bb.body(params, x, { training: false }).dataSync());
      expect(layer4.shape).toEqual([1, 2, 3, 32]);
    });
    disposeParams(params);
  });

  it('runs the trunk only as deep as the deepest level named (later BN statistics stay as they were)', () => {
    const bb = getBackbone('mobilenet_v3_large');
    const params = bb.init({ width: 0.15, batchNorm: 'trainable' }, seededRandom(3));
    const flat = flattenParams(params).filter(([n]) => n.endsWith('running_mean'));
    const values = () => flat.map(([n, v]) => [n, Array.from(v.dataSync())] as const);
    const start = values();
    tf.tidy(() => {
      bb.features(params, tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D, ['features.4'], { training: true });
    });
    const changed = values()
      .filter(([, v], i) => v.some((x, k) => x !== start[i][1][k]))
      .map(([n]) => Number(n.split('.')[1]));
    expect(Math.max(...changed)).toBe(4);
    expect(new Set(changed)).toEqual(new Set([0, 1, 2, 3, 4]));
    disposeParams(params);
  });

  it.each([
    ['resnet18', 1 / 16, ['layer1', 'layer3']],
    ['mobilenet_v3_large', 0.15, ['features.2', 'features.7']],
  ] as const)('%s: frozen leading stages are a stop-gradient, levels inside them included', (name, width, names) => {
    // freezeAt 2 freezes the stem and layer1 (features.0-3): the first level is inside, the second past them.
    const bb = getBackbone(name);
    const x = tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const results = [0, 2].map((freezeAt) => {
      const params = bb.init({ width, freezeAt }, seededRandom(6));
      const flat = flattenParams(params);
      const vars = flat.filter(([n, v]) => v.trainable && bb.paramSpecs({ width }).find((s) => s.name === n)?.stage === 3).map(([, v]) => v);
      const loss = (images: tf.Tensor4D) => tf.addN(bb.features(params, images, names, { training: true }).map((y, i) => tf.sum(tf.mul(y, i + 1)))) as tf.Scalar;
      const { value, grads } = tf.variableGrads(() => loss(x), vars);
      const paramGrads = vars.map((v) => Array.from(grads[v.name].dataSync()));
      const imageGrad = tf.grad((images: tf.Tensor) => loss(images as tf.Tensor4D))(x);
      const result = { value: value.dataSync()[0], paramGrads, imageGrad: tf.tidy(() => tf.max(tf.abs(imageGrad)).dataSync()[0]) };
      tf.dispose([value, imageGrad, ...Object.values(grads)]);
      disposeParams(params);
      return result;
    });
    expect(results[1].value).toBe(results[0].value);
    expect(results[1].paramGrads.length).toBeGreaterThan(3);
    results[1].paramGrads.forEach((g, i) => expect(scaledError(g, results[0].paramGrads[i])).toBeLessThan(1e-6));
    expect(results[0].imageGrad).toBeGreaterThan(0);
    expect(results[1].imageGrad).toBe(0);
    x.dispose();
  });

  it('names what is wrong', () => {
    const bb = getBackbone('resnet18');
    const params = bb.init({ width: 1 / 64 }, seededRandom(7));
    const stride1 = bb.init({ width: 1 / 64, tailStride: 1 }, seededRandom(7));
    const vgg = getBackbone('vgg16');
    const vggParams = vgg.init({ width: 1 / 64 }, seededRandom(7));
    const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    const gray = tf.zeros([1, 32, 32, 1]) as tf.Tensor4D;
    const ctx = { training: false };
    const known = 'level names of resnet18 with tailStride 2 (layer1, layer2, layer3, layer4)';
    expect(() => bb.features(params, x, ['layer5'], ctx)).toThrow(`Error in resnet18.features: 'names' must hold ${known}, but got 'layer5'.`);
    expect(() => bb.features(params, x, [], ctx)).toThrow(`Error in resnet18.features: 'names' must be a non-empty array of ${known}, but got`);
    expect(() => bb.features(params, x, 'layer1' as unknown as string[], ctx)).toThrow(`'names' must be a non-empty array of ${known}, but got 'layer1'.`);
    expect(() => bb.features(params, x, ['layer1', 'layer1'], ctx)).toThrow("Error in resnet18.features: 'names' must not repeat a level, but got [layer1, layer1].");
    expect(() => bb.features(stride1, x, ['layer4'], ctx)).toThrow("Error in resnet18.features: 'names' must hold level names of resnet18 with tailStride 1 (layer1, layer2, layer3), but got 'layer4'.");
    expect(() => bb.features(params, gray, ['layer1'], ctx)).toThrow("Error in resnet18.features: 'images' must have 3 channels (NHWC), but got a tensor of shape [1,32,32,1].");
    expect(() => bb.features(params, x, ['layer1'], undefined as unknown as ForwardContext)).toThrow("Error in resnet18.features: 'ctx' must be { training: boolean }, but got undefined.");
    expect(() => vgg.features(vggParams, x, ['features.0'], ctx)).toThrow('Error in vgg16.features: vgg16 has no feature levels (its one map is the body\'s).');
    tf.dispose([x, gray]);
    [params, stride1, vggParams].forEach(disposeParams);
  });
});

describe("freezeAt against torchvision's trainable_backbone_layers (its FPN extractors)", () => {
  // freezeAt for trainable_layers t: ResNet 5 - t, MobileNetV3 6 - t (its stages start at
  // _mobilenet_extractor's stage_indices); MobileNetV2's five stages have no t = 1
  // (features.0-17 frozen, features.18 trainable).
  const freezeAtOf: Record<string, (t: number) => number | null> = {
    resnet50: (t) => 5 - t,
    mobilenet_v3_large: (t) => 6 - t,
    mobilenet_v2: (t) => (t === 0 ? 5 : t === 1 ? null : 6 - t),
  };

  it.each(Object.keys(freezeAtOf))('%s: the same parameters frozen (trainable BN, so BN affine counts)', (name) => {
    const bb = getBackbone(name);
    const torchParams = manifest.stateDicts[name]
      .map(([n]) => n)
      .filter((n) => !/(running_mean|running_var|num_batches_tracked)$/.test(n) && !/^(fc|classifier)\./.test(n));
    const counts = Object.entries(manifest.frozenParameters[name]);
    expect(counts.length).toBe(name === 'resnet50' ? 6 : 7);
    for (const [t, count] of counts) {
      const freezeAt = freezeAtOf[name](Number(t));
      if (freezeAt == null) continue;
      const options = resolveOptions('test', { batchNorm: 'trainable', freezeAt }, bb.stages.length);
      const frozen = bb
        .paramSpecs()
        .filter((s) => s.kind !== 'bn-mean' && s.kind !== 'bn-var' && !isTrainable(s, options))
        .map((s) => s.torchName);
      expect([t, frozen]).toEqual([t, torchParams.slice(0, count)]);
    }
  });
});
