/**
 * Runs one row in a child process (worker.ts's side) and watches it. A process per row gives
 * every row a fresh wasm heap (the heap never shrinks, so a big row would otherwise shape
 * the ones after it), and turns a crash or a hang into an error for that row alone: when
 * the 4 GB wasm heap runs out, allocations fail inside kernels (RangeError, memory access
 * out of bounds, an emscripten abort), and if that happens in a pthread the main thread
 * can spin in its futex wait forever instead of exiting.
 */
import { fork } from 'node:child_process';
import type { KernelTime, ModelInfo, OnPhaseRun, Phase } from './phases';
import type { RunCounts, Timing } from './stats';

export interface BackendInfo {
  backend: string;
  detail: string;
  threads: number;
  skipped: string[];
}

/** What the worker sends over IPC, in this order; a failure ends the sequence early. */
export type WorkerMessage =
  | ({ type: 'backend' } & BackendInfo)
  | ({ type: 'model' } & ModelInfo)
  | { type: 'run'; phase: Phase; run: number; ms: number }
  | ({ type: 'phase'; phase: Phase } & Timing)
  | { type: 'done'; wasmHeapMiB: number | null; kernels: KernelTime[] | null }
  | { type: 'error'; message: string };

/** One row's result: whatever was measured before it finished or failed. */
export interface LumenResult {
  model: ModelInfo | null;
  fwd: Timing | null;
  fwdBwd: Timing | null;
  /** The wasm heap after the row (it only grows: the row's high-water mark). */
  wasmHeapMiB: number | null;
  /** With --profile: the kernels one forward+backward spends its time in. */
  kernels: KernelTime[] | null;
  error: string | null;
}

interface ChildOptions {
  /** Seconds a single run may take before the worker is declared hung and killed. */
  timeoutS: number;
  onBackend(info: BackendInfo): void;
  onRun: OnPhaseRun;
}

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
function record(result: LumenResult, m: WorkerMessage, options: ChildOptions): void {
  if (m.type === 'backend') options.onBackend({ backend: m.backend, detail: m.detail, threads: m.threads, skipped: m.skipped });
  else if (m.type === 'model') result.model = { outputShape: m.outputShape, trainableParams: m.trainableParams };
  else if (m.type === 'run') options.onRun(m.phase, m.run, m.ms);
  else if (m.type === 'phase') result[m.phase === 'fwd' ? 'fwd' : 'fwdBwd'] = { ms: m.ms, samples: m.samples };
  else if (m.type === 'done') Object.assign(result, { wasmHeapMiB: m.wasmHeapMiB, kernels: m.kernels });
  else result.error = m.message;
}

/** Forks `script` with `args` (it must answer with worker.ts's serveRow) and collects its row. */
function measureInChild(script: string, args: readonly string[], options: ChildOptions): Promise<LumenResult> {
  // fork() reuses this process's execArgv, i.e. tsx's loader: the worker runs as TypeScript.
  const child = fork(script, [...args], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
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

export interface RowsOptions extends RunCounts {
  timeoutS: number;
  /** The bench's own main and command line: each child gets it with --worker=ID added. */
  script: string;
  argv: readonly string[];
}

/** A run this slow is logged as it ends: a minute-long ResNet run should show it is alive. */
const SLOW_RUN_MS = 1000;

function logResult(id: string, result: LumenResult): void {
  const { fwd, fwdBwd, kernels, error } = result;
  const phases = [fwd != null ? `fwd ${fwd.ms.toFixed(1)} ms` : null, fwdBwd != null ? `fwd+bwd ${fwdBwd.ms.toFixed(1)} ms` : null];
  const measured = phases.filter((p) => p != null).join(', ');
  if (measured !== '') console.error(`[lumen] ${id}: ${measured}`);
  if (error != null) console.error(`[lumen] ${id} FAILED: ${error}`);
  for (const k of kernels ?? []) console.error(`[lumen]   ${k.kernel.padEnd(36)} ${k.ms.toFixed(1).padStart(9)} ms  ${k.calls} call(s)`);
}

/**
 * Measures the rows one at a time, each in its own child; progress on stderr, the backend
 * the first child chose printed once for all.
 */
export async function measureRows(ids: readonly string[], options: RowsOptions): Promise<{ backend: BackendInfo | null; results: LumenResult[] }> {
  let backend: BackendInfo | null = null;
  const results: LumenResult[] = [];
  for (const id of ids) {
    const result = await measureInChild(options.script, [...options.argv, `--worker=${id}`], {
      timeoutS: options.timeoutS,
      onBackend: (info) => {
        if (backend != null) return;
        backend = info;
        console.error(`[lumen] tfjs backend: ${info.backend} — ${info.detail}, ${info.threads} thread(s)`);
        for (const reason of info.skipped) console.error(`[lumen]   skipped ${reason}`);
      },
      onRun: (phase, run, ms) => {
        if (ms >= SLOW_RUN_MS) console.error(`[lumen] ${id} ${phase} run ${run + 1}/${options.warmup + options.runs}: ${ms.toFixed(0)} ms`);
      },
    });
    logResult(id, result);
    results.push(result);
  }
  return { backend, results };
}
