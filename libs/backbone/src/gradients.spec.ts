import * as tf from '@tensorflow/tfjs-core';
import { disposeParams, flattenParams, seededRandom } from '@lumen/core';
import { getBackbone, importWeightsSync, type Backbone, type BackboneParams, type BatchNormMode } from './index';
import { loadIo, loadManifest, readBytes, scaledError, tensorOf, type FixtureCase } from './testing/fixtures';
import { registerTfjsGradients } from './testing/gradients';

// Gradients against torch's autograd (tools/fixtures/backbone_fixtures.py) on tiny inputs:
// d/dθ [sum(body(x)·Gb) + sum(tail(pooled)·Gt)] for named parameters, with frozen BN (running
// statistics, BN not trainable) and trainable BN (batch statistics), in Lumen's layouts.
// The reference is torch in float64. Bar: 1e-4 of the gradient's scale, or twice torch
// float32's own error where that is larger — batch statistics over 2x2 maps make train-mode
// BN gradients ill-conditioned (torch float32 is off by up to 1.3e-3 there).
// Only the named variables are differentiated: the cpu backend's filter gradient is a
// scalar loop (~1 µs per multiply-add), the slowest part of these specs.
registerTfjsGradients();

const cases = loadManifest().cases.filter((c) => c.grads != null);

interface Inputs {
  x: tf.Tensor4D;
  pooled: tf.Tensor4D;
  gb: tf.Tensor;
  gt: tf.Tensor;
}

function inputs(io: ReturnType<typeof loadIo>, mode: BatchNormMode, rois: number): Inputs {
  return tf.tidy(() => ({
    x: tensorOf<tf.Rank.R4>(io, 'grad_input'),
    pooled: tf.slice(tensorOf<tf.Rank.R4>(io, 'pooled'), 0, rois),
    gb: tensorOf(io, `grad.${mode}.gb`),
    gt: tensorOf(io, `grad.${mode}.gt`),
  }));
}

function loss(bb: Backbone, params: BackboneParams, t: Inputs): tf.Scalar {
  const ctx = { training: true };
  return tf.add(tf.sum(tf.mul(bb.body(params, t.x, ctx), t.gb)), tf.sum(tf.mul(bb.tail(params, t.pooled, ctx), t.gt)));
}

describe.each(cases.map((c) => [c.id, c] as const))('%s gradients against torch', (_id, c: FixtureCase) => {
  const spec = c.grads as NonNullable<FixtureCase['grads']>;
  const modes = (['frozen', 'trainable'] as const).filter((m) => (spec[m] ?? []).length > 0);

  it.each(modes.map((m) => [m]))('%s BN', (mode) => {
    const bb = getBackbone(c.backbone);
    const io = loadIo(c);
    const params = importWeightsSync(bb, readBytes(c.weights), { width: c.width, batchNorm: mode, onNotice: () => undefined });
    const t = inputs(io, mode, spec.rois);
    const flat = Object.fromEntries(flattenParams(params));
    const names = spec[mode] ?? [];
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => loss(bb, params, t), names.map((n) => flat[n]));
    for (const name of names) {
      const g = grads[flat[name].name];
      const bar = Math.max(1e-4, 2 * spec.torchF32Error[mode][name]);
      const expected = tensorOf(io, `grad.${mode}.${name}`);
      expect([name, g.shape]).toEqual([name, flat[name].shape]);
      expect([name, scaledError(g, expected) <= bar]).toEqual([name, true]);
      expected.dispose();
    }
    tf.dispose([value, ...Object.values(grads)]);
    // No leak (training-mode BN replaced its running statistics in place).
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(t));
    disposeParams(params);
  });
});

describe('which variables get a gradient', () => {
  // Stages 1-2 or 1-3 frozen: the backward stops above them (the cpu backend's filter
  // gradients of every layer would take seconds).
  it.each([
    ['frozen', 3],
    ['trainable', 2],
  ] as const)('exactly the trainable ones: %s BN, freezeAt %d', (batchNorm, freezeAt) => {
    const bb = getBackbone('resnet18');
    const params = bb.init({ width: 1 / 64, batchNorm, freezeAt }, seededRandom(5));
    const flat = Object.fromEntries(flattenParams(params));
    const x = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const pooled = tf.randomNormal([1, 4, 4, 8], 0, 1, 'float32', 2) as tf.Tensor4D;
    // variableGrads with no list differentiates every trainable variable.
    const { value, grads } = tf.variableGrads(() => loss(bb, params, { x, pooled, gb: tf.scalar(1), gt: tf.scalar(1) }));
    const names = Object.keys(grads).map((id) => Object.keys(flat).find((n) => flat[n].name === id) as string);
    const trainable = Object.keys(flat).filter((n) => flat[n].trainable);
    expect(names.sort()).toEqual(trainable.sort());
    expect(names.some((n) => n.includes('running_'))).toBe(false);
    expect(names.some((n) => /\.bn\d\.|bn1\.|downsample\.1\./.test(n))).toBe(batchNorm === 'trainable');
    const frozenPrefix = ['', 'conv1|bn1', 'conv1|bn1|layer1', 'conv1|bn1|layer1|layer2'][freezeAt];
    if (frozenPrefix !== '') expect(names.some((n) => new RegExp(`^(${frozenPrefix})\\.`).test(n))).toBe(false);
    tf.dispose([value, x, pooled, ...Object.values(grads)]);
    disposeParams(params);
  });

  it.each(['resnet18', 'vgg16', 'mobilenet_v2'])('%s: frozen leading stages keep no activations for the backward pass (a stop-gradient)', (name) => {
    const bb = getBackbone(name);
    const width = name === 'mobilenet_v2' ? 0.15 : 1 / 64;
    const x = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const live: Record<number, number> = {};
    const imageGrad: Record<number, number> = {};
    for (const freezeAt of [0, 2]) {
      const params = bb.init({ width, freezeAt }, seededRandom(6));
      // The tape records every op whatever is differentiated: the body's last variable is enough.
      const flat = Object.fromEntries(flattenParams(params));
      const bodyNames = bb.paramSpecs({ width }).filter((s) => s.stage < bb.stages.length && flat[s.name].trainable);
      const vars = [flat[bodyNames[bodyNames.length - 1].name]];
      // Bytes alive at the end of the forward: what the tape keeps (plus the parameters).
      const before = tf.memory().numBytes;
      const { value, grads } = tf.variableGrads(() => {
        const y = tf.sum(bb.body(params, x, { training: true }));
        live[freezeAt] = tf.memory().numBytes - before;
        return y as tf.Scalar;
      }, vars);
      tf.dispose([value, ...Object.values(grads)]);
      const g = tf.grad((images: tf.Tensor) => tf.sum(bb.body(params, images as tf.Tensor4D, { training: true })))(x);
      imageGrad[freezeAt] = tf.max(tf.abs(g)).dataSync()[0];
      g.dispose();
      disposeParams(params);
    }
    expect(live[2]).toBeLessThan(live[0] * 0.75);
    expect(imageGrad[0]).toBeGreaterThan(0);
    expect(imageGrad[2]).toBe(0);
    x.dispose();
  });
});
