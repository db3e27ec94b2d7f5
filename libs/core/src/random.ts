import { describe, fail } from './arg-checks';

// Seeded randomness: every Lumen function that draws takes an explicit `Rng` (docs/architecture.md §2:
// no global RNG), so a run is reproducible from its seed on every platform.

/** A uniform generator in [0, 1): `seededRandom(seed)` makes one. */
export type Rng = () => number;

// Module-level copies: a global lookup per call is slow in some hosts (jest's sandbox: ~100x).
const { cos, floor, imul, log, sin, sqrt, PI } = Math;

const MULBERRY32_INCREMENT = 0x6d2b79f5;

/** mulberry32's output for one (already advanced) state: a uniform number in [0, 1). */
function mulberry32Output(state: number): number {
  let t = imul(state ^ (state >>> 15), state | 1);
  t ^= t + imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * A seeded uniform generator in [0, 1) (mulberry32): the same seed gives the same sequence
 * on every platform. Seeds are taken modulo 2³².
 */
export function seededRandom(seed: number): Rng {
  let state = seed >>> 0;
  return () => mulberry32Output((state = (state + MULBERRY32_INCREMENT) >>> 0));
}

/** A generator in [0, 1), or an error naming `fn`. */
export function assertRng(fn: string, rng: unknown): asserts rng is Rng {
  if (typeof rng !== 'function') {
    fail(fn, `'rng' must be a function returning numbers in [0, 1), but got ${describe(rng)}. seededRandom(seed) from @lumen/core makes one.`);
  }
}

/** A 32-bit seed drawn from `rng` (one draw), to start a stream of its own. */
export function drawSeed(fn: string, rng: Rng): number {
  const u = rng();
  if (typeof u !== 'number' || !(u >= 0 && u < 1)) fail(fn, `'rng' must return numbers in [0, 1), but returned ${describe(u)}.`);
  return floor(u * 4294967296);
}

/** Box–Muller: two uniforms to out[i] and out[i + 1] (the second only if it fits). */
function storeNormalPair(out: Float32Array, i: number, std: number, u1: number, u2: number): void {
  const radius = std * sqrt(-2 * log(1 - u1)); // 1 - u in (0, 1]: a finite log
  const angle = 2 * PI * u2;
  out[i] = radius * cos(angle);
  if (i + 1 < out.length) out[i + 1] = radius * sin(angle);
}

/** `count` draws of N(0, std²) from `rng` (Box–Muller, both values of each pair used). */
export function normalValues(count: number, std: number, rng: Rng): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) storeNormalPair(out, i, std, rng(), rng());
  return out;
}

/**
 * `normalValues(count, std, seededRandom(seed))`, value for value, without a call through a
 * closure per draw: initialising a large network (ResNet-50: 25M values) is bound by it.
 */
export function seededNormalValues(count: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i += 2) {
    const u1 = mulberry32Output((state = (state + MULBERRY32_INCREMENT) >>> 0));
    const u2 = mulberry32Output((state = (state + MULBERRY32_INCREMENT) >>> 0));
    storeNormalPair(out, i, std, u1, u2);
  }
  return out;
}

/** `count` draws of U(-bound, bound) from `rng`. */
export function uniformValues(count: number, bound: number, rng: Rng): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (2 * rng() - 1) * bound;
  return out;
}
