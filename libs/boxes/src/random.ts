/**
 * A seeded uniform generator in [0, 1) (mulberry32): the same seed gives the same
 * sequence on every platform, so sampling is reproducible without a global RNG.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` distinct items of `items` chosen uniformly (partial Fisher–Yates), ascending. */
export function chooseSorted(items: Int32Array, count: number, random: () => number): Int32Array {
  const pool = items.slice();
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    const swap = pool[i];
    pool[i] = pool[j];
    pool[j] = swap;
  }
  return pool.subarray(0, count).sort();
}
