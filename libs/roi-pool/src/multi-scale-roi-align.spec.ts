import * as tf from '@tensorflow/tfjs-core';
import { seededRandom } from '@lumen/core';
import { inferScales, levelsOfBoxes, multiScaleRoiAlign } from './multi-scale-roi-align';
import { roiAlign } from './roi-align';
import { loadFixture, relativeError, type MultiScaleCase, type MultiScaleFixture } from './testing/fixtures';
import { resetPoolingPath, usePoolingPath, type PoolingPath } from './testing/pooling-paths';

const fixture = loadFixture<MultiScaleFixture>('multi-scale.json');
// torchvision's image_shapes max per dimension: 61x96 (61 is no multiple of 32).
const imageSize: [number, number] = [Math.max(...fixture.imageShapes.map((s) => s[0])), Math.max(...fixture.imageShapes.map((s) => s[1]))];

afterEach(resetPoolingPath);

function pyramid(count = fixture.maps.length): tf.Tensor4D[] {
  return fixture.maps.slice(0, count).map((m) => tf.tensor4d(m.features, m.shape));
}

function boxInputs(rows = fixture.boxes.map((_, i) => i)) {
  return {
    boxes: tf.tensor2d(rows.map((r) => fixture.boxes[r]), [rows.length, 4]),
    boxIndices: tf.tensor1d(rows.map((r) => fixture.boxIndices[r]), 'int32'),
  };
}

const channels = fixture.maps[0].shape[3];
const fpn = fixture.cases.find((c) => c.name === 'fpn') as MultiScaleCase;

// Every torchvision case through the JavaScript kernels, the default choice (wasm SIMD: the
// maps have 4 channels) and a backend kernel. Specs load tfjs-core and the cpu backend only,
// no registered gradients: the gradients here are the op's own.
const runs = fixture.cases.flatMap((c) => (['js', 'auto', 'backend kernel'] as PoolingPath[]).map((kernels) => [c.name, kernels, c] as const));

describe('multiScaleRoiAlign against torchvision.ops.MultiScaleRoIAlign', () => {
  it.each(runs)('%s, %s kernels: forward and the gradient w.r.t. each map', (_, kernels, c) => {
    usePoolingPath(kernels);
    const maps = pyramid(c.maps);
    const { boxes, boxIndices } = boxInputs();
    const rois = fixture.boxes.length;
    const dy = tf.tensor4d(c.dy, [rois, ...c.outputSize, channels]);
    const options = { imageSize, samplingRatio: c.samplingRatio, canonicalScale: c.canonicalScale, canonicalLevel: c.canonicalLevel };
    const before = tf.memory().numTensors;
    const f = (...xs: tf.Tensor[]) => multiScaleRoiAlign(xs as tf.Tensor4D[], boxes, boxIndices, c.outputSize, options);
    const out = f(...maps);
    expect(out.shape).toEqual([rois, ...c.outputSize, channels]);
    expect(relativeError(out.dataSync(), c.output)).toBeLessThan(1e-4);
    const grads = tf.grads(f)(maps, dy);
    grads.forEach((grad, level) => {
      expect(grad.shape).toEqual(fixture.maps[level].shape);
      expect(relativeError(grad.dataSync(), c.grads[level])).toBeLessThan(1e-4);
    });
    tf.dispose([out, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...maps, boxes, boxIndices, dy]);
  });

  it.each(fixture.cases.filter((c) => c.maps > 1).map((c) => [c.name, c] as const))('%s: the level of every box', (_, c) => {
    const { boxes, boxIndices } = boxInputs();
    const levels = levelsOfBoxes(boxes, c.scales, { canonicalScale: c.canonicalScale, canonicalLevel: c.canonicalLevel });
    expect(Array.from(levels)).toEqual(c.levels);
    tf.dispose([boxes, boxIndices]);
  });

  it("infers torchvision's scales from the largest image size, and explicit scales give the same output", () => {
    const maps = pyramid();
    expect(inferScales(maps, imageSize)).toEqual(fpn.scales);
    expect(inferScales(maps.slice(0, 1), imageSize)).toEqual([0.25]);
    const { boxes, boxIndices } = boxInputs();
    const out = multiScaleRoiAlign(maps, boxes, boxIndices, [7, 7], { scales: [0.25, 0.125, 0.0625, 0.03125] });
    expect(relativeError(out.dataSync(), fpn.output)).toBeLessThan(1e-4);
    tf.dispose([...maps, boxes, boxIndices, out]);
  });
});

