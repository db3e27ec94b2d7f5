/**
 * Timing of one model on the active tfjs backend: median wall time of forward and of
 * forward+backward, with a check that no run leaves tensors behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { median, sampleRuns, type RunCounts, type Timing } from './stats';

/** A model under test: an input (never differentiated) and the kernels to differentiate. */
export interface BenchModel {
  readonly input: tf.Tensor4D;
  readonly variables: tf.Variable[];
  forward(x: tf.Tensor4D): tf.Tensor;
  dispose(): void;
}

export type Phase = 'fwd' | 'fwd+bwd';
export const PHASES: readonly Phase[] = ['fwd', 'fwd+bwd'];

/** Called after every run, warm-up included: the parent process's sign of life. */
export type OnPhaseRun = (phase: Phase, run: number, ms: number) => void;

export interface ModelInfo {
  outputShape: number[];
  trainableParams: number;
}

export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
}

function loss(model: BenchModel): tf.Scalar {
  return tf.sum(model.forward(model.input));
}

/**
 * Forward = the scalar loss (the same sum the backward pass starts from), read back so the
 * time covers the whole computation on asynchronous backends too.
 */
async function forwardOnce(model: BenchModel): Promise<void> {
  const value = tf.tidy(() => loss(model));
  await value.data();
  value.dispose();
}

/**
 * Forward+backward: gradients of the loss w.r.t. every kernel variable, left in the backend
 * as torch leaves its .grad. Node's backends (wasm, cpu, tfjs-node) run each kernel before
 * the op returns, so the gradients exist when variableGrads does; reading megabytes of them
 * into fresh JS memory would time page faults the peer never pays (~3 ms a MB on a VM).
 */
async function forwardBackwardOnce(model: BenchModel): Promise<void> {
  const { value, grads } = tf.variableGrads(() => loss(model), model.variables);
  await value.data();
  tf.dispose([value, ...Object.values(grads)]);
}

/** Live tensors and backend buffers: a kernel that leaks an intermediate shows in the second. */
function liveCounts(): { tensors: number; buffers: number } {
  const m = tf.memory();
  return { tensors: m.numTensors, buffers: m.numDataBuffers };
}

/** Output shape (one untimed forward, which also warms up the kernels) and parameter count. */
export function describeModel(model: BenchModel): ModelInfo {
  return {
    outputShape: tf.tidy(() => model.forward(model.input).shape),
    trainableParams: model.variables.reduce((n, v) => n + v.size, 0),
  };
}

/**
 * Times one phase. Phases are separate so a row whose backward fails still has its forward.
 * Throws as soon as a run ends with more live tensors or buffers than before the first.
 */
export async function timePhase(phase: Phase, model: BenchModel, counts: RunCounts, onRun: OnPhaseRun): Promise<Timing> {
  const once = phase === 'fwd' ? () => forwardOnce(model) : () => forwardBackwardOnce(model);
  const before = liveCounts();
  const samples = await sampleRuns(once, counts, (i, ms) => {
    onRun(phase, i, ms);
    const after = liveCounts();
    if (after.tensors > before.tensors || after.buffers > before.buffers) {
      throw new Error(
        `${phase}: run ${i + 1} leaked ${after.tensors - before.tensors} tensor(s), ` +
          `${after.buffers - before.buffers} backend buffer(s) (tf.memory() before ${JSON.stringify(before)}, after ${JSON.stringify(after)})`,
      );
    }
  });
  return { ms: median(samples), samples };
}

/**
 * One extra, untimed forward+backward under tf.profile: wall time per kernel name, the
 * slowest first. Shows which kernel a slow row spends its time in (on wasm, kernels are
 * synchronous, so the times are real).
 */
export async function profileFwdBwd(model: BenchModel, top: number): Promise<KernelTime[]> {
  const info = await tf.profile(() => forwardBackwardOnce(model));
  const byName = new Map<string, KernelTime>();
  for (const k of info.kernels) {
    const entry = byName.get(k.name) ?? { kernel: k.name, ms: 0, calls: 0 };
    entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    entry.calls++;
    byName.set(k.name, entry);
  }
  return [...byName.values()].sort((a, b) => b.ms - a.ms).slice(0, top);
}
