import * as tf from '@tensorflow/tfjs-core';
import { disposeParams, flattenParams, seededRandom } from '@lumen/core';
import { backboneOptionsOf, getBackbone, importWeightsSync, type BackboneOptionsInput } from './index';
import { hardSigmoid, hardSwish } from './layers';
import { readSafetensors } from './safetensors';
import { loadManifest, readBytes, scaledError, tensorOf } from './testing/fixtures';
import { registerTfjsGradients } from './testing/gradients';

// What is MobileNetV3's own; its forward, training mode and gradients against torchvision are
// the generic cases of reference.spec.ts, gradients.spec.ts and features.spec.ts
// (mobilenet_v3_large_w015 of tools/fixtures/mobilenet_v3_fixtures.py).
registerTfjsGradients();
const manifest = loadManifest();
const bb = getBackbone('mobilenet_v3_large');

let before: number;
beforeEach(() => (before = tf.memory().numTensors));
afterEach(() => expect(tf.memory().numTensors).toBe(before));

describe('mobilenet_v3_large', () => {
  it("computes its widths as torchvision's width_mult (body: features.12, tail: features.16)", () => {
    expect(manifest.mobilenetV3Channels.length).toBeGreaterThan(5);
    for (const { width, body, tail } of manifest.mobilenetV3Channels) {
      expect([width, bb.bodyChannels({ width }), bb.tailChannels({ width })]).toEqual([width, body, tail]);
    }
  });

  it("freezes by _mobilenet_extractor's stages: features.0-1, 2-3, 4-6, 7-12, 13-15, 16", () => {
    expect(bb.stages).toEqual(['features.0-1', 'features.2-3', 'features.4-6', 'features.7-12', 'features.13-15', 'features.16']);
    const firstTrainable = (freezeAt: number) => {
      const params = bb.init({ width: 0.15, freezeAt }, seededRandom(1));
      const name = flattenParams(params).find(([, v]) => v.trainable)?.[0];
      disposeParams(params);
      return name;
    };
    expect([1, 2, 3, 4, 5, 6].map(firstTrainable)).toEqual([
      'features.2.block.0.0.kernel',
      'features.4.block.0.0.kernel',
      'features.7.block.0.0.kernel',
      'features.13.block.0.0.kernel',
      'features.16.0.kernel',
      undefined,
    ]);
  });
});

describe('BatchNorm constants', () => {
  it("bnEps: the classifier's 1e-3 unless set; the detection builders' FrozenBatchNorm2d uses 1e-5", () => {
    // The default matches torchvision's classifier (reference.spec.ts's case); here: it is not the builders'.
    const c = manifest.levelCases.find((l) => l.backbone === 'mobilenet_v3_large');
    if (c == null) throw new Error('mobilenet_v3_large level case missing: regenerate with tools/fixtures/mobilenet_v3_fixtures.py');
    const io = readSafetensors(readBytes(c.levels));
    const errors = [{}, { bnEps: 1e-5 }].map((options: BackboneOptionsInput) => {
      const params = importWeightsSync(bb, readBytes(c.weights), { width: c.width, onNotice: () => undefined, ...options });
      const error = tf.tidy(() => {
        const [last] = bb.features(params, tensorOf<tf.Rank.R4>(io, 'input'), ['features.16'], { training: false });
        return scaledError(last, tensorOf(io, 'frozen.features.16'));
      });
      disposeParams(params);
      return error;
    });
    expect(errors[0]).toBeGreaterThan(1e-3);
    expect(errors[1]).toBeLessThan(1e-4);
  });

  it.each([
    ['mobilenet_v3_large', 0.01, 0.15],
    ['resnet18', 0.1, 1 / 16],
  ] as const)('bnMomentum: %s moves its running averages %s of the way to the batch unless set', (name, momentum, width) => {
    // Running means start at 0, so after one step each is momentum · the batch mean.
    const backbone = getBackbone(name);
    const x = tf.randomNormal([2, 32, 32, 3], 1, 1, 'float32', 2) as tf.Tensor4D;
    const means = [{}, { bnMomentum: 0.5 }].map((options: BackboneOptionsInput) => {
      const params = backbone.init({ width, batchNorm: 'trainable', ...options }, seededRandom(3));
      tf.tidy(() => {
        backbone.body(params, x, { training: true });
      });
      const stem = flattenParams(params).find(([n]) => n.endsWith('running_mean'));
      const values = Array.from(stem?.[1].dataSync() ?? []);
      disposeParams(params);
      return values;
    });
    expect(means[0].some((v) => v !== 0)).toBe(true);
    means[0].forEach((v, i) => expect(means[1][i]).toBeCloseTo((v * 0.5) / momentum, 4));
    x.dispose();
  });

  it('are options like the others: checked, and kept with the params', () => {
    const rng = seededRandom(4);
    expect(() => bb.init({ bnEps: -1 }, rng)).toThrow("Error in mobilenet_v3_large.init: 'bnEps' must be a finite number >= 0, but got -1.");
    expect(() => getBackbone('resnet50').init({ bnMomentum: 1.5 }, rng)).toThrow("Error in resnet50.init: 'bnMomentum' must be a number in [0, 1], but got 1.5.");
    const params = getBackbone('resnet18').init({ width: 1 / 64, bnEps: 0, bnMomentum: 0.01 }, rng);
    expect(backboneOptionsOf(params)).toMatchObject({ bnEps: 0, bnMomentum: 0.01 });
    disposeParams(params);
  });
});

describe("hardswish and hardsigmoid: torch's values and its derivatives at the kinks", () => {
  const points = [-4, -3, -1, 0, 1, 3, 4];

  it('hardswish x·relu6(x + 3)/6', () => {
    tf.tidy(() => {
      const x = tf.tensor1d(points);
      expect(Array.from(hardSwish(x).dataSync())).toEqual([-0, -0, -1 / 3, 0, 2 / 3, 3, 4].map(Math.fround));
      const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(hardSwish(t), 2)))(x);
      // torch 1.13's float32 gradients, (x / 3 + 0.5) rounded as it rounds them.
      expect(Array.from(grad.dataSync())).toEqual([0, -0.5, 0.1666666567325592, 0.5, 0.8333333730697632, 1.5, 1].map((v) => 2 * v));
    });
  });

  it('hardsigmoid relu6(x + 3)/6', () => {
    tf.tidy(() => {
      const x = tf.tensor1d(points);
      expect(Array.from(hardSigmoid(x).dataSync())).toEqual([0, 0, 1 / 3, 0.5, 2 / 3, 1, 1].map(Math.fround));
      const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(hardSigmoid(t), 2)))(x);
      expect(Array.from(grad.dataSync())).toEqual([0, 0, 1 / 6, 1 / 6, 1 / 6, 0, 0].map((v) => Math.fround(2 * v)));
    });
  });
});
