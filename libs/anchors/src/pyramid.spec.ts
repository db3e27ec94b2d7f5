import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gridAnchors, referenceAnchors } from './anchors';
import { levelStrides, pyramidAnchors } from './pyramid';

interface PyramidCase {
  name: string;
  sizes: number[][];
  ratios: number[][];
  imageSize: [number, number];
  mapSizes: [number, number][];
  anchorsPerLevel: number[];
  anchors: number[];
}
// Written by tools/fixtures/rpn_fpn_fixtures.py from torchvision's AnchorGenerator.forward.
const cases = (JSON.parse(readFileSync(join(__dirname, 'fixtures', 'pyramid-anchors.json'), 'utf8')) as { cases: PyramidCase[] }).cases;

describe('pyramidAnchors against torchvision AnchorGenerator on several maps', () => {
  it.each(cases.map((c) => [c.name, c.mapSizes.length, c] as const))('%s (%p levels): exactly, level after level, with the per-level counts', (_, __, c) => {
    const before = tf.memory().numTensors;
    const { anchors, anchorsPerLevel } = pyramidAnchors(c.sizes, c.ratios, c.mapSizes, c.imageSize);
    expect(anchorsPerLevel).toEqual(c.anchorsPerLevel);
    expect(anchors.shape).toEqual([c.anchors.length / 4, 4]);
    expect(Array.from(anchors.dataSync())).toEqual(c.anchors);
    anchors.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is gridAnchors of each level, concatenated', () => {
    const before = tf.memory().numTensors;
    const { anchors, anchorsPerLevel } = pyramidAnchors([[16, 32], [64]], [[1], [0.5, 2]], [[5, 7], [3, 4]], [40, 60]);
    expect(anchorsPerLevel).toEqual([5 * 7 * 2, 3 * 4 * 2]);
    const levels = tf.tidy(() => [
      ...gridAnchors(referenceAnchors([16, 32], [1]), 5, 7, [8, 8]).dataSync(),
      ...gridAnchors(referenceAnchors([64], [0.5, 2]), 3, 4, [13, 15]).dataSync(),
    ]);
    expect(Array.from(anchors.dataSync())).toEqual(levels);
    anchors.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('levelStrides', () => {
  it('divides the padded size by each map size, rounding down per axis', () => {
    // 800 x 1216 through strides 4 … 32 and LastLevelMaxPool: the pool level is 13 x 19.
    expect(levelStrides([800, 1216], [[200, 304], [100, 152], [50, 76], [25, 38], [13, 19]])).toEqual([
      [4, 4],
      [8, 8],
      [16, 16],
      [32, 32],
      [61, 64],
    ]);
    expect(levelStrides([70, 90], [[9, 12]])).toEqual([[7, 7]]);
  });
});

describe('argument checks', () => {
  it('names the bad argument and level', () => {
    const fn = 'Error in pyramidAnchors: ';
    expect(() => pyramidAnchors([[32]], [[1]], [[4, 4]], [0, 64])).toThrow(`${fn}'imageSize' must be the padded input's [height, width], positive integers, but got [0,64].`);
    expect(() => pyramidAnchors([[32]], [[1]], [], [64, 64])).toThrow(`${fn}'mapSizes' must be a non-empty array of [height, width], one per map, but got an array of length 0.`);
    expect(() => pyramidAnchors([[32], [64]], [[1], [1]], [[4, 4], [2.5, 2]], [64, 64])).toThrow(`${fn}'mapSizes[1]' must be [height, width], positive integers, but got [2.5,2].`);
    expect(() => pyramidAnchors([[32]], [[1]], [[65, 4]], [64, 64])).toThrow(`${fn}'mapSizes[0]' must not exceed the input size [64, 64], but got [65, 4].`);
    expect(() => pyramidAnchors([[32]], [[1], [1]], [[4, 4]], [64, 64])).toThrow(`${fn}'ratios' must hold one list per map (1), but got an array of length 2.`);
    expect(() => pyramidAnchors([32] as unknown as number[][], [[1]], [[4, 4]], [64, 64])).toThrow(`${fn}'sizes[0]' must be a non-empty array of positive finite numbers, but got 32.`);
    expect(() => pyramidAnchors([[32], []], [[1], [1]], [[4, 4], [2, 2]], [64, 64])).toThrow(`${fn}'sizes[1]' must be a non-empty array of positive finite numbers, but got [].`);
    expect(() => levelStrides([64, 64], [[4, 0]])).toThrow("Error in levelStrides: 'mapSizes[0]' must be [height, width], positive integers, but got [4,0].");
  });
});
