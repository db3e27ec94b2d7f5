import { assertRng, drawSeed, normalValues, seededNormalValues, seededRandom, uniformValues } from './random';

/** The first draws of a stream as the 32-bit words mulberry32 produced. */
const words = (seed: number, count: number): number[] => Array.from({ length: count }, seededRandom(seed)).map((u) => u * 4294967296);

describe('seededRandom', () => {
  it('is mulberry32: known words for known seeds', () => {
    expect(words(0, 4)).toEqual([1144304738, 1416247, 958946056, 627933444]);
    expect(words(42, 4)).toEqual([2581720956, 1925393290, 3661312704, 2876485805]);
  });

  it('takes seeds modulo 2^32', () => {
    expect(words(2 ** 32 + 42, 4)).toEqual(words(42, 4));
    expect(words(-1, 4)).toEqual([3850105811, 813802916, 3073704848, 4054706436]);
  });

  it('draws in [0, 1)', () => {
    const rng = seededRandom(5);
    for (let i = 0; i < 10_000; i++) {
      const u = rng();
      expect(u >= 0 && u < 1).toBe(true);
    }
  });
});

describe('normalValues', () => {
  it('is Box–Muller over pairs of draws, both values used (known values)', () => {
    expect(normalValues(5, 2, seededRandom(7))).toEqual(
      Float32Array.from([0.2839408814907074, 0.11648143082857132, -1.728506088256836, -5.211361885070801, -2.012732744216919]),
    );
  });

  it('has the requested spread', () => {
    const values = normalValues(20_000, 3, seededRandom(1));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.sqrt(variance)).toBeCloseTo(3, 1);
  });
});

describe('seededNormalValues', () => {
  it.each([0, 1, 2, 7, 1001])('equals normalValues on seededRandom(seed), value for value (%i values)', (count) => {
    for (const seed of [0, 3, 0xffffffff]) expect(seededNormalValues(count, 0.5, seed)).toEqual(normalValues(count, 0.5, seededRandom(seed)));
  });
});

describe('uniformValues', () => {
  it('maps each draw u to (2u - 1) · bound', () => {
    const draws = Array.from({ length: 3 }, seededRandom(9));
    expect(uniformValues(3, 0.25, seededRandom(9))).toEqual(Float32Array.from(draws, (u) => (2 * u - 1) * 0.25));
  });
});

describe('drawSeed', () => {
  it('turns one draw into a 32-bit integer', () => {
    expect(drawSeed('f', seededRandom(42))).toBe(2581720956);
    expect(drawSeed('f', () => 0)).toBe(0);
  });

  it('rejects a generator out of [0, 1)', () => {
    expect(() => drawSeed('sample', () => 1)).toThrow("Error in sample: 'rng' must return numbers in [0, 1), but returned 1.");
    expect(() => drawSeed('sample', () => NaN)).toThrow("but returned NaN.");
  });
});

describe('assertRng', () => {
  it('names the function and what came', () => {
    expect(() => assertRng('init', 42)).toThrow("Error in init: 'rng' must be a function returning numbers in [0, 1), but got 42. seededRandom(seed) from @lumen/core makes one.");
    expect(() => assertRng('init', seededRandom(0))).not.toThrow();
  });
});
