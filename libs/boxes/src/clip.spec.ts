import * as tf from '@tensorflow/tfjs-core';
import { clipBoxes, removeSmallBoxes } from './clip';
import { loadFixture, relativeError } from './testing/fixtures';

const clip = loadFixture<{ boxes: number[][]; cases: { height: number; width: number; clipped: number[][] }[] }>('clip.json');
const small = loadFixture<{ boxes: number[][]; cases: { minSize: number; keep: number[] }[] }>('remove-small.json');

describe('clipBoxes', () => {
  const boxes = tf.tensor2d(clip.boxes);

  it.each(clip.cases.map((c) => [c.height, c.width, c] as const))('matches torchvision clip_boxes_to_image at height %p, width %p', (height, width, c) => {
    const out = clipBoxes(boxes, height, width);
    expect(out.shape).toEqual(boxes.shape);
    expect(relativeError(out.dataSync(), c.clipped.flat())).toBe(0);
  });

  it('leaves no tensor behind but its result', () => {
    const before = tf.memory().numTensors;
    const out = clipBoxes(boxes, 10, 10);
    expect(tf.memory().numTensors).toBe(before + 1);
    out.dispose();
  });

  it('names a bad size', () => {
    expect(() => clipBoxes(boxes, -1, 10)).toThrow("Error in clipBoxes: 'height' must be a non-negative number, but got -1.");
    expect(() => clipBoxes(boxes, 10, NaN)).toThrow("Error in clipBoxes: 'width' must be a non-negative number, but got NaN.");
    expect(() => clipBoxes(tf.tensor2d([[0, 0, NaN, 1]]), 1, 1)).toThrow("Error in clipBoxes: 'boxes' must not contain NaN, but row 0 is NaN.");
    expect(() => clipBoxes(tf.zeros([2, 2, 4]) as unknown as tf.Tensor2D, 1, 1)).toThrow(/'boxes' must be boxes of shape \[N, 4\], but got a float32 tensor of shape \[2,2,4\]/);
  });
});

describe('removeSmallBoxes', () => {
  const boxes = tf.tensor2d(small.boxes);

  it.each(small.cases.map((c) => [c.minSize, c] as const))('keeps what torchvision remove_small_boxes keeps at minSize %p (>=, float32)', (minSize, c) => {
    const keep = removeSmallBoxes(boxes, minSize);
    expect(keep.dtype).toBe('int32');
    expect(Array.from(keep.dataSync())).toEqual(c.keep);
  });

  it('keeps a box whose side equals minSize and drops one just below it', () => {
    const edge = tf.tensor2d([[0, 0, 16, 16], [0, 0, 16, 15.875]]);
    expect(Array.from(removeSmallBoxes(edge, 16).dataSync())).toEqual([0]);
  });

  it('handles no boxes', () => {
    expect(removeSmallBoxes(tf.zeros([0, 4]), 1).shape).toEqual([0]);
  });

  it('reports NaN boxes and a bad minSize', () => {
    expect(() => removeSmallBoxes(tf.tensor2d([[0, 0, 1, 1], [0, NaN, 1, 1]]), 0)).toThrow("Error in removeSmallBoxes: 'boxes' must not contain NaN, but row 1 is NaN.");
    expect(() => removeSmallBoxes(boxes, -0.5)).toThrow("Error in removeSmallBoxes: 'minSize' must be a non-negative number, but got -0.5.");
  });
});
