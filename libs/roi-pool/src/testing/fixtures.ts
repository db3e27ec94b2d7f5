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

/** multi-scale.json: torchvision's MultiScaleRoIAlign on a four-map pyramid. */
export interface MultiScaleFixture {
  imageShapes: [number, number][];
  maps: { shape: [number, number, number, number]; features: number[] }[];
  boxes: number[][];
  boxIndices: number[];
  cases: MultiScaleCase[];
}

export interface MultiScaleCase {
  name: string;
  /** How many of the maps are pooled from (the first ones). */
  maps: number;
  outputSize: [number, number];
  samplingRatio: number;
  canonicalScale: number;
  canonicalLevel: number;
  /** torchvision's inferred scales. */
  scales: number[];
  /** Level index per box (0 = the finest map). */
  levels: number[];
  output: number[];
  dy: number[];
  /** Gradient w.r.t. each pooled map, NHWC. */
  grads: number[][];
}