describe('multiScaleRoiAlign', () => {
  it("returns rows in the boxes' order for any interleaving of images and levels", () => {
    const random = seededRandom(3);
    const rows = fixture.boxes.map((_, i) => i);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [rows[i], rows[j]] = [rows[j], rows[i]];
    }
    const rowSize = 7 * 7 * channels;
    const dy = tf.tensor4d(rows.flatMap((r) => fpn.dy.slice(r * rowSize, (r + 1) * rowSize)), [rows.length, 7, 7, channels]);
    const maps = pyramid();
    const { boxes, boxIndices } = boxInputs(rows);
    const f = (...xs: tf.Tensor[]) => multiScaleRoiAlign(xs as tf.Tensor4D[], boxes, boxIndices, [7, 7], { imageSize });
    const out = f(...maps);
    expect(relativeError(out.dataSync(), rows.flatMap((r) => fpn.output.slice(r * rowSize, (r + 1) * rowSize)))).toBeLessThan(1e-4);
    const grads = tf.grads(f)(maps, dy);
    grads.forEach((grad, level) => expect(relativeError(grad.dataSync(), fpn.grads[level])).toBeLessThan(1e-4));
    tf.dispose([...maps, boxes, boxIndices, dy, out, ...grads]);
  });

  it("pools each box with roiAlign on its level's map, passing aligned and the sampling ratio", () => {
    const maps = pyramid();
    const { boxes, boxIndices } = boxInputs();
    const options = { canonicalScale: 32, canonicalLevel: 4 };
    const out = multiScaleRoiAlign(maps, boxes, boxIndices, [3, 2], { ...options, imageSize, samplingRatio: 0, aligned: true });
    const levels = levelsOfBoxes(boxes, fpn.scales, options);
    expect(new Set(levels).size).toBe(4);
    const rowSize = 3 * 2 * channels;
    levels.forEach((level, r) => {
      const expected = tf.tidy(() => {
        const box = tf.tensor2d([fixture.boxes[r]]);
        const image = tf.tensor1d([fixture.boxIndices[r]], 'int32');
        return roiAlign(maps[level], box, image, [3, 2], fpn.scales[level], 0, true).dataSync();
      });
      expect(Array.from(out.dataSync().subarray(r * rowSize, (r + 1) * rowSize))).toEqual(Array.from(expected));
    });
    tf.dispose([...maps, boxes, boxIndices, out]);
  });

  it('gives every map a gradient, zero where no box goes', () => {
    // Both boxes are small: they pool from the finest map.
    const maps = pyramid();
    const boxes = tf.tensor2d([[1, 2, 9, 10], [30, 8, 50, 30]]);
    const boxIndices = tf.tensor1d([1, 0], 'int32');
    const f = (...xs: tf.Tensor[]) => multiScaleRoiAlign(xs as tf.Tensor4D[], boxes, boxIndices, [2, 2], { imageSize });
    const dy = tf.ones([2, 2, 2, channels]);
    const grads = tf.grads(f)(maps, dy);
    expect(Array.from(grads[0].dataSync()).some((v) => v !== 0)).toBe(true);
    grads.slice(1).forEach((grad) => expect(Array.from(grad.dataSync()).every((v) => v === 0)).toBe(true));
    tf.dispose([...maps, boxes, boxIndices, dy, ...grads]);
  });

  it('handles no boxes: an empty output and zero gradients', () => {
    const maps = pyramid();
    const boxes = tf.zeros([0, 4]) as tf.Tensor2D;
    const boxIndices = tf.zeros([0], 'int32') as tf.Tensor1D;
    const dy = tf.zeros([0, 7, 7, channels]);
    const before = tf.memory().numTensors;
    const f = (...xs: tf.Tensor[]) => multiScaleRoiAlign(xs as tf.Tensor4D[], boxes, boxIndices, [7, 7], { imageSize });
    const out = f(...maps);
    expect(out.shape).toEqual([0, 7, 7, channels]);
    const grads = tf.grads(f)(maps, dy);
    grads.forEach((grad, level) => {
      expect(grad.shape).toEqual(fixture.maps[level].shape);
      expect(Array.from(grad.dataSync()).every((v) => v === 0)).toBe(true);
    });
    tf.dispose([out, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...maps, boxes, boxIndices, dy]);
  });

  it('carries no gradient to the boxes: asking for one is an error', () => {
    const maps = pyramid();
    const boxIndices = tf.tensor1d([0], 'int32');
    const f = (b: tf.Tensor) => multiScaleRoiAlign(maps, b as tf.Tensor2D, boxIndices, [2, 2], { imageSize });
    expect(() => tf.grad(f)(tf.tensor2d([[0, 0, 20, 20]]))).toThrow(/Cannot compute gradient/);
    tf.dispose([...maps, boxIndices]);
  });

  it('names a bad argument', () => {
    const maps = pyramid();
    const boxes = tf.tensor2d([[0, 0, 8, 8]]);
    const idx = tf.tensor1d([0], 'int32');
    const call =
      (over: Partial<{ f: unknown; b: unknown; i: unknown; size: unknown; options: unknown }>) =>
      () =>
        multiScaleRoiAlign(
          (over.f ?? maps) as tf.Tensor4D[],
          (over.b ?? boxes) as tf.Tensor2D,
          (over.i ?? idx) as tf.Tensor1D,
          (over.size ?? [7, 7]) as [number, number],
          (over.options ?? { imageSize }) as object,
        );
    const E = 'Error in multiScaleRoiAlign: ';
    const pyramidScales = { scales: [0.25, 0.125, 0.0625, 0.03125] };
    expect(call({ f: maps[0] })).toThrow(`${E}'features' must be a non-empty array of rank-4 maps (finest first), but got a float32 tensor of shape [2,16,24,4].`);
    expect(call({ f: [] })).toThrow(`${E}'features' must be a non-empty array of rank-4 maps (finest first), but got an array of length 0.`);
    expect(call({ f: [maps[0], tf.zeros([8, 12, 4])] })).toThrow(`${E}'features[1]' must be a rank-4 tensor, but got a float32 tensor of shape [8,12,4].`);
    expect(call({ f: [maps[0], tf.zeros([2, 8, 12, 3])] })).toThrow(
      `${E}'features[1]' must have the batch size and channels of features[0] (2 and 4), but got a float32 tensor of shape [2,8,12,3].`,
    );
    expect(call({ f: [maps[0], tf.zeros([2, 0, 12, 4])] })).toThrow(`${E}'features[1]' must have a height and a width of at least 1`);
    expect(call({ options: [] })).toThrow(`${E}'options' must be an object`);
    expect(call({ options: {} })).toThrow(`${E}'options' must give exactly one of 'scales' and 'imageSize', but got neither.`);
    expect(call({ options: { imageSize, ...pyramidScales } })).toThrow(`${E}'options' must give exactly one of 'scales' and 'imageSize', but got both.`);
    expect(call({ options: { scales: [0.25, 0.125] } })).toThrow(`${E}'scales' must be 4 positive number(s), one per feature map, but got [0.25, 0.125].`);
    expect(call({ options: { scales: [0.25, 0.125, 0.125, 0.0625] } })).toThrow(
      `${E}'scales' must be powers of two halving from each map to the next (finest first, e.g. [0.25, 0.125]), but got [0.25, 0.125, 0.125, 0.0625].`,
    );
    expect(call({ options: { scales: [0.3, 0.15, 0.075, 0.0375] } })).toThrow(`${E}'scales' must be powers of two halving`);
    expect(call({ options: { imageSize: [64] } })).toThrow(`${E}'imageSize' must be [height, width] of positive numbers, but got [64].`);
    // 16/64 rounds to 1/4, 24/48 to 1/2.
    expect(call({ options: { imageSize: [64, 48] } })).toThrow(
      `${E}'imageSize' [64, 48] must give features[0] (16x24) one scale, but its height gives 0.25 and its width 0.5; pass 'scales'.`,
    );
    expect(call({ f: [maps[0], maps[0]] })).toThrow(
      `${E}'features' must halve in scale from each map to the next (finest first), but 'imageSize' [61, 96] gives them [0.25, 0.25].`,
    );
    expect(call({ options: { imageSize, samplingRatio: 1.5 } })).toThrow(`${E}'samplingRatio' must be an integer (<= 0: adaptive), but got 1.5.`);
    expect(call({ options: { imageSize, aligned: 1 } })).toThrow(`${E}'aligned' must be a boolean, but got number.`);
    expect(call({ options: { imageSize, canonicalScale: 0 } })).toThrow(`${E}'canonicalScale' must be a positive number, but got 0.`);
    expect(call({ options: { imageSize, canonicalLevel: 4.5 } })).toThrow(`${E}'canonicalLevel' must be an integer, but got 4.5.`);
    expect(call({ b: tf.zeros([1, 5]) })).toThrow(`${E}'boxes' must be boxes of shape [R, 4], but got a float32 tensor of shape [1,5].`);
    expect(call({ i: tf.tensor1d([2], 'int32') })).toThrow(`${E}'boxIndices' must be in [0, 2) (the features' batch), but index 0 is 2.`);
    expect(call({ size: [7, 0] })).toThrow(`${E}'outputSize' must be [height, width] of positive integers, but got [7, 0].`);
    expect(call({ b: tf.tensor2d([[0, 0, 8, 8], [10, 0, 2, 8]]), i: tf.tensor1d([0, 1], 'int32') })).toThrow(
      `${E}'boxes' must have x1 <= x2 and y1 <= y2 (or both inverted): a negative area has no pyramid level, but row 1 is [10, 0, 2, 8].`,
    );
    // One map: plain roiAlign, no level to find.
    const single = multiScaleRoiAlign([maps[0]], tf.tensor2d([[10, 0, 2, 8]]), idx, [2, 2], { imageSize });
    expect(single.shape).toEqual([1, 2, 2, 4]);
    tf.dispose([...maps, boxes, idx, single]);
  });
});

