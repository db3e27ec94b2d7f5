import * as tf from '@tensorflow/tfjs-core';
import { disposeParams, flattenParams, seededRandom } from '@lumen/core';
import { fpn } from './fpn';
import { initFpn } from './init';
import { fpnLevelNames } from './levels';
import type { FpnOptions } from './options';
import { fpnParamSpecs, type FpnParamSpec } from './param-specs';
import type { FpnParams } from './params';
import {
  caseOptions,
  findCase,
  fromTorch,
  importCase,
  loadFixture,
  registerTfjsGradients,
  scaledError,
  tensorOf,
  type ModeRecord,
} from './testing/fixtures';

// Against torchvision's FeaturePyramidNetwork + LastLevelMaxPool (tools/fixtures/fpn_fixtures.py):
// maps of a 65x97 image (17x25, 9x13, 5x7, 3x4: no upsampling is an exact 2x), batch 2, v1
// (conv + bias) and v2 (conv + BatchNorm2d) with randomised biases / BN values. The
// reference is float64; torch float32 is within ~1e-6 of it, and so must Lumen be: the bars
// are 1e-5 of each output's scale and 1e-4 of each gradient's.
registerTfjsGradients();

const FORWARD_BAR = 1e-5;
const GRADIENT_BAR = 1e-4;

function inputMaps(): tf.Tensor4D[] {
  return loadFixture().maps.map((m) => tensorOf<tf.Rank.R4>(m));
}

function expectOutputs(outputs: tf.Tensor4D[], record: ModeRecord): void {
  expect(outputs.length).toBe(record.outputs.length);
  outputs.forEach((y, i) => {
    expect([i, y.shape]).toEqual([i, record.outputs[i].shape]);
    expect([record.names[i], scaledError(y, record.outputs[i].values) <= FORWARD_BAR]).toEqual([record.names[i], true]);
  });
}

function specOf(options: FpnOptions, name: string): FpnParamSpec {
  return fpnParamSpecs(options).find((s) => s.name === name) as FpnParamSpec;
}

/**
 * Gradients of sum_l(fpn(maps)_l · upstream_l) w.r.t. the maps and `names`, one backward
 * pass (the maps as variables), against the fixture's; returns the loss for a sanity check.
 */
function checkGradients(record: ModeRecord, options: FpnOptions, params: FpnParams, training: boolean, names: string[]): void {
  const maps = inputMaps();
  const mapVars = maps.map((m) => tf.variable(m));
  const upstream = loadFixture().upstream.map((u) => tensorOf<tf.Rank.R4>(u));
  const flat = Object.fromEntries(flattenParams(params));
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => {
    const outputs = fpn(params, mapVars, { training }, options);
    return tf.addN(outputs.map((y, i) => tf.sum(tf.mul(y, upstream[i])))) as tf.Scalar;
  }, [...mapVars, ...names.map((n) => flat[n])]);
  mapVars.forEach((v, i) => {
    expect([`map ${i}`, scaledError(grads[v.name], record.mapGrads[i].values) <= GRADIENT_BAR]).toEqual([`map ${i}`, true]);
  });
  for (const name of names) {
    const spec = specOf(options, name);
    const expected = fromTorch(spec, record.paramGrads[spec.torchName].values);
    const g = grads[flat[name].name];
    expect([name, g.shape]).toEqual([name, spec.shape]);
    expect([name, scaledError(g, expected) <= GRADIENT_BAR]).toEqual([name, true]);
  }
  tf.dispose([value, ...Object.values(grads)]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([...maps, ...mapVars, ...upstream]);
}

describe('fpn against torchvision FeaturePyramidNetwork (v1: conv + bias)', () => {
  const c = findCase('v1');
  const options = caseOptions(c);

  it('eval outputs: P2…P5 and pool, finest first, named as torchvision', () => {
    const params = importCase(c, options);
    const maps = inputMaps();
    const before = tf.memory().numTensors;
    const outputs = fpn(params, maps, { training: false }, options);
    expect(fpnLevelNames(options)).toEqual(c.eval.names);
    expectOutputs(outputs, c.eval);
    tf.dispose(outputs);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(maps);
    disposeParams(params);
  });

  it('imports the pre-0.13 layout (inner_blocks.0.weight) to the same outputs', () => {
    const legacy = c.legacyNames as Record<string, string>;
    const legacyDict = Object.fromEntries(Object.entries(c.stateDict).map(([name, value]) => [legacy[name], value]));
    const params = importCase(c, options, (s) => s.legacyTorchName, legacyDict);
    const maps = inputMaps();
    const outputs = fpn(params, maps, { training: true }, options); // no BN: training changes nothing
    expectOutputs(outputs, c.eval);
    tf.dispose([...outputs, ...maps]);
    disposeParams(params);
  });

  it('gradients w.r.t. the maps and every parameter', () => {
    const params = importCase(c, options);
    checkGradients(c.eval, options, params, true, fpnParamSpecs(options).map((s) => s.name));
    disposeParams(params);
  });
});

