import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localContrastNormalise } from './local-contrast';
import { batchImages, resizeBoxes } from './transform';
import { maxError } from './testing/max-error';

// torchvision 0.14.1 / torch 1.13 (tools/fixtures/transform_fixtures.py): GeneralizedRCNNTransform
// with ImageNet mean/std. The inputs are torchvision's own resize of the [0, 1] image (what
// @lumen/data's `resize: 'torchvision'` makes, bit for bit: its torchvision-resize.spec.ts).
interface Fixture {
  batch: {
    mean: [number, number, number];
    std: [number, number, number];
    sizeDivisible: number;
    inputs: Array<{ width: number; height: number; values: number[] }>;
    imageSizes: Array<[number, number]>;
    shape: [number, number, number, number];
    values: number[];
  };
  normalised: { mean: [number, number, number]; std: [number, number, number]; samples: Array<[number, number, number]> };
  postprocess: Array<{ imageSize: [number, number]; originalSize: [number, number]; boxes: number[]; mapped: number[] }>;
}
const fixture: Fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'transform.json'), 'utf8'));

/** JSON holds each float32 in its shortest form: rounding it to float32 gives the value back. */
const f32 = (values: number[]) => Float32Array.from(values);

describe('batchImages on float pixels (resize: torchvision)', () => {
  const { batch } = fixture;
  const transform = { mean: batch.mean, std: batch.std, sizeDivisible: batch.sizeDivisible, localContrast: null };

  it("is torchvision's batch: image_sizes, padded shape, zero padding, values within 1e-6", () => {
    const inputs = batch.inputs.map((i) => ({ pixels: f32(i.values), width: i.width, height: i.height }));
    const { images, sizes } = batchImages(inputs, transform);
    expect(sizes).toEqual(batch.imageSizes);
    expect(images.shape).toEqual(batch.shape);
    const values = images.dataSync();
    images.dispose();
    const expected = f32(batch.values);
    // torchvision normalises before resizing, Lumen after: the roundings differ, by < 1e-6.
    expect(maxError(values, expected)).toBeLessThan(1e-6);
    const [, height, width] = batch.shape;
    batch.imageSizes.forEach(([h, w], n) => {
      for (let y = 0; y < height; y++) {
        for (let x = y < h ? w : 0; x < width; x++) expect(values.subarray(((n * height + y) * width + x) * 3, ((n * height + y) * width + x) * 3 + 3)).toEqual(new Float32Array(3));
      }
    });
  });

  it('normalises the values of large upscaled images within 1e-6 of torchvision', () => {
    const { samples, mean, std } = fixture.normalised;
    // One pixel per sample, the sampled channel set: normalisation is per value.
    const pixels = new Float32Array(samples.length * 3);
    samples.forEach(([c, unit], i) => (pixels[i * 3 + c] = unit));
    const { images } = batchImages([{ pixels, width: samples.length, height: 1 }], { mean, std, sizeDivisible: 1, localContrast: null });
    const values = images.dataSync();
    images.dispose();
    const got = samples.map(([c], i) => values[i * 3 + c]);
    expect(maxError(got, f32(samples.map((s) => s[2])))).toBeLessThan(1e-6);
  });

  it('normalises each image by local contrast instead of mean/std when localContrast is set, padding with zeros', () => {
    const local = { radius: 2, floor: 0.04 };
    const a = { pixels: Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) % 256), width: 5, height: 3 };
    const b = { pixels: Float32Array.from({ length: 2 * 4 * 3 }, (_, i) => ((i * 13) % 17) / 17), width: 2, height: 4 };
    const { images, sizes } = batchImages([a, b], { ...transform, sizeDivisible: 4, localContrast: local });
    expect(images.shape).toEqual([2, 4, 8, 3]);
    expect(sizes).toEqual([[3, 5], [4, 2]]);
    const values = images.dataSync();
    images.dispose();
    [a, b].forEach((input, n) => {
      const alone = new Float32Array(input.width * input.height * 3);
      localContrastNormalise(input.pixels, input.width, input.height, local, alone);
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 8; x++) {
          const got = Array.from(values.subarray(((n * 4 + y) * 8 + x) * 3, ((n * 4 + y) * 8 + x) * 3 + 3));
          const inside = y < input.height && x < input.width;
          expect(got).toEqual(inside ? Array.from(alone.subarray((y * input.width + x) * 3, (y * input.width + x) * 3 + 3)) : [0, 0, 0]);
        }
      }
    });
  });

  it('names pixels that are neither bytes nor floats, or of the wrong length', () => {
    const bad = { pixels: new Float64Array(12) as unknown as Float32Array, width: 2, height: 2 };
    expect(() => batchImages([bad], transform)).toThrow("Error in batchImages: image 0's pixels must be a Uint8Array or a Float32Array, but got object.");
    expect(() => batchImages([{ pixels: new Float32Array(11), width: 2, height: 2 }], transform)).toThrow('Error in batchImages: image 0 has 11 values, but 2x2 RGB needs 12.');
  });
});

describe('resizeBoxes', () => {
  it.each(fixture.postprocess.map((c) => [...c.imageSize, ...c.originalSize, c]))(
    "maps boxes of a %ix%i input back to %ix%i as torchvision's postprocess, bit for bit",
    (_h, _w, _oh, _ow, c) => {
      expect(resizeBoxes(f32(c.boxes), c.imageSize, c.originalSize)).toEqual(f32(c.mapped));
    },
  );

  it('scales x and y by their own ratios (a stretched image maps back exactly)', () => {
    // 7x15 at 6/9: 4x9, so x is scaled by 15/9 and y by 7/4.
    expect(Array.from(resizeBoxes([0, 0, 9, 4, 3, 2, 6, 3], [4, 9], [7, 15]))).toEqual([0, 0, 15, 7, 5, 3.5, 10, 5.25]);
  });

  it('names a bad argument', () => {
    expect(() => resizeBoxes([0, 0, 1], [2, 2], [4, 4])).toThrow("Error in resizeBoxes: 'boxes' must hold [x1, y1, x2, y2] rows, but got 3 values.");
    expect(() => resizeBoxes([0, 0, 1, 1], [0, 2], [4, 4])).toThrow("Error in resizeBoxes: 'from' must be a positive [height, width], but got an array of length 2.");
  });
});
