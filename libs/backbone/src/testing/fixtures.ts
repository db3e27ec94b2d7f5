import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, type SafeTensor } from '../safetensors';
import type { FeatureLevel } from '../types';

// Fixtures written by tools/fixtures/backbone_fixtures.py and mobilenet_v3_fixtures.py
// (torchvision's answers): manifest.json and manifest.mobilenet_v3.json, read as one.

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

/** Gradients of Σ over `names` of sum(level·G_level), as FixtureCase['grads'] for body and tail. */
export interface LevelGrads {
  batch: number;
  size: [number, number];
  names: string[];
  frozen: string[];
  trainable: string[];
  torchF32Error: Record<string, Record<string, number>>;
}

/** Feature levels of a case's weights against torchvision's FPN extractors (its `levels` file). */
export interface LevelCase {
  id: string;
  weights: string;
  levels: string;
  backbone: string;
  width: number;
  size: [number, number];
  /** Every level, in order (eval outputs `eval.<name>`). */
  names: string[];
  /** The FPN's levels as the detection builder runs them: FrozenBatchNorm2d with this eps (`frozen.<name>`). */
  frozen: { names: string[]; eps: number };
  /**
   * Training mode: every level computed, these kept (`train.<name>`), then `train_after.<BN
   * buffer>`; references in float64, with torch float32's own error for outputs and statistics.
   */
  train: { batch: number; size: [number, number]; names: string[]; torchF32Error: { outputs: number; statistics: number } };
  grads: LevelGrads;
}

/** What torchvision's FPN extractor offers at width 1 (all levels) and what its FPN takes by default. */
export interface ExtractorLevels {
  levels: FeatureLevel[];
  returnLayers: Record<string, string>;
  inChannelsList: number[];
  fpn: { returnLayers: Record<string, string>; names: string[]; inChannelsList: number[] };
}

export interface Manifest {
  cases: FixtureCase[];
  stateDicts: Record<string, [string, number[], string][]>;
  oddShapes: { backbone: string; size: [number, number]; body: [number, number, number, number] }[];
  mobilenetChannels: { width: number; body: number; tail: number }[];
  mobilenetV3Channels: { width: number; body: number; tail: number }[];
  levelCases: LevelCase[];
  featureLevels: Record<string, ExtractorLevels>;
  /** Per backbone and trainable_layers: how many parameters (a prefix of the state dict's, BN affine included) the extractor freezes. */
  frozenParameters: Record<string, Record<string, number>>;
}

let manifest: Manifest | null = null;

/** The manifests of `dir` as one: cases and lists concatenated, records merged. */
export function loadManifest(dir = FIXTURES): Manifest {
  if (dir === FIXTURES && manifest != null) return manifest;
  const read = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Partial<Manifest>;
  const parts = ['manifest.json', 'manifest.mobilenet_v3.json'].filter((name) => existsSync(join(dir, name))).map(read);
  const merged = parts.reduce<Manifest>(
    (all, part) => ({
      cases: [...all.cases, ...(part.cases ?? [])],
      stateDicts: { ...all.stateDicts, ...part.stateDicts },
      oddShapes: [...all.oddShapes, ...(part.oddShapes ?? [])],
      mobilenetChannels: [...all.mobilenetChannels, ...(part.mobilenetChannels ?? [])],
      mobilenetV3Channels: [...all.mobilenetV3Channels, ...(part.mobilenetV3Channels ?? [])],
      levelCases: [...all.levelCases, ...(part.levelCases ?? [])],
      featureLevels: { ...all.featureLevels, ...part.featureLevels },
      frozenParameters: { ...all.frozenParameters, ...part.frozenParameters },
    }),
    { cases: [], stateDicts: {}, oddShapes: [], mobilenetChannels: [], mobilenetV3Channels: [], levelCases: [], featureLevels: {}, frozenParameters: {} },
  );
  if (dir === FIXTURES) manifest = merged;
  return merged;
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
