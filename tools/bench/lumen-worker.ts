/**
 * Child process of runtime.ts (see lumen-process.ts): initialises the backend, times one
 * row, and reports over IPC. Usage: lumen-worker.ts --row=ID --warmup=N --runs=N [--profile].
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend } from '@lumen/runtime';
import type { WorkerMessage } from './lumen-process';
import { describeModel, profileFwdBwd, timePhase, type Phase } from './measure';
import { ROWS } from './rows';

const PHASES: Phase[] = ['fwd', 'fwd+bwd'];
const PROFILE_TOP = 8;
const STACK_LINES = 6;

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.send == null) reject(new Error('lumen-worker.ts runs as a child of runtime.ts (no IPC channel)'));
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { row: { type: 'string' }, warmup: { type: 'string' }, runs: { type: 'string' }, profile: { type: 'boolean' } },
  });
  const row = ROWS.find((r) => r.id === values.row);
  if (row == null) throw new Error(`unknown row '${values.row}'`);
  const options = { warmup: Number(values.warmup), runs: Number(values.runs) };

  // The parent prints the choice once for all rows.
  const choice = await initBackend({ backend: 'wasm', log: () => undefined });
  await send({ type: 'backend', backend: choice.name, detail: choice.detail, threads: choice.threads, skipped: choice.skipped });
  const model = row.build();
  try {
    await send({ type: 'model', ...describeModel(model) });
    for (const phase of PHASES) {
      const timing = await timePhase(phase, model, options, (p, run, ms) => void send({ type: 'run', phase: p, run, ms }));
      await send({ type: 'phase', phase, ...timing });
    }
    const kernels = values.profile === true ? await profileFwdBwd(model, PROFILE_TOP) : null;
    await send({ type: 'done', wasmHeapMiB: wasmHeapMiB(), kernels });
  } finally {
    model.dispose();
  }
}

main()
  .catch((e: unknown) => {
    process.exitCode = 1;
    // The message and where it came from: a wasm RangeError says little on its own.
    const message = e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, STACK_LINES).join('\n') : String(e);
    return send({ type: 'error', message: `${message}${heapNote()}` });
  })
  // The open IPC channel would keep this process alive.
  .finally(() => process.disconnect());
