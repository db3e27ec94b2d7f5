/**
 * The child side of process.ts: initialises the backend, times one model's phases and
 * reports over IPC. A bench's main runs it when started with --worker=ID.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@lumen/runtime';
import { describeModel, PHASES, profileFwdBwd, timePhase, type BenchModel } from './phases';
import type { WorkerMessage } from './process';
import type { RunCounts } from './stats';

export interface WorkerOptions extends RunCounts {
  /** One more forward+backward under tf.profile, reporting its slowest kernels. */
  profile: boolean;
}

const PROFILE_TOP = 8;
const STACK_LINES = 6;
const NO_IPC = '--worker runs as a child of the bench (no IPC channel)';

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.send == null) reject(new Error(NO_IPC));
    else process.send(message, undefined, undefined, (e) => (e != null ? reject(e) : resolve()));
  });
}

/** The wasm heap only grows, so its size after a row is that row's high-water mark. */
function wasmHeapMiB(): number | null {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap != null ? heap.byteLength / 2 ** 20 : null;
}

/** The heap size at a failure: tells an exhausted 4 GB heap from a bug. */
function heapNote(): string {
  try {
    const mib = wasmHeapMiB();
    return mib != null ? `\n(wasm heap at failure: ${mib.toFixed(0)} MiB)` : '';
  } catch {
    return '';
  }
}

async function measure(build: () => BenchModel, options: WorkerOptions): Promise<void> {
  // The parent prints the choice once for all rows.
  const choice = await initBackend({ backend: 'wasm', log: () => undefined });
  await send({ type: 'backend', backend: choice.name, detail: choice.detail, threads: choice.threads, skipped: choice.skipped });
  const model = build();
  try {
    await send({ type: 'model', ...describeModel(model) });
    for (const phase of PHASES) {
      const timing = await timePhase(phase, model, options, (p, run, ms) => void send({ type: 'run', phase: p, run, ms }));
      await send({ type: 'phase', phase, ...timing });
    }
    const kernels = options.profile ? await profileFwdBwd(model, PROFILE_TOP) : null;
    await send({ type: 'done', wasmHeapMiB: wasmHeapMiB(), kernels });
  } finally {
    model.dispose();
  }
}

/**
 * Measures the row named `id` for the parent: `build` makes its model once the backend is
 * up. Resolves to the exit code.
 */
export async function serveRow<R extends { id: string }>(rows: readonly R[], id: string, build: (row: R) => BenchModel, options: WorkerOptions): Promise<number> {
  if (process.send == null) throw new Error(NO_IPC);
  const model = () => {
    const row = rows.find((r) => r.id === id);
    if (row == null) throw new Error(`unknown row '${id}'`);
    return build(row);
  };
  try {
    await measure(model, options);
    return 0;
  } catch (e) {
    // The message and where it came from: a wasm RangeError says little on its own.
    const message = e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, STACK_LINES).join('\n') : String(e);
    await send({ type: 'error', message: `${message}${heapNote()}` });
    return 1;
  } finally {
    // The open IPC channel would keep this process alive.
    process.disconnect();
  }
}
