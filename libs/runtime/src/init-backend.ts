import * as tf from '@tensorflow/tfjs-core';
import { availableParallelism } from 'node:os';
import { registerNativeBackend, registerNativeWasmKernels, registerTrainingGradients, registerWasmTrainingKernels } from './register-training-kernels';
import { withThreadedWasm } from './wasm-threads';

/**
 * In the order tried: `native` (cpu's typed arrays + @lumen/runtime-native kernels) after wasm,
 * whose SIMD element-wise kernels are faster while a model fits its 4 GB heap.
 */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'native', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendChoice {
  /** The tfjs backend now active. */
  name: BackendName;
  /** What runs it: the npm package, and for wasm the build. */
  detail: string;
  /** Threads the backend's own kernels compute on (wasm: its pthread pool incl. the main thread; 1 beside native kernels). */
  threads: number;
  /** Why candidates earlier in the order were not taken (and why native kernels are off). */
  skipped: string[];
  /** The native kernels in front of wasm's (@lumen/runtime-native), or null. */
  native: { isa: string; threads: number } | null;
}

export interface InitBackendOptions {
  /** Preferred backend when LUMEN_BACKEND is unset; by default the first that works. */
  backend?: BackendName;
  /**
   * Threads to compute on (default LUMEN_WASM_THREADS, else the machine's cores, at most 8): the
   * native kernels' when @lumen/runtime-native is built (wasm's own then run on one), else wasm's.
   */
  threads?: number;
  /** Where the one line about the choice goes (default console.error, to keep stdout clean). */
  log?: (message: string) => void;
}

let choice: Promise<BackendChoice> | null = null;

function parseBackend(value: string, source: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`${source}='${value}' is not a backend; expected one of: ${BACKEND_NAMES.join(', ')}`);
}

function parseThreads(value: number | string | undefined): number {
  if (value == null || value === '') return Math.min(8, availableParallelism());
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    throw new Error(`LUMEN_WASM_THREADS / threads='${value}' must be an integer from 1 to 8`);
  }
  return n;
}

async function tryTensorflow(skipped: string[]): Promise<BackendChoice | null> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // Optional dependencies: absent where libtensorflow could not be installed.
      require(pkg);
    } catch (e) {
      skipped.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    if (await tf.setBackend('tensorflow')) return { name: 'tensorflow', detail: pkg, threads: availableParallelism(), skipped, native: null };
    skipped.push(`${pkg}: loaded, but the tensorflow backend failed to initialise`);
  }
  return null;
}

async function tryWasm(threads: number, skipped: string[]): Promise<BackendChoice | null> {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  const accelerated = registerNativeWasmKernels(threads);
  const native = 'isa' in accelerated ? accelerated : null;
  if (!('isa' in accelerated)) skipped.push(`@lumen/runtime-native: ${accelerated.reason}`);
  const plus = native ? ` + @lumen/runtime-native (${native.isa}, ${native.threads} thread${native.threads > 1 ? 's' : ''})` : '';
  // With native kernels taking the convolutions and GEMMs on every core, wasm's own kernels
  // (element-wise, small) run on one thread: a second wasm thread's spinning and wake-ups cost
  // more than it computes (digits step on 2 cores: 369 -> 336 ms, bench-profile).
  const wasmThreads = native ? 1 : threads;
  if (wasmThreads > 1) {
    wasm.setThreadsCount(wasmThreads);
    try {
      if (await withThreadedWasm(tf.env(), wasmThreads, () => tf.setBackend('wasm'))) {
        return { name: 'wasm', detail: `@tensorflow/tfjs-backend-wasm (threaded SIMD)${plus}`, threads: wasm.getThreadsCount(), skipped, native };
      }
      skipped.push('wasm threaded SIMD build: failed to initialise');
    } catch (e) {
      skipped.push(`wasm threaded SIMD build: ${(e as Error).message.split('\n')[0]}`);
    }
    // tfjs calls the backend factory again on the next setBackend: retry single-threaded.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  if (await tf.setBackend('wasm')) {
    return { name: 'wasm', detail: `@tensorflow/tfjs-backend-wasm (SIMD, single thread)${plus}`, threads: 1, skipped, native };
  }
  skipped.push('wasm: the backend failed to initialise');
  return null;
}

