import { seededRandom } from '@lumen/core';
import { localContrastNormalise } from './local-contrast';
import { maxError } from './testing/max-error';

/** The definition, window by window (no summed-area tables). */
function reference(pixels: ArrayLike<number>, width: number, height: number, radius: number, floor: number): Float64Array {
  const out = new Float64Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const mean = [0, 0, 0];
      const values: number[][] = [[], [], []];
      for (let v = Math.max(0, y - radius); v <= Math.min(height - 1, y + radius); v++) {
        for (let u = Math.max(0, x - radius); u <= Math.min(width - 1, x + radius); u++) {
          for (let c = 0; c < 3; c++) values[c].push(pixels[(v * width + u) * 3 + c]);
        }
      }
      let variance = 0;
      for (let c = 0; c < 3; c++) {
        mean[c] = values[c].reduce((a, b) => a + b, 0) / values[c].length;
        variance += values[c].reduce((a, b) => a + (b - mean[c]) ** 2, 0) / values[c].length;
      }
      for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = (pixels[(y * width + x) * 3 + c] - mean[c]) / Math.sqrt(variance / 3 + floor * floor);
    }
  }
  return out;
}

function randomImage(seed: number, width: number, height: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: width * height * 3 }, () => random());
}

describe('localContrastNormalise', () => {
  it.each([
    [1, 9, 7, 1, 0.03],
    [2, 13, 5, 3, 0.1],
    [3, 6, 11, 8, 0.01], // the window is larger than the image
  ])('matches the definition window by window (seed %i, %ix%i, radius %i, floor %f)', (seed, width, height, radius, floor) => {
    const pixels = randomImage(seed, width, height);
    const out = new Float32Array(width * height * 3);
    localContrastNormalise(pixels, width, height, { radius, floor }, out);
    expect(maxError(out, reference(pixels, width, height, radius, floor))).toBeLessThan(1e-5);
  });

  it('reads bytes as value / 255', () => {
    const random = seededRandom(4);
    const bytes = Uint8Array.from({ length: 8 * 6 * 3 }, () => Math.floor(random() * 256));
    const fromBytes = new Float32Array(bytes.length);
    const fromUnit = new Float32Array(bytes.length);
    localContrastNormalise(bytes, 8, 6, { radius: 2, floor: 0.05 }, fromBytes);
    localContrastNormalise(Float32Array.from(bytes, (b) => b / 255), 8, 6, { radius: 2, floor: 0.05 }, fromUnit);
    expect(maxError(fromBytes, fromUnit)).toBeLessThan(1e-6);
  });

  it('makes a faint stroke on a flat canvas look like a strong one (floor small against both)', () => {
    const width = 24;
    const height = 16;
    const stroke = (contrast: number) => {
      const pixels = new Float32Array(width * height * 3).fill(0.5);
      for (let y = 4; y < 12; y++) for (let x = 10; x < 13; x++) for (let c = 0; c < 3; c++) pixels[(y * width + x) * 3 + c] = 0.5 - contrast * [1, 0.8, 0.6][c];
      const out = new Float32Array(pixels.length);
      localContrastNormalise(pixels, width, height, { radius: 4, floor: 1e-3 }, out);
      return out;
    };
    const faint = stroke(0.1); // ~25 grey levels
    const strong = stroke(0.6);
    expect(maxError(faint, strong)).toBeLessThan(0.02);
    expect(Math.max(...faint.map(Math.abs))).toBeGreaterThan(1);
  });

  it('leaves a flat image at zero and does not blow up noise far below the floor', () => {
    const flat = new Float32Array(10 * 10 * 3).fill(0.7);
    const out = new Float32Array(flat.length).fill(NaN);
    localContrastNormalise(flat, 10, 10, { radius: 3, floor: 0.03 }, out);
    expect(out.every((v) => v === 0 || Math.abs(v) < 1e-6)).toBe(true);
    const random = seededRandom(5);
    const noisy = flat.map((v) => v + (random() - 0.5) * 0.004);
    localContrastNormalise(noisy, 10, 10, { radius: 3, floor: 0.03 }, out);
    expect(Math.max(...out.map(Math.abs))).toBeLessThan(0.1);
  });

  it('writes rows at offset and rowStride, leaving the rest of the buffer alone', () => {
    const pixels = randomImage(6, 5, 4);
    const tight = new Float32Array(5 * 4 * 3);
    localContrastNormalise(pixels, 5, 4, { radius: 1, floor: 0.02 }, tight);
    const padded = new Float32Array(7 + 4 * 8 * 3).fill(-9);
    localContrastNormalise(pixels, 5, 4, { radius: 1, floor: 0.02 }, padded, 7, 8 * 3);
    for (let y = 0; y < 4; y++) {
      expect(padded.subarray(7 + y * 24, 7 + y * 24 + 15)).toEqual(tight.subarray(y * 15, y * 15 + 15));
      expect(Array.from(padded.subarray(7 + y * 24 + 15, 7 + (y + 1) * 24))).toEqual(new Array(9).fill(-9));
    }
    expect(Array.from(padded.subarray(0, 7))).toEqual(new Array(7).fill(-9));
  });

  it('says which argument is wrong', () => {
    const out = new Float32Array(12);
    expect(() => localContrastNormalise(new Float32Array(12), 2, 2, { radius: 0, floor: 0.1 }, out)).toThrow(/'radius' must be an integer >= 1, but got 0/);
    expect(() => localContrastNormalise(new Float32Array(12), 2, 2, { radius: 1.5, floor: 0.1 }, out)).toThrow(/'radius'/);
    expect(() => localContrastNormalise(new Float32Array(12), 2, 2, { radius: 1, floor: 0 }, out)).toThrow(/'floor' must be a positive number, but got 0/);
  });
});
