import * as tf from '@tensorflow/tfjs-core';
import { makeVariable } from '@lumen/core';
import { BN_EPS, batchNormTraining } from './batch-norm';
import type { BatchNormParams } from './params';
import { registerTfjsGradients, scaledError } from './testing/fixtures';

// torch's BatchNorm2d in training mode, written out per channel in float64: batch mean and
// biased variance normalise, running_mean/var move by momentum 0.1 (the variance unbiased),
// and the closed-form gradient torch computes.
registerTfjsGradients();

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

/** Per channel: mean, biased variance and x̂ of an NHWC array. */
function statistics(x: Float32Array): { mean: number[]; variance: number[]; xhat: Float64Array } {
  const mean = new Array(C).fill(0);
  const variance = new Array(C).fill(0);
  x.forEach((v, i) => (mean[i % C] += v / COUNT));
  x.forEach((v, i) => (variance[i % C] += (v - mean[i % C]) ** 2 / COUNT));
  const xhat = Float64Array.from(x, (v, i) => (v - mean[i % C]) / Math.sqrt(variance[i % C] + BN_EPS));
  return { mean, variance, xhat };
}

describe('batchNormTraining', () => {
  it('normalises by batch statistics and moves the running averages (momentum 0.1, unbiased variance)', () => {
    const bn = bnParams();
    const gamma = Array.from(bn.weight.dataSync());
    const beta = Array.from(bn.bias.dataSync());
    const runningMean = Array.from(bn.running_mean.dataSync());
    const runningVar = Array.from(bn.running_var.dataSync());
    const y = tf.randomNormal<tf.Rank.R4>([N, H, W, C], 0.5, 2, 'float32', 1);
    const { mean, variance, xhat } = statistics(y.dataSync() as Float32Array);
    const before = tf.memory().numTensors;
    const out = batchNormTraining(y, bn);
    expect(scaledError(out, Float64Array.from(xhat, (v, i) => v * gamma[i % C] + beta[i % C]))).toBeLessThan(1e-6);
    expect(scaledError(bn.running_mean, mean.map((m, c) => 0.9 * runningMean[c] + 0.1 * m))).toBeLessThan(1e-6);
    expect(scaledError(bn.running_var, variance.map((v, c) => 0.9 * runningVar[c] + (0.1 * v * COUNT) / (COUNT - 1)))).toBeLessThan(1e-6);
    out.dispose();
    // The running statistics were replaced in place: no tensor left behind.
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([y, ...Object.values(bn)]);
  });

  it("has torch's gradient: dx = γ·invstd/n·(n·dy - Σdy - x̂·Σ(dy·x̂)), dγ = Σ(dy·x̂), dβ = Σdy", () => {
    const bn = bnParams();
    const gamma = Array.from(bn.weight.dataSync());
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
    const x = tf.variable(y);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(batchNormTraining(x, bn), dy)) as tf.Scalar, [x, bn.weight, bn.bias]);
    expect(scaledError(grads[x.name], dx)).toBeLessThan(1e-5);
    expect(scaledError(grads[bn.weight.name], sumDyX)).toBeLessThan(1e-5);
    expect(scaledError(grads[bn.bias.name], sumDy)).toBeLessThan(1e-5);
    tf.dispose([value, x, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([y, dy, ...Object.values(bn)]);
  });

  it('needs more than one value per channel', () => {
    const bn = bnParams();
    const y = tf.zeros<tf.Rank.R4>([1, 1, 1, C]);
    expect(() => batchNormTraining(y, bn)).toThrow(
      'Error in batchNormTraining: training with batch statistics needs more than 1 value per channel, but got input of shape [1,1,1,3].',
    );
    tf.dispose([y, ...Object.values(bn)]);
  });
});