async function tryNative(threads: number, skipped: string[]): Promise<BackendChoice | null> {
  const accelerated = registerNativeBackend(threads);
  if (!('isa' in accelerated)) {
    skipped.push(`native: @lumen/runtime-native: ${accelerated.reason}`);
    return null;
  }
  if (await tf.setBackend('native')) {
    const detail = `@tensorflow/tfjs-backend-cpu tensors + @lumen/runtime-native (${accelerated.isa}, ${accelerated.threads} thread${accelerated.threads > 1 ? 's' : ''})`;
    return { name: 'native', detail, threads: accelerated.threads, skipped, native: accelerated };
  }
  skipped.push('native: the backend failed to initialise');
  return null;
}

async function tryCpu(skipped: string[]): Promise<BackendChoice | null> {
  require('@tensorflow/tfjs-backend-cpu');
  if (await tf.setBackend('cpu')) return { name: 'cpu', detail: '@tensorflow/tfjs-backend-cpu', threads: 1, skipped, native: null };
  skipped.push('cpu: the backend failed to initialise');
  return null;
}

const PROCESS_ERROR_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * Runs `start` and removes the process error listeners it added. The wasm module's loader
 * (emscripten) installs handlers that rethrow any uncaught error, so Node prints the line it
 * came from — 57 KB of minified source — and exits 7; error reporting belongs to the program.
 */
async function withoutAddedErrorListeners<T>(start: () => Promise<T>): Promise<T> {
  const events: NodeJS.EventEmitter = process;
  const before = new Map(PROCESS_ERROR_EVENTS.map((event) => [event, new Set(events.listeners(event))]));
  try {
    return await start();
  } finally {
    for (const event of PROCESS_ERROR_EVENTS) {
      for (const listener of events.listeners(event)) {
        if (!before.get(event)?.has(listener)) events.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
}

async function choose(options: InitBackendOptions): Promise<BackendChoice> {
  const forced = process.env.LUMEN_BACKEND ? parseBackend(process.env.LUMEN_BACKEND, 'LUMEN_BACKEND') : undefined;
  const preferred = options.backend != null ? parseBackend(options.backend, 'backend') : undefined;
  const threads = parseThreads(options.threads ?? process.env.LUMEN_WASM_THREADS);
  const wanted = forced ?? preferred;
  const order: BackendName[] = wanted != null ? [wanted] : [...BACKEND_NAMES];
  registerTrainingGradients();
  const skipped: string[] = [];
  for (const name of order) {
    const picked =
      name === 'tensorflow'
        ? await tryTensorflow(skipped)
        : name === 'wasm'
          ? await withoutAddedErrorListeners(() => tryWasm(threads, skipped))
          : name === 'native'
            ? await tryNative(threads, skipped)
            : await tryCpu(skipped);
    if (picked != null) {
      await tf.ready();
      return picked;
    }
  }
  const source = forced != null ? `LUMEN_BACKEND=${forced}` : `backend '${wanted}'`;
  throw new Error(`@lumen/runtime: ${wanted != null ? source : 'no backend'} could be initialised:\n  ${skipped.join('\n  ')}`);
}

/**
 * Picks and initialises the tfjs backend — tensorflow (tfjs-node-gpu, then tfjs-node),
 * wasm, native, cpu, in that order; `LUMEN_BACKEND=tensorflow|wasm|native|cpu` forces one — registers
 * the kernels and gradients training needs, and logs the choice. Runs once per process:
 * later calls return the first call's result.
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendChoice> {
  if (choice == null) {
    const log = options.log ?? ((m: string) => console.error(m));
    choice = choose(options).then(
      (picked) => {
        const threads = picked.name === 'wasm' ? `, ${picked.threads} thread${picked.threads > 1 ? 's' : ''}` : '';
        log(`[lumen] tfjs backend: ${picked.name} — ${picked.detail}${threads}`);
        return picked;
      },
      (error: unknown) => {
        choice = null;
        throw error;
      },
    );
  }
  return choice;
}
