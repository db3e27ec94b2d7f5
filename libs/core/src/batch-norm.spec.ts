import * as tf from '@tensorflow/tfjs-core';
import { batchNormScaleShift, batchNormTraining, BN_EPS, BN_MOMENTUM, foldBatchNorm, type BatchNormParams } from './batch-norm';
import { LumenBatchNormGrad, LumenBatchNormTraining } from './kernel-names';
import { makeVariable } from './variables';

// torch's BatchNorm2d written out per channel in float64: in training, batch mean and biased
// variance normalise, running_mean/var move by momentum (the variance unbiased), and the
// closed-form gradient torch computes; otherwise the running statistics, folded into a conv.

const [N, H, W, C] = [2, 3, 4, 3];
const COUNT = N * H * W;

function bnParams(): BatchNormParams {
  return {
    weight: makeVariable(Float32Array.from([0.5, 1.5, -1]), [C]),
    bias: makeVariable(Float32Array.from([0.1, -0.2, 0.3]), [C]),
    running_mean: makeVariable(Float32Array.from([0.2, -0.1, 0]), [C], false),
    running_var: makeVariable(Float32Array.from([1.2, 0.7, 2]), [C], false),
  };
}

const values = (t: tf.Tensor) => Array.from(t.dataSync());

/** max |actual - expected| relative to max |expected|. */
function scaledError(actual: tf.Tensor, expected: ArrayLike<number>): number {
  const a = actual.dataSync();
  if (a.length !== expected.length) return Infinity;
  const scale = Math.max(...Array.from(expected, Math.abs));
  return Math.max(...Array.from(a, (v, i) => Math.abs(v - expected[i]))) / (scale || 1);
}

/** Per channel: mean, biased variance and x̂ of an NHWC array. */
function statistics(x: Float32Array, eps = BN_EPS): { mean: number[]; variance: number[]; xhat: Float64Array } {
  const mean = new Array(C).fill(0);
  const variance = new Array(C).fill(0);
  x.forEach((v, i) => (mean[i % C] += v / COUNT));
  x.forEach((v, i) => (variance[i % C] += (v - mean[i % C]) ** 2 / COUNT));
  const xhat = Float64Array.from(x, (v, i) => (v - mean[i % C]) / Math.sqrt(variance[i % C] + eps));
  return { mean, variance, xhat };
}

/**
 * d/d(x, weight, bias) of batchNormTraining's output against `dy`. tf.grads with the upstream
 * gradient given needs no gradient but the op's own (the tfjs-core bundle registers none).
 * The weight and bias are passed for their ids: the op reads them from `bn`.
 */
function gradients(x: tf.Tensor4D, bn: BatchNormParams, dy: tf.Tensor4D): tf.Tensor[] {
  return tf.grads((input: tf.Tensor) => batchNormTraining(input as tf.Tensor4D, bn))([x, bn.weight, bn.bias], dy);
}

