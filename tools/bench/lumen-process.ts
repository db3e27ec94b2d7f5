/**
 * Runs one row in a child process (lumen-worker.ts) and watches it. A process per row gives
 * every row a fresh wasm heap (the heap never shrinks, so a big row would otherwise shape
 * the ones after it), and turns a crash or a hang into an error for that row alone: when
 * the 4 GB wasm heap runs out, allocations fail inside kernels (RangeError, memory access
 * out of bounds, an emscripten abort), and if that happens in a pthread the main thread
 * can spin in its futex wait forever instead of exiting.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { KernelTime, ModelInfo, Phase, PhaseTiming, TimingOptions } from './measure';

export interface BackendInfo {
  backend: string;
  detail: string;
  threads: number;
  skipped: string[];
}

/** What lumen-worker.ts sends over IPC, in this order; a failure ends the sequence early. */
export type WorkerMessage =
  | ({ type: 'backend' } & BackendInfo)
  | ({ type: 'model' } & ModelInfo)
  | { type: 'run'; phase: Phase; run: number; ms: number }
  | ({ type: 'phase'; phase: Phase } & PhaseTiming)
  | { type: 'done'; wasmHeapMiB: number | null; kernels: KernelTime[] | null }
  | { type: 'error'; message: string };

/** One row's result: whatever was measured before it finished or failed. */
export interface LumenResult {
  model: ModelInfo | null;
  fwd: PhaseTiming | null;
  fwdBwd: PhaseTiming | null;
  /** The wasm heap after the row (it only grows: the row's high-water mark). */
  wasmHeapMiB: number | null;
  /** With --profile: the kernels one forward+backward spends its time in. */
  kernels: KernelTime[] | null;
  error: string | null;
}

export interface LumenRowOptions extends TimingOptions {
  /** Seconds a single run may take before the worker is declared hung and killed. */
  timeoutS: number;
  profile: boolean;
  onBackend(info: BackendInfo): void;
  onRun(phase: Phase, run: number, ms: number): void;
}

const WORKER = join(__dirname, 'lumen-worker.ts');
const STDERR_TAIL_LINES = 6;

/** The worker's stderr, passed through, with its last lines kept for the error report. */
function tailOf(stream: NodeJS.ReadableStream): () => string {
  let tail: string[] = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    process.stderr.write(chunk);
    // emscripten's abort prints a whole minified line of its glue code: keep lines short.
    const lines = chunk.split('\n').filter((l) => l.trim() !== '').map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l));
    tail = [...tail, ...lines].slice(-STDERR_TAIL_LINES);
  });
  return () => tail.join('\n');
}

/** Folds one worker message into the row's result. */
function record(result: LumenResult, m: WorkerMessage, options: LumenRowOptions): void {
  if (m.type === 'backend') options.onBackend(m);
  else if (m.type === 'model') result.model = { outputShape: m.outputShape, trainableParams: m.trainableParams };
  else if (m.type === 'run') options.onRun(m.phase, m.run, m.ms);
  else if (m.type === 'phase') result[m.phase === 'fwd' ? 'fwd' : 'fwdBwd'] = { ms: m.ms, samples: m.samples };
  else if (m.type === 'done') Object.assign(result, { wasmHeapMiB: m.wasmHeapMiB, kernels: m.kernels });
  else result.error = m.message;
}

export function runLumenRow(rowId: string, options: LumenRowOptions): Promise<LumenResult> {
  const args = [`--row=${rowId}`, `--warmup=${options.warmup}`, `--runs=${options.runs}`, ...(options.profile ? ['--profile'] : [])];
  // fork() reuses this process's execArgv, i.e. tsx's loader: the worker runs as TypeScript.
  const child = fork(WORKER, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  const stderrTail = tailOf(child.stderr as NodeJS.ReadableStream);
  const result: LumenResult = { model: null, fwd: null, fwdBwd: null, wasmHeapMiB: null, kernels: null, error: null };
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const watch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      result.error = `no run finished within ${options.timeoutS} s: worker killed as hung (raise --timeout if the row is only slow)`;
      child.kill('SIGKILL');
    }, options.timeoutS * 1000);
  };
  watch();
  child.on('message', (m: WorkerMessage) => {
    watch();
    done ||= m.type === 'done';
    record(result, m, options);
  });
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!done && result.error == null) {
        const how = signal != null ? `killed by ${signal}` : `exited with code ${code}`;
        result.error = `worker ${how}:\n${stderrTail()}`;
      }
      resolve(result);
    });
  });
}
