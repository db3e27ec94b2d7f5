import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { boxArea, boxIou } from './iou';
import { loadFixture, relativeError } from './testing/fixtures';

interface IouCase {
  name: string;
  a: number[][];
  b: number[][];
  areaA: number[];
  areaB: number[];
  iou: (number | null)[][];
}
const { cases } = loadFixture<{ cases: IouCase[] }>('iou.json');

/** Boxes on a 1/8-pixel grid, some empty (x2 == x1 or y2 == y1), never inverted. */
const box = fc
  .tuple(fc.integer({ min: -800, max: 8000 }), fc.integer({ min: -800, max: 8000 }), fc.nat({ max: 2000 }), fc.nat({ max: 2000 }))
  .map(([x, y, w, h]) => [x / 8, y / 8, (x + w) / 8, (y + h) / 8]);
const boxes = (max: number) => fc.array(box, { minLength: 1, maxLength: max });

describe('boxArea', () => {
  it.each(cases.map((c) => [c.name, c] as const))('matches torchvision box_area (%s)', (_, c) => {
    expect(relativeError(boxArea(tf.tensor2d(c.a, [c.a.length, 4])).dataSync(), c.areaA)).toBeLessThan(1e-6);
    expect(relativeError(boxArea(tf.tensor2d(c.b, [c.b.length, 4])).dataSync(), c.areaB)).toBeLessThan(1e-6);
  });

  it('rejects a tensor that is not [N, 4] boxes', () => {
    expect(() => boxArea(tf.zeros([3, 5]) as tf.Tensor2D)).toThrow("Error in boxArea: 'boxes' must be boxes of shape [N, 4], but got a float32 tensor of shape [3,5].");
    expect(() => boxArea(tf.zeros([4]) as unknown as tf.Tensor2D)).toThrow(/'boxes' must be boxes of shape \[N, 4\]/);
    expect(() => boxArea([[0, 0, 1, 1]] as unknown as tf.Tensor2D)).toThrow("Error in boxArea: 'boxes' must be a tfjs Tensor, but got an array of length 1.");
  });
});

describe('boxIou', () => {
  it.each(cases.map((c) => [c.name, c] as const))('matches torchvision box_iou (%s), 0 where the union is 0', (_, c) => {
    const iou = boxIou(tf.tensor2d(c.a, [c.a.length, 4]), tf.tensor2d(c.b, [c.b.length, 4]));
    expect(iou.shape).toEqual([c.a.length, c.b.length]);
    expect(relativeError(iou.dataSync(), c.iou.flat(), 0)).toBeLessThan(1e-5);
    if (c.name === 'mixed') expect(c.iou.flat()).toContain(null); // the fixture has empty pairs
  });

  it('is bit-identical to torchvision (float32 roundings replayed)', () => {
    const c = cases[0];
    const iou = boxIou(tf.tensor2d(c.a, [c.a.length, 4]), tf.tensor2d(c.b, [c.b.length, 4])).dataSync();
    const expected = Float32Array.from(c.iou.flat(), (v) => v ?? 0);
    expect(Array.from(iou)).toEqual(Array.from(expected));
  });

  it('is symmetric, in [0, 1], and 1 for a non-empty box with itself', () => {
    fc.assert(
      fc.property(boxes(12), boxes(12), (a, b) => {
        const ab = boxIou(tf.tensor2d(a, [a.length, 4]), tf.tensor2d(b, [b.length, 4])).arraySync();
        const ba = boxIou(tf.tensor2d(b, [b.length, 4]), tf.tensor2d(a, [a.length, 4])).arraySync();
        const aa = boxIou(tf.tensor2d(a, [a.length, 4]), tf.tensor2d(a, [a.length, 4])).arraySync();
        const asymmetric = ab.flatMap((row, i) => row.filter((v, j) => v !== ba[j][i]));
        const outside = ab.flat().filter((v) => !(v >= 0 && v <= 1));
        const selfIou = a.map((box, i) => aa[i][i] === (box[2] === box[0] || box[3] === box[1] ? 0 : 1));
        expect({ asymmetric, outside }).toEqual({ asymmetric: [], outside: [] });
        expect(selfIou.every(Boolean)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('handles empty box sets', () => {
    expect(boxIou(tf.zeros([0, 4]), tf.zeros([3, 4])).shape).toEqual([0, 3]);
    expect(boxIou(tf.zeros([2, 4]), tf.zeros([0, 4])).shape).toEqual([2, 0]);
  });

  it('names the bad argument', () => {
    expect(() => boxIou(tf.zeros([2, 4]), tf.zeros([2, 3]))).toThrow("Error in boxIou: 'b' must be boxes of shape [N, 4], but got a float32 tensor of shape [2,3].");
    expect(() => boxIou(tf.zeros([2, 4]), tf.tensor2d([[0, 0, 1, 1], [NaN, 0, 1, 1]]))).toThrow("Error in boxIou: 'b' must not contain NaN, but row 1 is NaN.");
    expect(() => boxIou(tf.zeros([2, 4], 'int32'), tf.zeros([2, 4]))).toThrow("Error in boxIou: 'a' must be a float32 tensor, but got a int32 tensor of shape [2,4].");
  });
});
