/**
 * Runs one row in a child process (lumen-worker.ts) and watches it. A process per row gives
 * every row a fresh wasm heap (the heap never shrinks, so a big row would otherwise shape
 * the ones after it), and turns a crash or a hang into an error for that row alone: when
 * the 4 GB wasm heap runs out, emscripten aborts, and if the failed allocation was in a
 * pthread the main thread can spin in its futex wait forever instead of exiting.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { KernelTime, Phase, RowTiming, TimingOptions } from './measure';

export interface BackendInfo {
  backend: string;
  detail: string;
  threads: number;
  skipped: string[];
}

export type LumenTiming = RowTiming & {
  wasmHeapMiB: number | null;
  /** With --profile: the kernels one forward+backward spends its time in. */
  kernels?: KernelTime[];
};

/** What lumen-worker.ts sends over IPC, in this order. */
export type WorkerMessage =
  | ({ type: 'backend' } & BackendInfo)
  | { type: 'run'; phase: Phase; run: number; ms: number }
  | { type: 'result'; timing: LumenTiming }
  | { type: 'error'; message: string };

export interface LumenRowOptions extends TimingOptions {
  /** Seconds a single run may take before the worker is declared hung and killed. */
  timeoutS: number;
  profile: boolean;
  onBackend(info: BackendInfo): void;
  onRun(phase: Phase, run: number, ms: number): void;
}

export type LumenOutcome = { timing: LumenTiming; error: null } | { timing: null; error: string };

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

export function runLumenRow(rowId: string, options: LumenRowOptions): Promise<LumenOutcome> {
  // fork() reuses this process's execArgv, i.e. tsx's loader: the worker runs as TypeScript.
  const args = [`--row=${rowId}`, `--warmup=${options.warmup}`, `--runs=${options.runs}`, ...(options.profile ? ['--profile'] : [])];
  const child = fork(WORKER, args, {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const stderrTail = tailOf(child.stderr as NodeJS.ReadableStream);
  let result: LumenTiming | null = null;
  let error: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  const watch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      error = `no run finished within ${options.timeoutS} s: worker killed as hung (raise --timeout if the row is only slow)`;
      child.kill('SIGKILL');
    }, options.timeoutS * 1000);
  };
  watch();
  child.on('message', (m: WorkerMessage) => {
    watch();
    if (m.type === 'backend') options.onBackend(m);
    else if (m.type === 'run') options.onRun(m.phase, m.run, m.ms);
    else if (m.type === 'result') result = m.timing;
    else error = m.message;
  });
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result != null && error == null) {
        resolve({ timing: result, error: null });
        return;
      }
      const how = signal != null ? `killed by ${signal}` : `exited with code ${code}`;
      resolve({ timing: null, error: error ?? `worker ${how}:\n${stderrTail()}` });
    });
  });
}
