/**
 * Runtime benchmark: how fast Lumen's tfjs backend runs the convolutions Faster R-CNN
 * trains on — forward, and forward+backward to the conv kernels — next to PyTorch on the
 * same CPU.
 *
 *   npx nx run tools:bench-runtime [--runs=5] [--warmup=1] [--rows=id,…] [--json=PATH]
 *       [--timeout=120] [--profile] [--no-torch] [--torch-threads=2] [--python=/usr/bin/python3]
 *
 * The backend is wasm unless LUMEN_BACKEND says otherwise; LUMEN_WASM_THREADS sets wasm's
 * threads (default: the machine's cores). Each row runs in its own process (see
 * lumen-process.ts); PyTorch runs after all of them. Progress goes to stderr, the table to
 * stdout. Exits 1 when a row failed (a leak, a crash, a hang).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runLumenRow, type BackendInfo, type LumenResult } from './lumen-process';
import { formatTable, reportRow, type Report, type ReportRow } from './report';
import { ROWS, type BenchRow } from './rows';
import { runTorch, torchUnavailable, type TorchResult } from './torch-peer';

interface Options {
  warmup: number;
  runs: number;
  rows: BenchRow[];
  json: string | undefined;
  timeoutS: number;
  profile: boolean;
  torch: boolean;
  torchThreads: number;
  python: string;
}

const USAGE = `usage: tsx tools/bench/runtime.ts [--runs=N] [--warmup=N] [--rows=ID,…] [--json=PATH]
       [--timeout=SECONDS] [--profile] [--no-torch] [--torch-threads=N] [--python=PATH]
rows:  ${ROWS.map((r) => r.id).join(', ')}
--timeout: seconds one run may take before its row is declared hung (default 120)
--profile: one more forward+backward per row under tf.profile; prints its slowest kernels
env:   LUMEN_BACKEND=tensorflow|wasm|cpu (default wasm), LUMEN_WASM_THREADS=1..8,
       LUMEN_TORCH_PYTHON (default /usr/bin/python3: Debian's python3-torchvision)`;

/** A bad command line: reported without a stack trace. */
class UsageError extends Error {}

const FLAGS = {
  runs: { type: 'string' },
  warmup: { type: 'string' },
  rows: { type: 'string' },
  json: { type: 'string' },
  timeout: { type: 'string' },
  profile: { type: 'boolean' },
  'no-torch': { type: 'boolean' },
  'torch-threads': { type: 'string' },
  python: { type: 'string' },
  help: { type: 'boolean' },
} as const;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: FLAGS }).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${USAGE}`);
  }
}

function count(value: string | undefined, fallback: number, name: string, min: number): number {
  if (value == null) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}=${value}: expected an integer >= ${min}\n${USAGE}`);
  return n;
}

function selectRows(list: string | undefined): BenchRow[] {
  if (list == null) return [...ROWS];
  return list.split(',').filter(Boolean).map((id) => {
    const row = ROWS.find((r) => r.id === id);
    if (row == null) throw new UsageError(`--rows: unknown row '${id}'\n${USAGE}`);
    return row;
  });
}

/** The options, or null when --help asked for the usage only. */
function parseOptions(argv: string[]): Options | null {
  const values = parseFlags(argv);
  if (values.help === true) return null;
  return {
    runs: count(values.runs, 5, 'runs', 1),
    warmup: count(values.warmup, 1, 'warmup', 0),
    rows: selectRows(values.rows),
    json: values.json,
    timeoutS: count(values.timeout, 120, 'timeout', 1),
    profile: values.profile === true,
    torch: values['no-torch'] !== true,
    torchThreads: count(values['torch-threads'], 2, 'torch-threads', 1),
    python: values.python ?? process.env.LUMEN_TORCH_PYTHON ?? '/usr/bin/python3',
  };
}

function announceBackend(info: BackendInfo, options: Options): void {
  console.error(`[lumen] tfjs backend: ${info.backend} — ${info.detail}, ${info.threads} thread(s)`);
  for (const reason of info.skipped) console.error(`[lumen]   skipped ${reason}`);
  console.error(`[lumen] ${options.warmup} warm-up + ${options.runs} timed runs per measurement, one process per row`);
}

