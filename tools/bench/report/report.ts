/**
 * BENCHMARKS.md from the results the benches keep (tools/bench/results/<bench>.json, see
 * kit/results.ts): a header saying how it is made and what the ratios mean, the chart, then
 * each bench's date, machine, set-up lines and table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeptResult } from '../kit/results';

/** The benches in the README's order, with its description of each; others follow by name. */
/** Each kept result's bench, in the README's order; `target` when its nx target is another's (with options). */
export const BENCHES: ReadonlyArray<{ name: string; what: string; target?: string }> = [
  { name: 'runtime', what: 'wasm conv / ResNet-50 forward and backward, vs PyTorch' },
  { name: 'boxes', what: 'NMS, IoU and anchor grid, vs torchvision.ops' },
  { name: 'backbone', what: 'every body, forward and forward+backward, vs torchvision' },
  { name: 'roi-pool', what: 'RoIAlign forward / forward+backward, vs torchvision.ops' },
  { name: 'heads', what: 'proposals and target assignment, vs torchvision' },
  { name: 'data', what: 'decoded + augmented examples per second, vs a torchvision DataLoader' },
  { name: 'train', what: 'whole training step and inference, ResNet-50 C4 at 600x800, vs torchvision' },
  { name: 'train-fpn', target: 'train -- --design=fpn', what: "torchvision's R50-FPN: training step on 2 images of 800x1333 and inference, with peak RSS, vs torchvision" },
  { name: 'kernels', what: 'GEMM and conv kernels (forward, input and filter gradients) as a share of the measured FMA peak (no peer)' },
  { name: 'profile', what: "where a training step's time goes: each kernel's share and the share outside kernels (no peer)" },
  { name: 'predict', what: 'images/s of `lumen predict`; video frames/s vs the same frames as images' },
  { name: 'queue', what: '`lumen predict --redis` with `lumen worker`s vs a local run' },
  { name: 'pretrained', what: "torchvision's R50-FPN / MobileNetV3-FPN-320: latency and .pth import, vs torchvision" },
];

export const REPORT_COMMAND = 'npx nx run tools:bench-report';

function rank(bench: string): number {
  const i = BENCHES.findIndex((b) => b.name === bench);
  return i < 0 ? BENCHES.length : i;
}

/** Known benches first, in the README's order, then the others by name. */
export function sortResults(results: readonly KeptResult[]): KeptResult[] {
  return [...results].sort((a, b) => rank(a.bench) - rank(b.bench) || a.bench.localeCompare(b.bench));
}

function isResult(value: unknown): value is KeptResult {
  const r = value as Partial<KeptResult> | null;
  return (
    r != null &&
    typeof r.bench === 'string' &&
    typeof r.date === 'string' &&
    typeof r.table === 'string' &&
    Array.isArray(r.ratios) &&
    Array.isArray(r.header) &&
    Array.isArray(r.footer) &&
    r.machine != null
  );
}

/** Every results/<bench>.json of `dir`, sorted; files that are not a kept result are reported to `warn` and skipped. */
export function readResults(dir: string, warn: (message: string) => void = console.error): KeptResult[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const results: KeptResult[] = [];
  for (const file of files.sort()) {
    try {
      const value: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      if (isResult(value)) results.push(value);
      else warn(`[bench-report] ${file}: not a kept bench result, skipped`);
    } catch (e) {
      warn(`[bench-report] ${file}: ${(e as Error).message}, skipped`);
    }
  }
  return sortResults(results);
}

/** 2026-12-07T14:03:51.123Z as `2026-12-07 14:03 UTC`. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16)} UTC`;
}

/** The nx target that makes `bench`'s results, with the options that select it. */
const targetOf = (bench: string) => BENCHES.find((b) => b.name === bench)?.target ?? bench;

function command(r: KeptResult): string {
  const target = targetOf(r.bench);
  const args = r.args.filter((a) => !target.includes(a));
  return `npx nx run tools:bench-${target}${args.length > 0 ? `${target.includes(' -- ') ? '' : ' --'} ${args.join(' ')}` : ''}`;
}

function section(r: KeptResult): string[] {
  const what = BENCHES.find((b) => b.name === r.bench)?.what;
  const m = r.machine;
  const lines = [
    `## ${r.bench}${what != null ? `: ${what}` : ''}`,
    '',
    `\`${command(r)}\` on ${formatDate(r.date)}; ${m.cpu}, ${m.threads} threads, ${m.memoryGiB} GiB, ${m.platform}, node ${m.node}` +
      (m.loadAverage != null && m.loadAverage.length > 0 ? `, load average ${m.loadAverage.map((v) => v.toFixed(1)).join(' ')} at the end` : '') +
      `${r.commit != null ? `; tree ${r.commit}` : ''}.` +
      (r.exitCode !== 0 ? ` Exited ${r.exitCode}: a bar was missed or a check failed (below).` : ''),
    '',
  ];
  if (r.header.length > 0) lines.push(...r.header.map((l) => `- ${l}`), '');
  lines.push(r.table, '');
  if (r.footer.length > 0) lines.push(...r.footer.map((l) => `- ${l}`), '');
  return lines;
}

export interface MarkdownOptions {
  /** The chart's path relative to the Markdown file. */
  chart: string;
}

export function renderMarkdown(results: readonly KeptResult[], options: MarkdownOptions): string {
  const sorted = sortResults(results);
  const missing = BENCHES.filter((b) => !sorted.some((r) => r.bench === b.name)).map((b) => `\`tools:bench-${targetOf(b.name)}\``);
  const lines = [
    '# Benchmarks',
    '',
    `Made by \`${REPORT_COMMAND}\` from the latest result of every bench: each \`npx nx run tools:bench-<name>\``,
    'keeps its own in `tools/bench/results/<name>.json` (the same data as its `--json`, with the date, the machine and',
    'the tree). Do not edit this file: run a bench, then the command above, which also draws the chart.',
    '',
    'Ratios are **Lumen time / PyTorch time**, both measured in the same run on the same machine (the peer is',
    "torchvision on PyTorch, Debian's `python3-torchvision`): **< 1 means Lumen is faster**, > 1 that PyTorch is.",
    'Rows given as a rate (examples/s) are compared as time per item. The chart shows every row measured on',
    'both sides, on a log scale, with the rule at 1. A load average above the thread count means other work',
    'shared the CPU during that run: both sides were slowed, and the ratios are less certain.',
    '',
    `![Lumen time / PyTorch time of every row measured on both sides, by bench, on a log scale](${options.chart})`,
    '',
  ];
  if (missing.length > 0) lines.push(`No result kept yet for ${missing.join(', ')}.`, '');
  for (const r of sorted) lines.push(...section(r));
  return `${lines.join('\n').trimEnd()}\n`;
}
