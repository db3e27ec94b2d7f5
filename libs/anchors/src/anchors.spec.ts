import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gridAnchors, referenceAnchors } from './anchors';

interface Fixture {
  reference: { sizes: number[]; ratios: number[]; anchors: number[][] }[];
  grid: { sizes: number[]; ratios: number[]; height: number; width: number; stride: [number, number]; anchors: number[][] }[];
}
// Written by tools/fixtures/boxes_fixtures.py from torchvision's AnchorGenerator.
const fx = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'anchors.json'), 'utf8')) as Fixture;

describe('referenceAnchors against torchvision AnchorGenerator.generate_anchors', () => {
  it.each(fx.reference.map((c) => [c.sizes.join(','), c.ratios.map((r) => r.toFixed(3)).join(','), c] as const))(
    'sizes %s, ratios %s: exactly, ratio-major',
    (_, __, c) => {
      const anchors = referenceAnchors(c.sizes, c.ratios);
      expect(anchors.shape).toEqual([c.sizes.length * c.ratios.length, 4]);
      expect(anchors.arraySync()).toEqual(c.anchors);
    },
  );

  it('rounds halves to even, as torch.round does', () => {
    // size 1, 3, 5, 7 at ratio 1: half-sizes 0.5, 1.5, 2.5, 3.5 -> 0, 2, 2, 4.
    expect(referenceAnchors([1, 3, 5, 7], [1]).arraySync().map((a) => a[2])).toEqual([0, 2, 2, 4]);
  });

  it('names bad sizes and ratios', () => {
    expect(() => referenceAnchors([], [1])).toThrow("Error in referenceAnchors: 'sizes' must be a non-empty array of positive finite numbers, but got [].");
    expect(() => referenceAnchors([32], [0.5, -1])).toThrow("Error in referenceAnchors: 'ratios' must be a non-empty array of positive finite numbers, but got [0.5,-1].");
    expect(() => referenceAnchors([NaN], [1])).toThrow(/'sizes' must be a non-empty array of positive finite numbers, but got \[null\]/);
  });
});

describe('gridAnchors against torchvision AnchorGenerator.grid_anchors', () => {
  it.each(fx.grid.map((c) => [c.height, c.width, c.stride.join('x'), c] as const))('%p x %p cells, stride %s: exactly', (height, width, _, c) => {
    const anchors = gridAnchors(referenceAnchors(c.sizes, c.ratios), height, width, c.stride);
    expect(anchors.shape).toEqual([height * width * c.sizes.length * c.ratios.length, 4]);
    expect(anchors.arraySync()).toEqual(c.anchors);
  });

  it('orders row (y), column (x), anchor: the flatten of an NHWC head output', () => {
    const reference = tf.tensor2d([[-1, -1, 1, 1], [-2, -1, 2, 1]]);
    const anchors = gridAnchors(reference, 2, 3, 16).arraySync();
    // index = (y * W + x) * A + a
    const at = (y: number, x: number, a: number) => anchors[(y * 3 + x) * 2 + a];
    expect(at(1, 2, 1)).toEqual([32 - 2, 16 - 1, 32 + 2, 16 + 1]);
    expect(at(0, 1, 0)).toEqual([15, -1, 17, 1]);
  });

  it('takes a single stride for both axes, and an empty map', () => {
    const reference = referenceAnchors([32], [1]);
    expect(gridAnchors(reference, 2, 2, 8).arraySync()).toEqual(gridAnchors(reference, 2, 2, [8, 8]).arraySync());
    expect(gridAnchors(reference, 0, 5, 16).shape).toEqual([0, 4]);
  });

  it('leaves no tensor behind but its result', () => {
    const reference = referenceAnchors([32, 64], [0.5, 1, 2]);
    const before = tf.memory().numTensors;
    gridAnchors(reference, 5, 7, 16).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names bad arguments', () => {
    const reference = referenceAnchors([32], [1]);
    expect(() => gridAnchors(tf.zeros([3, 5]) as tf.Tensor2D, 2, 2, 16)).toThrow("Error in gridAnchors: 'reference' must be boxes of shape [N, 4], but got a float32 tensor of shape [3,5].");
    expect(() => gridAnchors(tf.tensor2d([[0, 0, 1, 1], [0, NaN, 1, 1]]), 2, 2, 16)).toThrow("Error in gridAnchors: 'reference' must not contain NaN, but row 1 is NaN.");
    expect(() => gridAnchors(reference, 2.5, 2, 16)).toThrow("Error in gridAnchors: 'height' must be a non-negative integer, but got 2.5.");
    expect(() => gridAnchors(reference, 2, -1, 16)).toThrow("Error in gridAnchors: 'width' must be a non-negative integer, but got -1.");
    expect(() => gridAnchors(reference, 2, 2, 0)).toThrow("Error in gridAnchors: 'stride' must be a positive number or [strideY, strideX], but got 0.");
    expect(() => gridAnchors(reference, 2, 2, [16] as unknown as number)).toThrow("Error in gridAnchors: 'stride' must be a positive number or [strideY, strideX], but got [16].");
  });
});
