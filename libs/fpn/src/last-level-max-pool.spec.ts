import * as tf from '@tensorflow/tfjs-core';
import { lastLevelMaxPool } from './last-level-max-pool';
import { registerTfjsGradients } from './testing/fixtures';

registerTfjsGradients();

describe('lastLevelMaxPool (F.max_pool2d(p, 1, 2, 0))', () => {
  it.each([
    [3, 4, 2, 2],
    [25, 38, 13, 19],
    [1, 1, 1, 1],
    [2, 5, 1, 3],
  ])('%dx%d -> %dx%d: every other row and column from the first', (h, w, outH, outW) => {
    const p = tf.randomNormal<tf.Rank.R4>([2, h, w, 3], 0, 1, 'float32', 1);
    const before = tf.memory().numTensors;
    const y = lastLevelMaxPool(p);
    expect(y.shape).toEqual([2, outH, outW, 3]);
    const expected = tf.tidy(() => tf.stridedSlice(p, [0, 0, 0, 0], [2, h, w, 3], [1, 2, 2, 1]));
    expect(Array.from(y.dataSync())).toEqual(Array.from(expected.dataSync()));
    tf.dispose([y, expected]);
    expect(tf.memory().numTensors).toBe(before);
    p.dispose();
  });

  it('passes the gradient to the kept positions only', () => {
    const p = tf.randomNormal<tf.Rank.R4>([1, 3, 4, 2], 0, 1, 'float32', 2);
    const dy = tf.randomNormal<tf.Rank.R4>([1, 2, 2, 2], 0, 1, 'float32', 3);
    const dp = tf.grad((t: tf.Tensor) => lastLevelMaxPool(t as tf.Tensor4D))(p, dy);
    const g = dp.arraySync() as number[][][][];
    const d = dy.arraySync() as number[][][][];
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 4; x++) {
        const kept = y % 2 === 0 && x % 2 === 0;
        expect(g[0][y][x]).toEqual(kept ? d[0][y / 2][x / 2] : [0, 0]);
      }
    }
    tf.dispose([p, dy, dp]);
  });

  it('names a bad input', () => {
    const matrix = tf.zeros([2, 2]);
    expect(() => lastLevelMaxPool(matrix as unknown as tf.Tensor4D)).toThrow("Error in lastLevelMaxPool: 'p' must be a rank-4 float32 NHWC tensor");
    matrix.dispose();
  });
});
