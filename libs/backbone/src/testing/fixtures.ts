import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, type SafeTensor } from '../safetensors';

// Fixtures written by tools/fixtures/backbone_fixtures.py (torchvision's answers).

export const FIXTURES = join(__dirname, '..', 'fixtures');

export interface FixtureCase {
  id: string;
  weights: string;
  io: string;
  backbone: string;
  width: number;
  size: [number, number];
  roi?: number;
  odd?: [number, number];
  tailStride1?: boolean;
  prefix?: string;
  train?: { batch: number; size: [number, number]; rois: number };
  grads?: {
    batch: number;
    size: [number, number];
    rois: number;
    frozen?: string[];
    trainable?: string[];
    /** torch float32's error against the float64 reference, per mode and parameter. */
    torchF32Error: Record<string, Record<string, number>>;
  };
}

export interface Manifest {
  cases: FixtureCase[];
  stateDicts: Record<string, [string, number[], string][]>;
  oddShapes: { backbone: string; size: [number, number]; body: [number, number, number, number] }[];
  mobilenetChannels: { width: number; body: number; tail: number }[];
}

let manifest: Manifest | null = null;

export function loadManifest(dir = FIXTURES): Manifest {
  if (dir !== FIXTURES) return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  manifest ??= JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Manifest;
  return manifest;
}

export function findCase(id: string, dir = FIXTURES): FixtureCase {
  const found = loadManifest(dir).cases.find((c) => c.id === id);
  if (found == null) throw new Error(`fixture case ${id} not found: regenerate with tools/fixtures/backbone_fixtures.py`);
  return found;
}

export function readBytes(name: string, dir = FIXTURES): Uint8Array {
  return new Uint8Array(readFileSync(join(dir, name)));
}

export function loadIo(c: FixtureCase, dir = FIXTURES): Record<string, SafeTensor> {
  return readSafetensors(readBytes(c.io, dir));
}

/** A float32 tensor of a fixture entry (F16 entries are decoded). */
export function tensorOf<R extends tf.Rank>(io: Record<string, SafeTensor>, name: string): tf.Tensor<R> {
  const t = io[name];
  if (t == null) throw new Error(`fixture entry ${name} missing: regenerate with tools/fixtures/backbone_fixtures.py`);
  return tf.tensor(t.data as Float32Array, t.shape as number[], 'float32') as unknown as tf.Tensor<R>;
}

/** max |actual - expected| / max |expected|: the error relative to the output's scale. */
export function scaledError(actual: tf.Tensor | ArrayLike<number>, expected: tf.Tensor | ArrayLike<number>): number {
  const a = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  const b = expected instanceof tf.Tensor ? expected.dataSync() : expected;
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}