describe('fpn against torchvision FeaturePyramidNetwork (v2: conv + BatchNorm2d)', () => {
  const c = findCase('v2');
  const train = c.train as ModeRecord;

  it.each(['frozen', 'trainable'] as const)('eval outputs (running statistics folded into the convs), %s BN', (batchNorm) => {
    const options = caseOptions(c, batchNorm);
    const params = importCase(c, options);
    const maps = inputMaps();
    const before = tf.memory().numTensors;
    // Frozen BN uses its running statistics in training too.
    const outputs = fpn(params, maps, { training: batchNorm === 'frozen' }, options);
    expectOutputs(outputs, c.eval);
    tf.dispose(outputs);
    expect(tf.memory().numTensors).toBe(before);
    for (const [name, v] of flattenParams(params)) {
      if (name.includes('running_')) expect([name, scaledError(v, Float32Array.from(c.stateDict[specOf(options, name).torchName].values))]).toEqual([name, 0]);
    }
    tf.dispose(maps);
    disposeParams(params);
  });

  it('train outputs (batch statistics) and the running statistics after one forward (momentum 0.1)', () => {
    const options = caseOptions(c, 'trainable');
    const params = importCase(c, options);
    const maps = inputMaps();
    const before = tf.memory().numTensors;
    const outputs = fpn(params, maps, { training: true }, options);
    expectOutputs(outputs, train);
    tf.dispose(outputs);
    expect(tf.memory().numTensors).toBe(before);
    const running = flattenParams(params).filter(([name]) => name.includes('running_'));
    expect(running.length).toBe(16);
    for (const [name, v] of running) {
      const expected = (train.runningAfter as Record<string, { values: number[] }>)[specOf(options, name).torchName].values;
      expect([name, scaledError(v, expected) <= FORWARD_BAR]).toEqual([name, true]);
    }
    tf.dispose(maps);
    disposeParams(params);
  });

  it('train-mode gradients w.r.t. the maps, conv kernels and BN affine', () => {
    const options = caseOptions(c, 'trainable');
    const params = importCase(c, options);
    const names = fpnParamSpecs(options).filter((s) => s.trainable).map((s) => s.name);
    expect(names.length).toBe(24);
    checkGradients(train, options, params, true, names);
    disposeParams(params);
  });

  it('eval-mode gradients: frozen BN (kernels only) and trainable BN outside training (affine too)', () => {
    for (const batchNorm of ['frozen', 'trainable'] as const) {
      const options = caseOptions(c, batchNorm);
      const params = importCase(c, options);
      const names = fpnParamSpecs(options).filter((s) => s.trainable).map((s) => s.name);
      expect(names.length).toBe(batchNorm === 'frozen' ? 8 : 24);
      checkGradients(c.eval, options, params, batchNorm === 'frozen', names);
      disposeParams(params);
    }
  });
});