describe('levelsOfBoxes', () => {
  it('clamps to the pyramid and follows FPN eq. 1 on the level boundaries', () => {
    const scales = [0.25, 0.125, 0.0625, 0.03125];
    // sqrt(area) 8, 111.9, 112, 224, 447.9, 448, 5000; an empty box.
    const sides = [8, 111.9, 112, 224, 447.9, 448, 5000, 0];
    const boxes = tf.tensor2d(sides.map((s) => [10, 20, 10 + s, 20 + s]));
    expect(Array.from(levelsOfBoxes(boxes, scales))).toEqual([0, 0, 1, 2, 2, 3, 3, 0]);
    expect(Array.from(levelsOfBoxes(boxes, scales, { canonicalScale: 56, canonicalLevel: 4 }))).toEqual([0, 2, 3, 3, 3, 3, 3, 0]);
    expect(Array.from(levelsOfBoxes(boxes, [1 / 16]))).toEqual(new Array(8).fill(0));
    boxes.dispose();
  });

  it('names a bad argument', () => {
    const boxes = tf.tensor2d([[0, 0, 8, 8]]);
    const E = 'Error in levelsOfBoxes: ';
    expect(() => levelsOfBoxes(boxes, [])).toThrow(`${E}'scales' must be a non-empty array of positive numbers, but got an array of length 0.`);
    expect(() => levelsOfBoxes(boxes, [0.25, 0.5])).toThrow(`${E}'scales' must be powers of two halving`);
    expect(() => levelsOfBoxes(tf.tensor2d([[0, 0, Infinity, 8]]), [0.25])).toThrow(`${E}'boxes' must be finite, but row 0 is [0, 0, Infinity, 8].`);
    expect(() => levelsOfBoxes(tf.tensor2d([[0, 8, 8, 0]]), [0.25])).toThrow(`${E}'boxes' must have x1 <= x2 and y1 <= y2`);
    expect(() => levelsOfBoxes(boxes, [0.25], { canonicalScale: -1 })).toThrow(`${E}'canonicalScale' must be a positive number, but got -1.`);
    boxes.dispose();
  });
});