function logResult(id: string, result: LumenResult): void {
  const { fwd, fwdBwd, kernels, error } = result;
  const phases = [fwd != null ? `fwd ${fwd.ms.toFixed(1)} ms` : null, fwdBwd != null ? `fwd+bwd ${fwdBwd.ms.toFixed(1)} ms` : null];
  const measured = phases.filter((p) => p != null).join(', ');
  if (measured !== '') console.error(`[lumen] ${id}: ${measured}`);
  if (error != null) console.error(`[lumen] ${id} FAILED: ${error}`);
  for (const k of kernels ?? []) console.error(`[lumen]   ${k.kernel.padEnd(36)} ${k.ms.toFixed(1).padStart(9)} ms  ${k.calls} call(s)`);
}

/** Times every row, one at a time; the first backend report is printed for all. */
async function runLumen(options: Options): Promise<{ backend: BackendInfo | null; results: LumenResult[] }> {
  let backend: BackendInfo | null = null;
  const results: LumenResult[] = [];
  for (const row of options.rows) {
    const result = await runLumenRow(row.id, {
      ...options,
      onBackend: (info) => {
        if (backend == null) announceBackend(info, options);
        backend ??= info;
      },
      // Only slow runs: a minute-long ResNet run should show it is alive.
      onRun: (phase, run, ms) => {
        if (ms >= 1000) console.error(`[lumen] ${row.id} ${phase} run ${run + 1}/${options.warmup + options.runs}: ${ms.toFixed(0)} ms`);
      },
    });
    logResult(row.id, result);
    results.push(result);
  }
  return { backend, results };
}

async function runPeer(options: Options): Promise<TorchResult | { skipped: string }> {
  if (!options.torch) return { skipped: '--no-torch' };
  const missing = torchUnavailable(options.python);
  if (missing != null) {
    console.error(`[torch] PyTorch peer skipped, no ratio columns: ${missing}`);
    console.error('[torch] install it with: apt-get install -y python3-torchvision libopenblas0-pthread');
    return { skipped: missing };
  }
  const rows = [...new Set(options.rows.map((r) => r.torchId))];
  return runTorch({ python: options.python, rows, warmup: options.warmup, runs: options.runs, threads: options.torchThreads });
}

function gitCommit(): string | null {
  const git = spawnSync('git', ['describe', '--always', '--dirty'], { encoding: 'utf8' });
  return git.status === 0 ? git.stdout.trim() : null;
}

/** Warns when both sides disagree on a row's output shape: they would not be comparable. */
function checkShapes(rows: ReportRow[]): void {
  for (const r of rows) {
    if (r.torch == null || r.lumen.model == null) continue;
    const [n, h, w, c] = r.lumen.model.outputShape;
    const nchw = [n, c, h, w].join('x');
    if (nchw !== r.torch.outputShape.join('x')) {
      console.error(`[bench] ${r.id}: output shapes differ — Lumen NCHW ${nchw}, PyTorch ${r.torch.outputShape.join('x')}`);
    }
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options == null) {
    console.log(USAGE);
    return;
  }
  const { backend, results } = await runLumen(options);
  // PyTorch runs after Lumen, never alongside it: on 2 cores they would share the CPU.
  const torch = await runPeer(options);
  const torchRows = 'rows' in torch ? torch.rows : [];
  const rows = options.rows.map((row, i) =>
    reportRow(row.id, row.label, results[i], torchRows.find((t) => t.id === row.torchId) ?? null),
  );
  checkShapes(rows);

  const torchInfo = 'rows' in torch ? { torch: torch.torch, torchvision: torch.torchvision, threads: torch.threads, mkldnn: torch.mkldnn } : torch;
  const report: Report = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    warmup: options.warmup,
    runs: options.runs,
    lumen: backend,
    torch: torchInfo,
    rows,
  };
  console.log(formatTable(report));
  if (options.json != null) {
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    console.error(`[bench] wrote ${options.json}`);
  }
  if (rows.some((r) => r.lumen.error != null)) process.exitCode = 1;
}

// exitCode, not exit(): stdout may be a pipe still draining the table.
main().catch((e: unknown) => {
  console.error(e instanceof UsageError ? e.message : e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
