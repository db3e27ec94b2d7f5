import * as tf from '@tensorflow/tfjs-core';
import { loadFixture, registerTfjsGradients } from './testing/fixtures';
import { nearestSourceIndices, upsampleNearest } from './upsample-nearest';

// torch's F.interpolate(size=..., mode='nearest') indices (tools/fixtures/fpn_fixtures.py),
// including every (in, out) with in <= 64, out <= 2·in + 2 where floor(dst·in/out) in
// float64 picks another row than torch's float32 arithmetic.
registerTfjsGradients();

/** y[n, r, c, k] = x[n, rows[r], cols[c], k], written out. */
function gathered(x: tf.Tensor4D, rows: Int32Array, cols: Int32Array): Float32Array {
  const [n, h, w, ch] = x.shape;
  const v = x.dataSync();
  const out = new Float32Array(n * rows.length * cols.length * ch);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (const r of rows) for (const c of cols) for (let k = 0; k < ch; k++) out[o++] = v[((b * h + r) * w + c) * ch + k];
  }
  return out;
}

/** dx[n, rows[r], cols[c], k] += dy[n, r, c, k]. */
function scattered(dy: tf.Tensor4D, shape: number[], rows: Int32Array, cols: Int32Array): Float32Array {
  const [n, h, w, ch] = shape;
  const g = dy.dataSync();
  const out = new Float32Array(n * h * w * ch);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (const r of rows) for (const c of cols) for (let k = 0; k < ch; k++) out[((b * h + r) * w + c) * ch + k] += g[o++];
  }
  return out;
}

describe('nearestSourceIndices', () => {
  const pairs = loadFixture().nearest;

  it('is torch\'s source index for every fixture pair (float32 arithmetic, exact 2x, identity, downsampling)', () => {
    expect(pairs.length).toBeGreaterThan(70);
    for (const p of pairs) expect([p.in, p.out, Array.from(nearestSourceIndices(p.in, p.out))]).toEqual([p.in, p.out, p.index]);
  });

  it('differs from floor(dst · in / out) in float64 where torch does (28 -> 46)', () => {
    const torch = nearestSourceIndices(28, 46);
    const float64 = Array.from({ length: 46 }, (_, d) => Math.min(27, Math.floor(d * (28 / 46))));
    expect(Array.from(torch)).not.toEqual(float64);
  });
});

describe('upsampleNearest', () => {
  it.each([
    [[28, 9], [46, 17]],
    [[9, 13], [17, 25]],
    [[3, 4], [6, 8]],
    [[5, 7], [5, 7]],
    [[7, 6], [3, 1]],
    [[12, 5], [23, 9]],
    [[28, 5], [46, 10]],
  ])('%j -> %j: values and gradient (batch 2) with torch\'s indices', (inSize, outSize) => {
    const x = tf.randomNormal<tf.Rank.R4>([2, inSize[0], inSize[1], 3], 0, 1, 'float32', 1);
    const dy = tf.randomNormal<tf.Rank.R4>([2, outSize[0], outSize[1], 3], 0, 1, 'float32', 2);
    const rows = nearestSourceIndices(inSize[0], outSize[0]);
    const cols = nearestSourceIndices(inSize[1], outSize[1]);
    const before = tf.memory().numTensors;
    const y = upsampleNearest(x, [outSize[0], outSize[1]]);
    expect(y.shape).toEqual([2, outSize[0], outSize[1], 3]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(gathered(x, rows, cols)));
    const dx = tf.grad((t: tf.Tensor) => upsampleNearest(t as tf.Tensor4D, [outSize[0], outSize[1]]))(x, dy);
    const expected = scattered(dy, x.shape, rows, cols);
    const actual = dx.dataSync();
    expect(Math.max(...Array.from(actual, (v, i) => Math.abs(v - expected[i])))).toBeLessThan(1e-5);
    tf.dispose([y, dx]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, dy]);
  });

  it('names a bad input or size', () => {
    const x = tf.zeros<tf.Rank.R4>([1, 2, 2, 1]);
    const rank3 = tf.zeros([2, 2, 1]);
    expect(() => upsampleNearest(rank3 as tf.Tensor4D, [4, 4])).toThrow("Error in upsampleNearest: 'x' must be a rank-4 float32 NHWC tensor");
    expect(() => upsampleNearest(x, [4] as unknown as [number, number])).toThrow("Error in upsampleNearest: 'size' must be [height, width], but got [4].");
    expect(() => upsampleNearest(x, [4, 0])).toThrow("Error in upsampleNearest: 'size[1]' must be a positive integer, but got 0.");
    tf.dispose([x, rank3]);
  });
});
