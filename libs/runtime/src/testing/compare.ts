import { seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { native } from '@lumen/runtime-native';
import { initBackend } from '../init-backend';
import { withoutNativeKernels } from '../kernels/native-switch';

/** max |a − b| / max |b|: relative error in the max norm (1e-4 is the bar for kernels). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs expected ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

/** Seeded standard-normal values (Box–Muller, one value per pair of draws): the same on every backend. */
export function randomValues(size: number, seed: number): Float32Array {
  const next = seededRandom(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  return out;
}

/** wasm (single thread, so specs are quick to start) with Lumen's kernels; cpu beside it. */
export async function setUpWasmAndCpu(): Promise<void> {
  await initBackend({ backend: 'wasm', threads: 1, log: () => undefined });
  // The cpu backend's one-time "install tfjs-node" banner is noise in specs.
  (tf.findBackend('cpu') as unknown as { firstUse: boolean }).firstUse = false;
}

/**
 * Runs `f` on a backend and returns its outputs' values, checking that it left no tensor
 * and no backend buffer behind (the tensors it returns are disposed here).
 */
export async function runOn(backend: 'wasm' | 'native' | 'cpu', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.backend().numDataIds();
  const outs = tf.tidy(f);
  const values = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  // numTensors catches tensors left outside tidy; numDataIds catches buffers a kernel
  // allocated for intermediates and never released (they are not tensors).
  const leakedTensors = tf.memory().numTensors - tensorsBefore;
  const leakedBuffers = tf.backend().numDataIds() - buffersBefore;
  if (leakedTensors !== 0 || leakedBuffers !== 0) {
    throw new Error(`${backend}: ${leakedTensors} tensors and ${leakedBuffers} data buffers leaked`);
  }
  return values;
}

/** `describe` where @lumen/runtime-native is built; elsewhere its specs are skipped (each says why on the console). */
export const describeNative = native ? describe : describe.skip;

const direct = <T>(f: () => Promise<T>) => f();

/**
 * How a Lumen kernel registered with the native ones is run by its specs: native on the wasm
 * backend (1 and 2 threads) and as the native backend's, then its JS form with native turned
 * off, on both backends: [form, backend, threads, run a body in that mode].
 */
export const NATIVE_AND_JS_MODES = [
  ['native', 'wasm', 1, direct],
  ['native', 'wasm', 2, direct],
  ['native', 'native', 2, direct],
  ['JS', 'wasm', 1, withoutNativeKernels],
  ['JS', 'native', 1, withoutNativeKernels],
] as const;