describe('batchNormTraining', () => {
  it.each([
    ["torch's defaults", undefined, undefined, BN_EPS, BN_MOMENTUM],
    ['eps 1e-3, momentum 0.01 (MobileNetV3)', 1e-3, 0.01, 1e-3, 0.01],
  ])('normalises by batch statistics and moves the running averages (unbiased variance): %s', (_, eps, momentum, e, m) => {
    const bn = bnParams();
    const [gamma, beta, runningMean, runningVar] = [bn.weight, bn.bias, bn.running_mean, bn.running_var].map(values);
    const y = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0.5, 2, 'float32', 1);
    const { mean, variance, xhat } = statistics(y.dataSync() as Float32Array, e);
    const before = tf.memory().numTensors;
    const out = batchNormTraining(y, bn, eps, momentum);
    expect(scaledError(out, Float64Array.from(xhat, (v, i) => v * gamma[i % C] + beta[i % C]))).toBeLessThan(1e-6);
    expect(scaledError(bn.running_mean, mean.map((v, c) => (1 - m) * runningMean[c] + m * v))).toBeLessThan(1e-6);
    expect(scaledError(bn.running_var, variance.map((v, c) => (1 - m) * runningVar[c] + (m * v * COUNT) / (COUNT - 1)))).toBeLessThan(1e-6);
    out.dispose();
    // The running statistics were replaced in place: no tensor left behind.
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([y, ...Object.values(bn)]);
  });

  it("has torch's gradient: dx = γ·invstd/n·(n·dy - Σdy - x̂·Σ(dy·x̂)), dγ = Σ(dy·x̂), dβ = Σdy", () => {
    const bn = bnParams();
    const gamma = values(bn.weight);
    const y = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0, 1, 'float32', 2);
    const dy = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0, 1, 'float32', 3);
    const { variance, xhat } = statistics(y.dataSync() as Float32Array);
    const g = dy.dataSync();
    const sumDy = new Array(C).fill(0);
    const sumDyX = new Array(C).fill(0);
    g.forEach((v, i) => {
      sumDy[i % C] += v;
      sumDyX[i % C] += v * xhat[i];
    });
    const dx = Float64Array.from(g, (v, i) => {
      const c = i % C;
      return ((gamma[c] / Math.sqrt(variance[c] + BN_EPS)) * (COUNT * v - sumDy[c] - xhat[i] * sumDyX[c])) / COUNT;
    });
    const before = tf.memory().numTensors;
    const [gx, gWeight, gBias] = gradients(y, bn, dy);
    expect(scaledError(gx, dx)).toBeLessThan(1e-5);
    expect(scaledError(gWeight, sumDyX)).toBeLessThan(1e-5);
    expect(scaledError(gBias, sumDy)).toBeLessThan(1e-5);
    tf.dispose([gx, gWeight, gBias]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([y, dy, ...Object.values(bn)]);
  });

  it("with relu: relu of the value, and ReLU's gradient (dy where the output is positive) through torch's", () => {
    // The tensor-op path ends in tf.relu, whose gradient the tfjs-core bundle does not register: tfjs's own, dy·step(x).
    if (tf.getGradient('Relu') == null) tf.registerGradient({ kernelName: 'Relu', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as tf.Tensor, tf.step(x)) }) });
    const bn = bnParams();
    const [gamma, beta] = [bn.weight, bn.bias].map(values);
    const y = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0, 1, 'float32', 7);
    const dy = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0, 1, 'float32', 8);
    const { variance, xhat } = statistics(y.dataSync() as Float32Array);
    const value = Float64Array.from(xhat, (v, i) => Math.max(0, v * gamma[i % C] + beta[i % C]));
    const g = Float64Array.from(dy.dataSync(), (v, i) => (value[i] > 0 ? v : 0));
    const sumDy = new Array(C).fill(0);
    const sumDyX = new Array(C).fill(0);
    g.forEach((v, i) => {
      sumDy[i % C] += v;
      sumDyX[i % C] += v * xhat[i];
    });
    const dx = Float64Array.from(g, (v, i) => ((gamma[i % C] / Math.sqrt(variance[i % C] + BN_EPS)) * (COUNT * v - sumDy[i % C] - xhat[i] * sumDyX[i % C])) / COUNT);
    expect(value.filter((v) => v === 0).length).toBeGreaterThan(COUNT / 2);
    const before = tf.memory().numTensors;
    const out = batchNormTraining(y, bn, undefined, undefined, true);
    expect(scaledError(out, value)).toBeLessThan(1e-6);
    const [gx, gWeight, gBias] = tf.grads((input: tf.Tensor) => batchNormTraining(input as tf.Tensor4D, bn, undefined, undefined, true))([y, bn.weight, bn.bias], dy);
    expect(scaledError(gx, dx)).toBeLessThan(1e-5);
    expect(scaledError(gWeight, sumDyX)).toBeLessThan(1e-5);
    expect(scaledError(gBias, sumDy)).toBeLessThan(1e-5);
    tf.dispose([out, gx, gWeight, gBias]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([y, dy, ...Object.values(bn)]);
  });

  it('needs more than one value per channel', () => {
    const bn = bnParams();
    const y = tf.zeros<tf.Rank.R4>([1, 1, 1, C]);
    expect(() => batchNormTraining(y, bn)).toThrow(
      'Error in batchNorm: training with batch statistics needs more than 1 value per channel, but got input of shape [1,1,1,3].',
    );
    tf.dispose([y, ...Object.values(bn)]);
  });
});