describe('fpn in training', () => {
  const options: FpnOptions = { inChannels: [3, 5], outChannels: 4, norm: 'batch', extra: 'maxpool' };

  it.each(['frozen', 'trainable'] as const)('%s BN: exactly the trainable variables get a gradient, and it is not zero', (batchNorm) => {
    const o = { ...options, batchNorm };
    const params = initFpn(o, seededRandom(3));
    const maps = [tf.randomNormal<tf.Rank.R4>([2, 6, 7, 3], 0, 1, 'float32', 1), tf.randomNormal<tf.Rank.R4>([2, 3, 4, 5], 0, 1, 'float32', 2)];
    const before = tf.memory().numTensors;
    // Squares: a plain sum of a batch-normalised map has no gradient w.r.t. its affine weight.
    const { value, grads } = tf.variableGrads(() => tf.addN(fpn(params, maps, { training: true }, o).map((y) => tf.sum(tf.square(y)))) as tf.Scalar);
    const flat = flattenParams(params);
    const differentiated = flat.filter(([, v]) => grads[v.name] != null).map(([n]) => n);
    expect(differentiated).toEqual(flat.filter(([, v]) => v.trainable).map(([n]) => n));
    expect(differentiated.some((n) => n.includes('running_'))).toBe(false);
    for (const n of differentiated) {
      const v = flat.find(([name]) => name === n)?.[1] as tf.Variable;
      expect([n, tf.tidy(() => tf.max(tf.abs(grads[v.name])).dataSync()[0]) > 0]).toEqual([n, true]);
    }
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(maps);
    disposeParams(params);
  });

  it('runs on one image per batch with maps of one pixel (pool of a 1x1 P5)', () => {
    const o: FpnOptions = { inChannels: [2, 2], outChannels: 3, norm: 'none', extra: 'maxpool' };
    const params = initFpn(o, seededRandom(4));
    const maps = [tf.ones<tf.Rank.R4>([1, 2, 1, 2]), tf.ones<tf.Rank.R4>([1, 1, 1, 2])];
    const outputs = fpn(params, maps, { training: false }, o);
    expect(outputs.map((y) => y.shape)).toEqual([
      [1, 2, 1, 3],
      [1, 1, 1, 3],
      [1, 1, 1, 3],
    ]);
    // Without the extra block the pool level is absent.
    const plain = fpn(params, maps, { training: false }, { ...o, extra: 'none' });
    expect(plain.length).toBe(2);
    expect(scaledError(plain[1], outputs[1])).toBe(0);
    expect(scaledError(outputs[2], outputs[1])).toBe(0);
    tf.dispose([...outputs, ...plain, ...maps]);
    disposeParams(params);
  });
});

describe('fpn argument checks', () => {
  const options: FpnOptions = { inChannels: [3, 5], outChannels: 4, norm: 'none', extra: 'maxpool' };

  it('names the map, the context or the parameter that does not fit', () => {
    const params = initFpn(options, seededRandom(1));
    const a = tf.zeros<tf.Rank.R4>([2, 6, 6, 3]);
    const b = tf.zeros<tf.Rank.R4>([2, 3, 3, 5]);
    const single = tf.zeros<tf.Rank.R4>([1, 3, 3, 5]);
    const rank3 = tf.zeros([3, 3, 5]);
    const before = tf.memory().numTensors;
    const ctx = { training: false };
    expect(() => fpn(params, [a], ctx, options)).toThrow(
      "Error in fpn: 'maps' must be 2 NHWC feature maps (one per entry of 'inChannels', finest first), but got an array of length 1.",
    );
    expect(() => fpn(params, [b, a], ctx, options)).toThrow("Error in fpn: 'maps[0]' must have 3 channels (inChannels[0]), but got shape [2,3,3,5].");
    expect(() => fpn(params, [a, single], ctx, options)).toThrow("Error in fpn: 'maps[1]' must have the batch size of maps[0] (2), but got shape [1,3,3,5].");
    expect(() => fpn(params, [a, rank3 as tf.Tensor4D], ctx, options)).toThrow(
      "Error in fpn: 'maps[1]' must be a rank-4 float32 NHWC tensor, but got a float32 tensor of shape [3,3,5].",
    );
    expect(() => fpn(params, [a, b], undefined as unknown as { training: boolean }, options)).toThrow("Error in fpn: 'ctx' must be { training: boolean }, but got undefined.");
    expect(() => fpn(params, [a, b], ctx, { ...options, outChannels: 8 })).toThrow(
      "Error in fpn: 'params.inner_blocks.0.kernel' must have shape [1,1,3,8] for these options, but got [1,1,3,4].",
    );
    expect(() => fpn(params, [a, b], ctx, { ...options, norm: 'batch' })).toThrow(
      "Error in fpn: 'params.inner_blocks.0.conv.kernel' must be a tf.Variable of shape [1,1,3,4], but got undefined.",
    );
    expect(() => fpn(params, [a, b], ctx, { ...options, extra: 'p6p7' as 'none' })).toThrow("Error in fpn: 'extra' must be 'maxpool' or 'none', but got \"p6p7\".");
    expect(() => fpn({} as FpnParams, [a, b], ctx, options)).toThrow("Error in fpn: 'params.inner_blocks.0.kernel' must be a tf.Variable");
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, single, rank3]);
    disposeParams(params);
  });
});
