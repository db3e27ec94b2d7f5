import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FpnOptions } from '../options';
import { buildFpnParams, type FpnParams } from '../params';
import type { FpnParamSpec } from '../param-specs';

// The fixture written by tools/fixtures/fpn_fixtures.py (torchvision's answers).

export interface FixtureArray {
  shape: number[];
  values: number[];
}

export interface ModeRecord {
  names: string[];
  /** NHWC, one per level. */
  outputs: FixtureArray[];
  /** d/d maps of sum_l(out_l · upstream_l), NHWC. */
  mapGrads: FixtureArray[];
  /** The same w.r.t. every parameter, by torchvision name, torch layout. */
  paramGrads: Record<string, FixtureArray>;
  torchF32Error: { outputs: number; mapGrads: number; paramGrads: number };
  /** Train mode: running statistics after the forward, by torchvision name. */
  runningAfter?: Record<string, FixtureArray>;
}

export interface FixtureCase {
  id: 'v1' | 'v2';
  norm: 'none' | 'batch';
  /** torchvision ≥ 0.13 state dict, torch layouts. */
  stateDict: Record<string, FixtureArray>;
  /** Integer buffers (num_batches_tracked) left out of `stateDict`. */
  counters: string[];
  eval: ModeRecord;
  train?: ModeRecord;
  /** v1: current name -> the name in torchvision < 0.13 files. */
  legacyNames?: Record<string, string>;
}

export type StateDictListing = Array<[name: string, shape: number[], dtype: string]>;

export interface FpnFixture {
  inChannels: number[];
  outChannels: number;
  image: [number, number];
  strides: number[];
  maps: FixtureArray[];
  upstream: FixtureArray[];
  cases: FixtureCase[];
  detection: {
    inChannels: number[];
    outChannels: number;
    fasterrcnn_resnet50_fpn: StateDictListing;
    fasterrcnn_resnet50_fpn_v2: StateDictListing;
  };
  nearest: Array<{ in: number; out: number; index: number[] }>;
}

let cached: FpnFixture | null = null;

export function loadFixture(): FpnFixture {
  cached ??= JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'fpn.json'), 'utf8')) as FpnFixture;
  return cached;
}

export function findCase(id: FixtureCase['id']): FixtureCase {
  const found = loadFixture().cases.find((c) => c.id === id);
  if (found == null) throw new Error(`fixture case ${id} not found: regenerate with tools/fixtures/fpn_fixtures.py`);
  return found;
}

export function tensorOf<R extends tf.Rank>(a: FixtureArray): tf.Tensor<R> {
  return tf.tensor(a.values, a.shape, 'float32') as unknown as tf.Tensor<R>;
}

/** The fixture's options for a case. */
export function caseOptions(c: FixtureCase, batchNorm: 'frozen' | 'trainable' = 'trainable'): FpnOptions {
  const f = loadFixture();
  return { inChannels: f.inChannels, outChannels: f.outChannels, norm: c.norm, extra: 'maxpool', batchNorm };
}

/** torchvision's shape of a parameter: conv kernels OIHW, the rest as Lumen's. */
export function torchShape(spec: FpnParamSpec): number[] {
  const s = spec.shape;
  return spec.kind === 'conv' ? [s[3], s[2], s[0], s[1]] : [...s];
}

/** torch layout -> Lumen layout (conv OIHW -> HWIO), as @lumen/backbone's fromTorchLayout does for the detector. */
export function fromTorch(spec: FpnParamSpec, values: ArrayLike<number>): Float32Array {
  if (spec.kind !== 'conv') return Float32Array.from(values);
  const [kh, kw, inC, outC] = spec.shape;
  const out = new Float32Array(values.length);
  for (let o = 0; o < outC; o++) {
    for (let i = 0; i < inC; i++) {
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * inC + i) * outC + o] = values[((o * inC + i) * kh + y) * kw + x];
    }
  }
  return out;
}

/** The case's weights as Lumen params, each found by `nameOf(spec)` in `stateDict` (by default torchName). */
export function importCase(
  c: FixtureCase,
  options: FpnOptions,
  nameOf: (spec: FpnParamSpec) => string | null = (s) => s.torchName,
  stateDict: Record<string, FixtureArray> = c.stateDict,
): FpnParams {
  return buildFpnParams(options, (spec) => {
    const name = nameOf(spec);
    const entry = name == null ? undefined : stateDict[name];
    if (entry == null) throw new Error(`fixture ${c.id} has no tensor '${name}' for ${spec.name}`);
    expect([spec.name, entry.shape]).toEqual([spec.name, torchShape(spec)]);
    return fromTorch(spec, entry.values);
  });
}

/** max |actual - expected| / max |expected|: the error relative to the values' scale. */
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

/**
 * tfjs' gradient registry, for specs that differentiate. The `@tensorflow/tfjs-core` Node
 * bundle registers no gradients; programs get them from @lumen/runtime, which a library may
 * not import, so specs load tfjs' own (src/testing is not part of the build).
 */
export function registerTfjsGradients(): void {
  // eslint-disable-next-line @nx/enforce-module-boundaries -- specs only: the union package registers tfjs' gradients
  require('@tensorflow/tfjs');
}