/**
 * Stand-ins for the fused kernels on cpu that return fixed outputs and record what they were
 * given: what the op passes to them and does with their outputs, not their arithmetic
 * (@lumen/runtime tests that; rcnn-head's conv-fc spec runs real cpu versions end to end).
 */
function registerStandInKernels(which: Array<typeof LumenBatchNormTraining | typeof LumenBatchNormGrad>) {
  interface CpuBackend {
    readSync(dataId: tf.TensorInfo['dataId']): Float32Array;
    makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
  }
  const seen: { epsilon?: number; relu?: boolean; grad?: Record<string, number[]> } = {};
  const fixed = (backend: CpuBackend, shape: number[], value: (i: number) => number) =>
    backend.makeTensorInfo(shape, 'float32', Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => value(i)));
  const kernels: Record<string, tf.KernelFunc> = {
    [LumenBatchNormTraining]: ({ inputs, attrs, backend }) => {
      const cpu = backend as CpuBackend;
      ({ epsilon: seen.epsilon, relu: seen.relu } = attrs as { epsilon: number; relu: boolean });
      const { shape } = inputs.x as tf.TensorInfo;
      // [y, x̂, mean, variance, invstd]
      return [fixed(cpu, shape, () => 7), fixed(cpu, shape, (i) => i / 10), fixed(cpu, [C], (c) => c + 1), fixed(cpu, [C], (c) => c + 4), fixed(cpu, [C], (c) => c / 10)];
    },
    [LumenBatchNormGrad]: ({ inputs, backend }) => {
      const cpu = backend as CpuBackend;
      seen.grad = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, Array.from(cpu.readSync((t as tf.TensorInfo).dataId))]));
      // [dx, dγ, dβ]
      return [fixed(cpu, (inputs.dy as tf.TensorInfo).shape, () => 9), fixed(cpu, [C], (c) => 3 - c), fixed(cpu, [C], (c) => 2 * c)];
    },
  };
  for (const kernelName of which) tf.registerKernel({ kernelName, backendName: 'cpu', kernelFunc: kernels[kernelName] });
  return { seen, unregister: () => which.forEach((name) => tf.unregisterKernel(name, 'cpu')) };
}

describe('batchNormTraining through the fused kernels', () => {
  it('runs them when the backend registers both: their outputs are the value, the running statistics and the gradients', () => {
    const standIns = registerStandInKernels([LumenBatchNormTraining, LumenBatchNormGrad]);
    try {
      const bn = bnParams();
      const [gamma, runningMean, runningVar] = [bn.weight, bn.running_mean, bn.running_var].map(values);
      const y = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0, 1, 'float32', 4);
      const dy = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0, 1, 'float32', 5);
      const before = tf.memory().numTensors;
      const out = batchNormTraining(y, bn, 1e-3, 0.01);
      expect(standIns.seen.epsilon).toBeCloseTo(1e-3, 10);
      expect(values(out)).toEqual(new Array(N * H * W * C).fill(7));
      expect(scaledError(bn.running_mean, runningMean.map((v, c) => 0.99 * v + 0.01 * (c + 1)))).toBeLessThan(1e-6);
      expect(scaledError(bn.running_var, runningVar.map((v, c) => 0.99 * v + (0.01 * (c + 4) * COUNT) / (COUNT - 1)))).toBeLessThan(1e-6);
      const grads = gradients(y, bn, dy);
      // The backward gets the forward's x̂ and invstd, and γ.
      expect(standIns.seen.grad?.xhat.map((v, i) => v - i / 10).every((d) => Math.abs(d) < 1e-6)).toBe(true);
      expect(standIns.seen.grad?.invstd).toEqual([0, 0.1, 0.2].map(Math.fround));
      expect(standIns.seen.grad?.gamma).toEqual(gamma.map(Math.fround));
      expect(standIns.seen.grad?.dy).toEqual(values(dy));
      expect(grads.map(values)).toEqual([new Array(N * H * W * C).fill(9), [3, 2, 1], [0, 2, 4]]);
      tf.dispose([out, ...grads]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([y, dy, ...Object.values(bn)]);
    } finally {
      standIns.unregister();
    }
  });

  it('asks them for the ReLU with relu, and hands the backward the forward output to mask dy by', () => {
    const standIns = registerStandInKernels([LumenBatchNormTraining, LumenBatchNormGrad]);
    try {
      const bn = bnParams();
      const y = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0, 1, 'float32', 9);
      const dy = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0, 1, 'float32', 10);
      const before = tf.memory().numTensors;
      const grads = tf.grads((input: tf.Tensor) => batchNormTraining(input as tf.Tensor4D, bn, undefined, undefined, true))([y, bn.weight, bn.bias], dy);
      expect(standIns.seen.relu).toBe(true);
      // The forward's output (all 7s from the stand-in) is the backward's y; no ReLU op of its own.
      expect(standIns.seen.grad?.y).toEqual(new Array(N * H * W * C).fill(7));
      expect(grads.map(values)).toEqual([new Array(N * H * W * C).fill(9), [3, 2, 1], [0, 2, 4]]);
      tf.dispose(grads);
      expect(tf.memory().numTensors).toBe(before);
      const plain = batchNormTraining(y, bn);
      expect(standIns.seen.relu).toBe(false);
      tf.dispose([plain, y, dy, ...Object.values(bn)]);
    } finally {
      standIns.unregister();
    }
  });

  it('uses tensor ops unless both are registered', () => {
    const standIns = registerStandInKernels([LumenBatchNormTraining]);
    try {
      const bn = bnParams();
      const y = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0, 1, 'float32', 6);
      const out = batchNormTraining(y, bn);
      expect(standIns.seen.epsilon).toBeUndefined();
      expect(values(out)).not.toContain(7);
      tf.dispose([out, y, ...Object.values(bn)]);
    } finally {
      standIns.unregister();
    }
  });
});

