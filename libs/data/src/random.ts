import type { Rng } from '@lumen/core';

// The draws the data pipeline makes beyond @lumen/core's generator: per-example streams
// (mixSeed), shuffles and ranges.

/**
 * A 32-bit seed from several integers (murmur3's mixing), so (seed, epoch, index) streams
 * are independent of each other and of the order in which they are drawn.
 */
export function mixSeed(...values: number[]): number {
  let h = 0x9747b28c;
  for (const value of values) {
    // Integers beyond 32 bits (seeds from Date.now(), say) keep their high part.
    const lo = value >>> 0;
    const hi = Math.floor(value / 4294967296) >>> 0;
    for (const part of [lo, hi]) {
      let k = Math.imul(part, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Fisher–Yates in place. */
export function shuffleInPlace<T>(items: T[] | Int32Array, random: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = items[i];
    items[i] = items[j];
    items[j] = swap;
  }
}

/** Uniform in [lo, hi). */
export function uniform(random: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * random();
}

/** Integer uniform in [lo, hi] (inclusive). */
export function randomInt(random: Rng, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}
