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
 * kit/process.ts); PyTorch (runtime_torch.py) runs after all of them. Progress goes to
 * stderr, the table to stdout. Exits 1 when a row failed (a leak, a crash, a hang).
 */
import { join } from 'node:path';
import { parseOptions, pickRows, TORCH_THREADS } from '../kit/options';
import { shapeMismatch, type TorchPhasesResult } from '../kit/phase-report';
import { measureRows } from '../kit/process';
import { gitCommit, type BenchOutcome } from '../kit/results';
import { runBench } from '../kit/run';
import { peerUnavailable, runPeer } from '../kit/torch-peer';
import { serveRow } from '../kit/worker';
import { failedRows, formatTable, reportHeader, reportRatios, reportRow, reportTable, type Report } from './report';
import { ROWS } from './rows';

const USAGE = `usage: tsx tools/bench/runtime/main.ts [--runs=N] [--warmup=N] [--rows=ID,…] [--json=PATH]
       [--timeout=SECONDS] [--profile] [--no-torch] [--torch-threads=N] [--python=PATH]
rows:  ${ROWS.map((r) => r.id).join(', ')}
--timeout: seconds one run may take before its row is declared hung (default 120)
--profile: one more forward+backward per row under tf.profile; prints its slowest kernels
env:   LUMEN_BACKEND=tensorflow|wasm|cpu (default wasm), LUMEN_WASM_THREADS=1..8,
       LUMEN_TORCH_PYTHON (default /usr/bin/python3: Debian's python3-torchvision)`;

function readOptions(argv: string[]) {
  const o = parseOptions(argv, {
    usage: USAGE,
    runs: 5,
    warmup: 1,
    counts: { timeout: { default: 120, min: 1 }, 'torch-threads': TORCH_THREADS },
    switches: ['profile'],
    // --worker: this process is the child measuring one row (kit/process.ts).
    strings: ['rows', 'worker'],
  });
  if (o == null) return null;
  return {
    ...o,
    rows: pickRows(o.strings.rows, ROWS, USAGE),
    timeoutS: o.counts.timeout,
    profile: o.switches.profile,
    torchThreads: o.counts['torch-threads'],
    worker: o.strings.worker,
  };
}

type Options = NonNullable<ReturnType<typeof readOptions>>;

async function runTorch(options: Options): Promise<TorchPhasesResult | { skipped: string }> {
  const missing = peerUnavailable(options);
  if (missing != null) return { skipped: missing };
  const args = [
    `--rows=${[...new Set(options.rows.map((r) => r.torchId))].join(',')}`,
    `--warmup=${options.warmup}`,
    `--runs=${options.runs}`,
    `--threads=${options.torchThreads}`,
  ];
  return runPeer<TorchPhasesResult>(options.python, join(__dirname, 'runtime_torch.py'), args);
}

async function main(): Promise<number | BenchOutcome> {
  const argv = process.argv.slice(2);
  const options = readOptions(argv);
  if (options == null) return 0;
  if (options.worker != null) return serveRow(ROWS, options.worker, (row) => row.build(), options);

  console.error(`[lumen] ${options.warmup} warm-up + ${options.runs} timed runs per measurement, one process per row`);
  const { backend, results } = await measureRows(
    options.rows.map((r) => r.id),
    { ...options, script: __filename, argv },
  );
  // PyTorch runs after Lumen, never alongside it: on 2 cores they would share the CPU.
  const torch = await runTorch(options);
  const torchRows = 'rows' in torch ? torch.rows : [];
  const rows = options.rows.map((row, i) => reportRow(row.id, row.label, results[i], torchRows.find((t) => t.id === row.torchId) ?? null));
  for (const row of rows) {
    const mismatch = shapeMismatch(row);
    if (mismatch != null) console.error(`[bench] ${row.id}: ${mismatch}`);
  }

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
  return {
    code: rows.some((r) => r.lumen.error != null) ? 1 : 0,
    json: report,
    jsonPath: options.json,
    header: reportHeader(report),
    table: reportTable(report),
    footer: failedRows(report),
    ratios: reportRatios(report),
  };
}

runBench('runtime', main);
