/**
 * The benches of single operations next to torchvision's (boxes, heads, roi-pool): each op
 * timed in this process; the peer fed the same inputs through a PeerData folder; one table
 * of Lumen ms, torchvision ms, their ratio and the issue's bar; then Lumen's answers
 * checked against torchvision's. A bench supplies its rows, inputs, ops and checks.
 */
import { initBackend, type BackendChoice } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { parseOptions, TORCH_THREADS } from './options';
import { withPeerData, type PeerData } from './peer-data';
import { peerRatio, ratios, type BenchOutcome } from './results';
import { runBench } from './run';
import { timeRuns, type RunCounts, type Timing } from './stats';
import { barCell, formatRatio, markdownTable } from './table';
import { peerUnavailable, runPeer } from './torch-peer';

export interface OpRow {
  id: string;
  label: string;
  /** Lumen/torchvision must stay at or under this (the issue's bar), when set. */
  bar?: number;
}

export interface OpBench {
  /** Names the scratch folder the peer's files go to, and the kept result (results/<name>.json). */
  name: string;
  usage: string;
  /** Defaults of --runs and --warmup. */
  runs: number;
  warmup: number;
  rows: readonly OpRow[];
  /** The peer script: --data=DIR --warmup=N --runs=N --threads=N, JSON on stdout. */
  peer: string;
  /** Decimals of the ms columns: sub-ms rows need two. */
  digits: number;
  /** Said after the run counts: what the rows ran on. */
  note?: string;
}

/** What every op peer prints; benches extend it with their answers. */
export interface OpPeerResult {
  torch: string;
  torchvision: string;
  threads: number;
  rows: Record<string, Timing>;
}

export interface Verdict {
  /** One line per answer compared, printed after the table as `check …`. */
  checks: string[];
  failures: string[];
}

/** A bench's inputs, made once the backend is up. */
export interface OpSession<T extends OpPeerResult> {
  /** The timed call of each row, by row id. */
  ops: Record<string, () => unknown>;
  writeInputs(data: PeerData): void;
  /** Lumen's answers against the peer's (its result, and the files it left in `data`). */
  compare(data: PeerData, peer: T): Promise<Verdict>;
  /** The peer's part of the --json file, when not all of its result. */
  peerJson?(peer: T): unknown;
  dispose(): void;
}

/** Times each row's op in turn, and counts the tensors the timed calls left behind. */
async function timeOps(rows: readonly OpRow[], ops: Record<string, () => unknown>, counts: RunCounts): Promise<{ lumen: Record<string, Timing>; leaked: number }> {
  console.error(`[lumen] ${counts.warmup} warm-up + ${counts.runs} timed runs per row`);
  const before = tf.memory().numTensors;
  const lumen: Record<string, Timing> = {};
  for (const row of rows) {
    lumen[row.id] = await timeRuns(ops[row.id], counts);
    console.error(`[lumen] ${row.label}: ${lumen[row.id].ms.toFixed(2)} ms`);
  }
  return { lumen, leaked: tf.memory().numTensors - before };
}

interface Results {
  lumen: Record<string, Timing>;
  peer: OpPeerResult | null;
}

/** Lumen / torchvision for a row, or null where the peer has no time for it. */
function ratio(results: Results, row: OpRow): number | null {
  const theirs = results.peer?.rows[row.id]?.ms;
  return theirs != null ? results.lumen[row.id].ms / theirs : null;
}

function table(bench: OpBench, results: Results): string {
  const { lumen, peer } = results;
  const peerMs = (row: OpRow) => peer?.rows[row.id]?.ms;
  const bar = (row: OpRow) => {
    if (row.bar == null) return '';
    const r = ratio(results, row);
    return barCell(`<= ${row.bar}`, r == null ? null : r <= row.bar);
  };
  return markdownTable(
    [
      { title: 'operation', cell: (row) => row.label },
      { title: 'Lumen ms', cell: (row) => lumen[row.id].ms.toFixed(bench.digits) },
      { title: 'torchvision ms', cell: (row) => peerMs(row)?.toFixed(bench.digits) ?? '-' },
      { title: 'Lumen/torchvision', cell: (row) => formatRatio(lumen[row.id].ms, peerMs(row), 3, '-') },
      { title: 'bar', cell: bar },
    ],
    bench.rows,
  );
}

function header(bench: OpBench, backend: BackendChoice, counts: RunCounts, peer: OpPeerResult | null): string[] {
  return [
    `Lumen: tfjs ${tf.version_core}, backend ${backend.name} (${backend.detail}, ${backend.threads} thread(s))`,
    ...(peer != null ? [`torchvision: torch ${peer.torch}, torchvision ${peer.torchvision}, ${peer.threads} thread(s)`] : []),
    `median of ${counts.runs} runs after ${counts.warmup} warm-up${bench.note != null ? `; ${bench.note}` : ''}`,
  ];
}

async function main<T extends OpPeerResult>(bench: OpBench, setUp: () => Promise<OpSession<T>>): Promise<number | BenchOutcome> {
  const options = parseOptions(process.argv.slice(2), { usage: bench.usage, runs: bench.runs, warmup: bench.warmup, counts: { 'torch-threads': TORCH_THREADS } });
  if (options == null) return 0;
  const backend = await initBackend();
  const session = await setUp();
  const { lumen, leaked } = await timeOps(bench.rows, session.ops, options);

  const verdict: Verdict = { checks: [], failures: leaked !== 0 ? [`${leaked} tensor(s) leaked by the timed calls`] : [] };
  const peer =
    peerUnavailable(options) != null
      ? null
      : await withPeerData(bench.name, async (data) => {
          session.writeInputs(data);
          const args = [`--data=${data.dir}`, `--warmup=${options.warmup}`, `--runs=${options.runs}`, `--threads=${options.counts['torch-threads']}`];
          const result = await runPeer<T>(options.python, bench.peer, args);
          const { checks, failures } = await session.compare(data, result);
          verdict.checks.push(...checks);
          verdict.failures.push(...failures);
          return result;
        });
  session.dispose();

  const results = { lumen, peer };
  const lines = header(bench, backend, options, peer);
  const printed = table(bench, results);
  console.log(`${lines.join('\n')}\n`);
  console.log(printed);
  for (const check of verdict.checks) console.log(`check ${check}`);
  const { failures } = verdict;
  for (const row of bench.rows) {
    const r = ratio(results, row);
    if (row.bar != null && r != null && r > row.bar) failures.push(`${row.label}: ratio above ${row.bar}`);
  }
  const torch = peer != null && session.peerJson != null ? session.peerJson(peer) : peer;
  for (const failure of failures) console.error(`[bench] FAILED: ${failure}`);
  return {
    code: failures.length === 0 ? 0 : 1,
    json: { backend, lumen, torch, checks: verdict.checks, failures },
    jsonPath: options.json,
    header: lines,
    table: printed,
    footer: [...verdict.checks.map((c) => `check ${c}`), ...failures.map((f) => `FAILED ${f}`)],
    ratios: ratios(bench.rows.map((row) => peerRatio(row.label, lumen[row.id].ms, peer?.rows[row.id]?.ms))),
  };
}

/** Runs an op bench as this process's main: `setUp` makes its inputs once the backend is up. */
export function runOpBench<T extends OpPeerResult>(bench: OpBench, setUp: () => Promise<OpSession<T>>): void {
  runBench(bench.name, () => main(bench, setUp));
}
