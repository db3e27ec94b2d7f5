import * as tf from '@tensorflow/tfjs-core';
import { makeVariable } from './variables';

describe('makeVariable', () => {
  it('holds the values in the shape, trainable unless told otherwise, and leaves only itself', () => {
    const before = tf.memory().numTensors;
    const v = makeVariable(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const frozen = makeVariable(new Float32Array(2), [2], false);
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(v.shape).toEqual([2, 3]);
    expect(v.dtype).toBe('float32');
    expect(Array.from(v.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect([v.trainable, frozen.trainable]).toEqual([true, false]);
    tf.dispose([v, frozen]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
