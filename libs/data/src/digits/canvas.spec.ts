import { seededRandom } from '@lumen/core';
import { CANVAS_KINDS, drawCanvas, luminance } from './canvas';

const quiet = { sigma: 0, offset: 0, stride: 1 };
const draw = (kind: (typeof CANVAS_KINDS)[number], seed: number, noise = quiet) => drawCanvas(kind, seededRandom(seed), 160, 120, noise);

/** Distinct colours of a canvas, each with its pixel count, most frequent first. */
function colours(canvas: Uint8ClampedArray): number[] {
  const counts = new Map<number, number>();
  for (let o = 0; o < canvas.length; o += 3) {
    const key = (canvas[o] << 16) | (canvas[o + 1] << 8) | canvas[o + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.values()].sort((a, b) => b - a);
}

describe('drawCanvas', () => {
  it.each(CANVAS_KINDS)('%s: the same seed gives the same bytes, another seed others', (kind) => {
    const noise = { sigma: 8, offset: 123, stride: 7 };
    expect(Buffer.from(draw(kind, 5, noise)).equals(Buffer.from(draw(kind, 5, noise)))).toBe(true);
    expect(Buffer.from(draw(kind, 5, noise)).equals(Buffer.from(draw(kind, 6, noise)))).toBe(false);
    expect(draw(kind, 5, noise).length).toBe(160 * 120 * 3);
  });

  it('flat: one colour without noise; noise of the given sigma around it', () => {
    expect(colours(draw('flat', 1))).toEqual([160 * 120]);
    const noisy = draw('flat', 1, { sigma: 10, offset: 9, stride: 3 });
    const plain = draw('flat', 1);
    let sum = 0;
    let n = 0;
    for (let i = 0; i < plain.length; i++) {
      if (plain[i] < 40 || plain[i] > 215) continue; // clamping would shrink the spread
      sum += (noisy[i] - plain[i]) ** 2;
      n++;
    }
    expect(Math.sqrt(sum / n)).toBeGreaterThan(8.5);
    expect(Math.sqrt(sum / n)).toBeLessThan(11.5);
  });

  it('stripes and checks: two colours cover most pixels, both in large parts, edges in between', () => {
    for (const kind of ['stripes', 'checks'] as const) {
      for (let seed = 0; seed < 8; seed++) {
        const counts = colours(draw(kind, seed));
        const total = 160 * 120;
        expect(counts[0] + counts[1]).toBeGreaterThan(0.5 * total);
        expect(counts[1]).toBeGreaterThan(0.1 * total);
      }
    }
  });

  it('stripes: bands cross the canvas (the luminance along the first row or column changes again and again)', () => {
    let banded = 0;
    for (let seed = 0; seed < 10; seed++) {
      const canvas = draw('stripes', seed);
      const row = Array.from({ length: 160 }, (_, x) => luminance(canvas[3 * x], canvas[3 * x + 1], canvas[3 * x + 2]));
      const column = Array.from({ length: 120 }, (_, y) => luminance(canvas[3 * 160 * y], canvas[3 * 160 * y + 1], canvas[3 * 160 * y + 2]));
      const changes = (v: number[]) => v.slice(1).filter((value, i) => Math.abs(value - v[i]) > 1).length;
      if (changes(row) + changes(column) >= 4) banded++;
    }
    expect(banded).toBeGreaterThanOrEqual(8);
  });

  it('blotches and shapes: many colours / several flat regions', () => {
    for (let seed = 0; seed < 5; seed++) {
      expect(colours(draw('blotches', seed)).length).toBeGreaterThan(500);
      const shapes = colours(draw('shapes', seed));
      expect(shapes.length).toBeGreaterThanOrEqual(2);
      expect(shapes.length).toBeLessThanOrEqual(31); // the base and at most 30 shapes, no blending
    }
  });
});
