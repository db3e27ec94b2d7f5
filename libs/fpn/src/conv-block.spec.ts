import * as tf from '@tensorflow/tfjs-core';
import { BN_EPS, makeVariable, seededRandom, uniformValues } from '@lumen/core';
import { convBlock } from './conv-block';
import type { BlockVariables } from './params';
import { scaledError } from './testing/fixtures';

// One block against the unfused composition: conv (padding (k - 1) / 2) + bias, or conv then
// BN by the running statistics (folded in Lumen) or by batch statistics.

const rng = seededRandom(11);
const values = (n: number, bound = 1) => uniformValues(n, bound, rng);

function block(kernelSize: number, norm: 'none' | 'batch', affineTrainable = true): BlockVariables {
  const kernel = makeVariable(values(kernelSize * kernelSize * 3 * 4, 0.5), [kernelSize, kernelSize, 3, 4]);
  if (norm === 'none') return { kernel, bias: makeVariable(values(4, 0.2), [4]), bn: null, kernelSize };
  const bn = {
    weight: makeVariable(Float32Array.from([0.6, 1.4, 1, 0.8]), [4], affineTrainable),
    bias: makeVariable(Float32Array.from([0.1, -0.3, 0, 0.2]), [4], affineTrainable),
    running_mean: makeVariable(Float32Array.from([0.3, -0.2, 0.1, 0]), [4], false),
    running_var: makeVariable(Float32Array.from([0.5, 1.5, 1, 2]), [4], false),
  };
  return { kernel, bias: null, bn, kernelSize };
}

function dispose(b: BlockVariables): void {
  tf.dispose([b.kernel, ...(b.bias == null ? [] : [b.bias]), ...(b.bn == null ? [] : Object.values(b.bn))]);
}

describe('convBlock', () => {
  const x = tf.randomNormal<tf.Rank.R4>([2, 5, 6, 3], 0, 1, 'float32', 1);
  afterAll(() => x.dispose());

  it.each([1, 3])('%dx%d conv + bias, padded to keep the size', (k) => {
    const b = block(k, 'none');
    const before = tf.memory().numTensors;
    const y = convBlock(x, b, { training: true });
    const expected = tf.tidy(() => tf.add(tf.conv2d(x, b.kernel as tf.Tensor4D, 1, (k - 1) / 2), b.bias as tf.Tensor1D));
    expect(y.shape).toEqual([2, 5, 6, 4]);
    expect(scaledError(y, expected)).toBeLessThan(1e-6);
    tf.dispose([y, expected]);
    expect(tf.memory().numTensors).toBe(before);
    dispose(b);
  });

  it.each([
    ['trainable BN outside training', true, false],
    ['frozen BN in training', false, true],
  ])('%s: the running statistics, folded into the conv, left unchanged', (_, affineTrainable, training) => {
    const b = block(3, 'batch', affineTrainable);
    const bn = b.bn as NonNullable<BlockVariables['bn']>;
    const running = [Array.from(bn.running_mean.dataSync()), Array.from(bn.running_var.dataSync())];
    const y = convBlock(x, b, { training });
    const expected = tf.tidy(() => {
      const z = tf.conv2d(x, b.kernel as tf.Tensor4D, 1, 1);
      return tf.add(tf.mul(tf.div(tf.sub(z, bn.running_mean), tf.sqrt(tf.add(bn.running_var, BN_EPS))), bn.weight), bn.bias);
    });
    expect(scaledError(y, expected)).toBeLessThan(1e-5);
    expect([Array.from(bn.running_mean.dataSync()), Array.from(bn.running_var.dataSync())]).toEqual(running);
    tf.dispose([y, expected]);
    dispose(b);
  });

  it('trainable BN in training: batch statistics, and the running statistics move', () => {
    const b = block(1, 'batch');
    const bn = b.bn as NonNullable<BlockVariables['bn']>;
    const runningMean = Array.from(bn.running_mean.dataSync());
    const y = convBlock(x, b, { training: true });
    const expected = tf.tidy(() => {
      const z = tf.conv2d(x, b.kernel as tf.Tensor4D, 1, 0);
      const { mean, variance } = tf.moments(z, [0, 1, 2]);
      return tf.add(tf.mul(tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, BN_EPS))), bn.weight), bn.bias);
    });
    expect(scaledError(y, expected)).toBeLessThan(1e-5);
    expect(Array.from(bn.running_mean.dataSync())).not.toEqual(runningMean);
    tf.dispose([y, expected]);
    dispose(b);
  });
});
