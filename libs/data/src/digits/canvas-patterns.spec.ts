import { seededRandom } from '@lumen/core';
import { patternCanvas, type PatternFamily } from './canvas-patterns';

const FAMILIES: PatternFamily[] = ['pattern', 'field', 'shapes', 'flat'];

/** Distinct colours, and the mean absolute step between horizontal neighbours (how fine the ground is). */
function describe_(pixels: Uint8ClampedArray, width: number) {
  const colours = new Set<number>();
  let step = 0;
  for (let p = 0; p < pixels.length / 3; p++) {
    colours.add((pixels[3 * p] << 16) | (pixels[3 * p + 1] << 8) | pixels[3 * p + 2]);
    if (p % width !== 0) step += Math.abs(pixels[3 * p] - pixels[3 * p - 3]);
  }
  return { colours: colours.size, step: step / (pixels.length / 3) };
}

describe('patternCanvas', () => {
  it.each(FAMILIES)('%s: fills every pixel, the same for the same draws', (family) => {
    const a = patternCanvas(seededRandom(7), family, 64, 48);
    expect(a.length).toBe(64 * 48 * 3);
    expect(Buffer.from(patternCanvas(seededRandom(7), family, 64, 48)).equals(Buffer.from(a))).toBe(true);
  });

  it('flat is one colour; the other families vary across the canvas', () => {
    for (let seed = 0; seed < 10; seed++) {
      expect(describe_(patternCanvas(seededRandom(seed), 'flat', 40, 40), 40).colours).toBe(1);
      for (const family of ['pattern', 'field', 'shapes'] as const) expect(describe_(patternCanvas(seededRandom(seed), family, 160, 160), 160).colours).toBeGreaterThan(1);
    }
  });

  it('patterns range from finer than a stroke to coarse', () => {
    const steps = Array.from({ length: 40 }, (_, seed) => describe_(patternCanvas(seededRandom(seed), 'pattern', 200, 200), 200).step);
    expect(Math.max(...steps)).toBeGreaterThan(8 * Math.min(...steps.filter((s) => s > 0)));
  });
});
