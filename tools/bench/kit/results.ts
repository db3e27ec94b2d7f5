/**
 * Every bench's latest result, kept in tools/bench/results/<bench>.json (LUMEN_BENCH_RESULTS
 * names another folder): what --json writes, with the date, the machine and the tree it was
 * measured on, the table as printed, and the rows measured on both sides. tools/bench/report
 * turns these files into BENCHMARKS.md and docs/benchmarks.svg.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';

export const RESULTS_DIR = join(__dirname, '..', 'results');

/** The folder results are kept in: $LUMEN_BENCH_RESULTS, else tools/bench/results. */
export function resultsDir(): string {
  return process.env.LUMEN_BENCH_RESULTS || RESULTS_DIR;
}

/** A row both Lumen and the PyTorch peer measured in the same run: a bar of the chart. */
export interface PeerRatio {
  /** Short: the chart's row label. */
  label: string;
  lumenMs: number;
  peerMs: number;
  /** lumenMs / peerMs: < 1 when Lumen is faster. */
  ratio: number;
}

/** What a bench's main hands runBench after a measurement (a bare exit code keeps nothing). */
export interface BenchOutcome {
  /** The process's exit code: 1 when a bar was missed or a check failed (the result is kept all the same). */
  code: number;
  /** What --json=PATH writes. */
  json: unknown;
  /** --json=PATH, when given. */
  jsonPath?: string;
  /** The lines printed above the table: backends, peer, run counts. */
  header: string[];
  /** The Markdown table, as printed. */
  table: string;
  /** The lines printed below it: checks, failures, notes. */
  footer: string[];
  ratios: PeerRatio[];
}

export interface Machine {
  /** os.cpus()[0].model, or /proc/cpuinfo's model name. */
  cpu: string;
  /** Logical CPUs. */
  threads: number;
  memoryGiB: number;
  platform: string;
  node: string;
  /** 1, 5 and 15 minutes, when the run ended: above the core count, something else shared the CPU. */
  loadAverage: number[];
}

/** The file tools/bench/results/<bench>.json. */
export interface KeptResult {
  bench: string;
  /** ISO 8601, when the run ended. */
  date: string;
  machine: Machine;
  /** `git describe --always --dirty` of the tree measured, when git answers. */
  commit: string | null;
  /** The bench's command-line arguments (none: its defaults). */
  args: string[];
  exitCode: number;
  header: string[];
  table: string;
  footer: string[];
  ratios: PeerRatio[];
  /** What --json writes. */
  result: unknown;
}

function cpuModel(): string {
  const model = cpus()[0]?.model?.trim();
  if (model) return model;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() || 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
}

export function machine(): Machine {
  return {
    cpu: cpuModel(),
    threads: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${process.arch}`,
    node: process.version,
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** `git describe --always --dirty` of the tree, or null outside a repository or without git. */
export function gitCommit(cwd = __dirname): string | null {
  const git = spawnSync('git', ['describe', '--always', '--dirty'], { cwd, encoding: 'utf8', timeout: 10_000 });
  return git.status === 0 ? git.stdout.trim() : null;
}

/** Lumen / peer, or null unless both sides have a positive time. */
export function peerRatio(label: string, lumenMs: number | null | undefined, peerMs: number | null | undefined): PeerRatio | null {
  if (lumenMs == null || peerMs == null || !(lumenMs > 0) || !(peerMs > 0)) return null;
  return { label, lumenMs, peerMs, ratio: lumenMs / peerMs };
}

/** The rows of `list` that have a ratio. */
export function ratios(list: ReadonlyArray<PeerRatio | null>): PeerRatio[] {
  return list.filter((r): r is PeerRatio => r != null);
}

/** The arguments that shaped the measurement: all but --json's (a local path). */
export function measuredArgs(args: readonly string[]): string[] {
  return args.filter((arg, i) => !arg.startsWith('--json=') && arg !== '--json' && args[i - 1] !== '--json');
}

export function keptResult(bench: string, outcome: BenchOutcome, args: readonly string[], date = new Date()): KeptResult {
  const { code, header, table, footer, ratios: rows, json } = outcome;
  return { bench, date: date.toISOString(), machine: machine(), commit: gitCommit(), args: measuredArgs(args), exitCode: code, header, table, footer, ratios: rows, result: json };
}

/** Writes --json=PATH (when given) and the kept result; returns the kept file's path. */
export function writeResults(bench: string, outcome: BenchOutcome, args: readonly string[]): string {
  const text = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  if (outcome.jsonPath != null) {
    writeFileSync(outcome.jsonPath, text(outcome.json));
    console.error(`[bench] wrote ${outcome.jsonPath}`);
  }
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${bench}.json`);
  writeFileSync(file, text(keptResult(bench, outcome, args)));
  const shown = relative(process.cwd(), file);
  return shown.startsWith('..') || isAbsolute(shown) ? file : shown;
}
