import * as tf from '@tensorflow/tfjs-core';
import { flattenParams } from '@lumen/core';
import type { FpnOptions } from './options';
import { fpnParamSpecs } from './param-specs';
import { buildFpnParams } from './params';

const options: FpnOptions = { inChannels: [2, 3], outChannels: 2, norm: 'batch', extra: 'maxpool', batchNorm: 'frozen' };

describe('buildFpnParams', () => {
  it('builds the tree of the specs from given values, trainable as the specs say', () => {
    const specs = fpnParamSpecs(options);
    const params = buildFpnParams(options, (spec) => new Float32Array(spec.shape.reduce((a, b) => a * b, 1)).fill(specs.findIndex((s) => s.name === spec.name)));
    const flat = flattenParams(params);
    expect(flat.map(([name, v]) => [name, v.shape, v.trainable])).toEqual(specs.map((s) => [s.name, s.shape, s.trainable]));
    expect(flat.map(([, v]) => v.dataSync()[0])).toEqual(specs.map((_, i) => i));
    expect(params.inner_blocks['1']).toHaveProperty('conv.kernel');
    expect(params.layer_blocks['0']).toHaveProperty('bn.running_var');
    tf.dispose(flat.map(([, v]) => v));
  });

  it('names a value of the wrong size and leaves no variable behind', () => {
    const before = tf.memory().numTensors;
    expect(() =>
      buildFpnParams(options, (spec) => new Float32Array(spec.name === 'layer_blocks.1.bn.bias' ? 3 : spec.shape.reduce((a, b) => a * b, 1))),
    ).toThrow("Error in buildFpnParams: the values of 'layer_blocks.1.bn.bias' must be a Float32Array of 2 numbers ([2]), but got a Float32Array of length 3.");
    expect(tf.memory().numTensors).toBe(before);
  });
});
