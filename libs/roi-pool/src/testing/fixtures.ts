import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A JSON file written by tools/fixtures/roi_pool_fixtures.py (torchvision's answers). */
export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8')) as T;
}

/** Largest |a - b| / max(1, |b|). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != expected ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

/** Uniform [0, 1) from a seed (mulberry32): deterministic test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RoiAlignCase {
  aligned: boolean;
  samplingRatio: number;
  output: number[];
  dy: number[];
  grad: number[];
}

export interface RoiAlignMap {
  name: string;
  shape: [number, number, number, number];
  features: number[];
  boxes: number[][];
  boxIndices: number[];
  spatialScale: number;
  outputSize: [number, number];
  cases: RoiAlignCase[];
}
