import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { decodeBoxes, DEFAULT_DELTA_CLIP, encodeBoxes, type BoxCoderWeights } from './box-coder';
import { findCase, loadFixture, relativeError } from './testing/fixtures';

interface CoderCase {
  weights: BoxCoderWeights;
  encoded: number[][];
  decoded: number[][];
  decodedClip2: number[][];
  decodedPerClass: number[][];
}
const fx = loadFixture<{
  reference: number[][];
  targets: number[][];
  deltas: number[][];
  deltasPerClass: number[][];
  defaultClip: number;
  cases: CoderCase[];
}>('coder.json');

const reference = tf.tensor2d(fx.reference);
const targets = tf.tensor2d(fx.targets);

describe('encodeBoxes / decodeBoxes against torchvision BoxCoder', () => {
  it('clips dw, dh at log(1000/16) by default', () => {
    expect(DEFAULT_DELTA_CLIP).toBe(fx.defaultClip);
  });

  describe.each(fx.cases.map((c) => [c.weights.join(','), c] as const))('weights (%s)', (_, c) => {
    it('encodes like encode_single(targets, reference)', () => {
      expect(relativeError(encodeBoxes(reference, targets, c.weights).dataSync(), c.encoded.flat())).toBeLessThan(1e-5);
    });
    it('decodes like decode_single, clamping large dw/dh', () => {
      expect(relativeError(decodeBoxes(reference, tf.tensor2d(fx.deltas), c.weights).dataSync(), c.decoded.flat())).toBeLessThan(1e-5);
    });
    it('decodes with a custom clip', () => {
      expect(relativeError(decodeBoxes(reference, tf.tensor2d(fx.deltas), c.weights, 2).dataSync(), c.decodedClip2.flat())).toBeLessThan(1e-5);
    });
    it('decodes per-class deltas [N, 4K] to [N, 4K]', () => {
      const out = decodeBoxes(reference, tf.tensor2d(fx.deltasPerClass), c.weights);
      expect(out.shape).toEqual([fx.reference.length, 12]);
      expect(relativeError(out.dataSync(), c.decodedPerClass.flat())).toBeLessThan(1e-5);
    });
  });

  it('uses weights (1, 1, 1, 1) by default', () => {
    const plain = findCase(fx.cases, (c) => c.weights.every((w) => w === 1));
    expect(relativeError(encodeBoxes(reference, targets).dataSync(), plain.encoded.flat())).toBeLessThan(1e-5);
  });

  it('decode(encode(x)) == x', () => {
    const coordinate = fc.double({ min: -500, max: 1500, noNaN: true });
    const size = fc.double({ min: 1, max: 600, noNaN: true });
    // Target sizes within e^±4 of the reference: dw, dh stay below the clip (log 62.5).
    const logRatio = fc.double({ min: -4, max: 4, noNaN: true });
    const pair = fc.tuple(coordinate, coordinate, size, size, coordinate, coordinate, logRatio, logRatio).map(([x, y, w, h, tx, ty, rw, rh]) => [
      [x, y, x + w, y + h],
      [tx, ty, tx + w * Math.exp(rw), ty + h * Math.exp(rh)],
    ]);
    const weights = fc.constantFrom<BoxCoderWeights>([1, 1, 1, 1], [10, 10, 5, 5], [2, 0.5, 3, 1.5]);
    fc.assert(
      fc.property(fc.array(pair, { minLength: 1, maxLength: 16 }), weights, (pairs, w) => {
        tf.tidy(() => {
          const ref = tf.tensor2d(pairs.map((p) => p[0]));
          const tgt = tf.tensor2d(pairs.map((p) => p[1]));
          const back = decodeBoxes(ref, encodeBoxes(ref, tgt, w), w).dataSync();
          // float32 throughout: relative to the largest coordinate involved.
          const want = tgt.dataSync();
          const scale = pairs.map((p) => Math.max(1, ...p[0].map(Math.abs), ...p[1].map(Math.abs)));
          for (let i = 0; i < want.length; i++) expect(Math.abs(back[i] - want[i]) / scale[i >> 2]).toBeLessThan(1e-5);
        });
      }),
      { numRuns: 80 },
    );
  });

  it('names bad arguments', () => {
    expect(() => encodeBoxes(reference, tf.zeros([3, 4]))).toThrow("Error in encodeBoxes: 'reference' and 'targets' must have the same length, but got 40 and 3.");
    expect(() => encodeBoxes(reference, targets, [1, 1, 0, 1])).toThrow("Error in encodeBoxes: 'weights' must be 4 positive finite numbers [wx, wy, ww, wh], but got [1,1,0,1].");
    expect(() => decodeBoxes(reference, tf.zeros([40, 6]))).toThrow("Error in decodeBoxes: 'deltas' must have shape [N, 4K] (K >= 1), but got shape [40,6].");
    expect(() => decodeBoxes(reference, tf.zeros([40]) as unknown as tf.Tensor2D)).toThrow("Error in decodeBoxes: 'deltas' must be a rank-2 tensor, but got a float32 tensor of shape [40].");
    const nanRow = (rows: number, width: number) => tf.tensor2d(Array.from({ length: rows * width }, (_, i) => (i === 2 * width + 1 ? NaN : 1)), [rows, width]);
    expect(() => encodeBoxes(reference, nanRow(40, 4))).toThrow("Error in encodeBoxes: 'targets' must not contain NaN, but row 2 is NaN.");
    expect(() => decodeBoxes(reference, nanRow(40, 8))).toThrow("Error in decodeBoxes: 'deltas' must not contain NaN, but row 2 is NaN.");
    expect(() => decodeBoxes(reference, tf.zeros([40, 4]), [1, 1, 1, 1], NaN)).toThrow(/'clip' must be a number .*, but got NaN/);
  });
});