describe('inference BatchNorm folded into a conv', () => {
  /** BN of `z` by the running statistics, in tensor ops. */
  const reference = (z: tf.Tensor4D, bn: BatchNormParams, eps: number) =>
    tf.add(tf.mul(tf.div(tf.sub(z, bn.running_mean), tf.sqrt(tf.add(bn.running_var, eps))), bn.weight), bn.bias);

  it.each([
    ['conv', false, [3, 3, 2, C]],
    ['depthwise conv', true, [3, 3, C, 1]],
  ] as const)('%s: kernel·scale with the shift as bias is BN(conv(x)); no tensor left behind', (_, depthwise, kernelShape) => {
    const bn = bnParams();
    const x = tf.randomNormal<tf.Rank.R4>([1, 5, 4, depthwise ? C : 2], 0, 1, 'float32', 7);
    const kernel = tf.randomNormal<tf.Rank.R4>([...kernelShape], 0, 1, 'float32', 8);
    const conv = (k: tf.Tensor4D) => (depthwise ? tf.depthwiseConv2d(x, k, 1, 1) : tf.conv2d(x, k, 1, 1));
    const expected = tf.tidy(() => reference(conv(kernel), bn, 1e-3));
    const before = tf.memory().numTensors;
    const { filter, bias } = foldBatchNorm(kernel, bn, 1e-3, depthwise);
    expect(tf.memory().numTensors).toBe(before + 2);
    const folded = tf.tidy(() => tf.add(conv(filter), bias));
    expect(scaledError(folded, expected.dataSync())).toBeLessThan(1e-6);
    tf.dispose([filter, bias, folded, expected, x, kernel, ...Object.values(bn)]);
  });

  it("scale and shift: γ/√(var + eps) and β - mean·scale, eps torch's unless given", () => {
    const bn = bnParams();
    const [gamma, beta, mean, variance] = [bn.weight, bn.bias, bn.running_mean, bn.running_var].map(values);
    for (const [eps, e] of [[undefined, BN_EPS], [0, 0]] as const) {
      const { scale, shift } = batchNormScaleShift(bn, eps);
      const expected = gamma.map((g, c) => g / Math.sqrt(variance[c] + e));
      expect(scaledError(scale, expected)).toBeLessThan(1e-6);
      expect(scaledError(shift, beta.map((b, c) => b - mean[c] * expected[c]))).toBeLessThan(1e-6);
      tf.dispose([scale, shift]);
    }
    tf.dispose(Object.values(bn));
  });
});
