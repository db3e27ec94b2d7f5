import * as tf from '@tensorflow/tfjs-core';
import { countParams, disposeParams, flattenParams, trainableParams, type ParamTree } from './params';

describe('parameter trees', () => {
  let before: number;
  beforeEach(() => (before = tf.memory().numTensors));
  afterEach(() => expect(tf.memory().numTensors).toBe(before));

  const zeros = (shape: number[], trainable = true): tf.Variable => tf.tidy(() => tf.variable(tf.zeros(shape), trainable));
  const tree = (): ParamTree => ({
    conv1: { kernel: zeros([3, 3, 1, 2]), bias: zeros([2]) },
    layer1: { '0': { bn: { mean: zeros([2], false) } }, '10': { w: zeros([2, 2]) } },
    fc: zeros([4], false),
  });

  it('flattenParams: dotted names, depth first in insertion order (integer-like keys too)', () => {
    const params = tree();
    expect(flattenParams(params).map(([name]) => name)).toEqual(['conv1.kernel', 'conv1.bias', 'layer1.0.bn.mean', 'layer1.10.w', 'fc']);
    expect(flattenParams(params)[0][1]).toBe((params.conv1 as ParamTree).kernel);
    expect(flattenParams(params.layer1 as ParamTree, 'layer1').map(([name]) => name)).toEqual(['layer1.0.bn.mean', 'layer1.10.w']);
    disposeParams(params);
  });

  it('flattenParams: a leaf that is not a variable is an error naming it', () => {
    const v = zeros([1]);
    expect(flattenParams({ a: { '0': { kernel: v } }, b: v }).map(([name]) => name)).toEqual(['a.0.kernel', 'b']);
    expect(() => flattenParams({ a: { b: 3 } } as unknown as ParamTree)).toThrow("Error in flattenParams: 'a.b' must be a tf.Variable or a nested record, but got 3.");
    expect(() => flattenParams({ a: null } as unknown as ParamTree)).toThrow("'a' must be a tf.Variable or a nested record, but got null.");
    v.dispose();
  });

  it('trainableParams and countParams follow `trainable`', () => {
    const params = tree();
    expect(trainableParams(params).map(([name]) => name)).toEqual(['conv1.kernel', 'conv1.bias', 'layer1.10.w']);
    expect(countParams(params)).toEqual({ total: 18 + 2 + 2 + 4 + 4, trainable: 18 + 2 + 4 });
    disposeParams(params);
  });

  it('disposeParams disposes every leaf', () => {
    const params = tree();
    const leaves = flattenParams(params).map(([, v]) => v);
    disposeParams(params);
    expect(leaves.every((v) => v.isDisposed)).toBe(true);
  });
});
