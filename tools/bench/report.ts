/** The benchmark's result: one table on stdout, the same data as JSON on request. */
import type { BackendInfo, LumenResult } from './lumen-process';
import type { TorchResult, TorchRow } from './torch-peer';

export interface ReportRow {
  id: string;
  label: string;
  /** What was measured, and the error if the row failed part-way. */
  lumen: LumenResult;
  torch: TorchRow | null;
  /** Lumen fwd+bwd / Lumen fwd. */
  lumenBwdRatio: number | null;
  /** Lumen / PyTorch, forward and forward+backward; null unless both sides have the number. */
  fwdVsTorch: number | null;
  fwdBwdVsTorch: number | null;
}

export interface Report {
  date: string;
  /** `git describe --always --dirty` of the tree measured: the runtime changes often. */
  commit: string | null;
  warmup: number;
  runs: number;
  lumen: BackendInfo | null;
  torch: Omit<TorchResult, 'rows'> | { skipped: string };
  rows: ReportRow[];
}

const over = (a: number | undefined, b: number | undefined): number | null => (a != null && b != null ? a / b : null);

export function reportRow(id: string, label: string, lumen: LumenResult, torch: TorchRow | null): ReportRow {
  return {
    id,
    label,
    lumen,
    torch,
    lumenBwdRatio: over(lumen.fwdBwd?.ms, lumen.fwd?.ms),
    fwdVsTorch: over(lumen.fwd?.ms, torch?.fwdMs),
    fwdBwdVsTorch: over(lumen.fwdBwd?.ms, torch?.fwdBwdMs),
  };
}

const ms = (v: number | undefined): string => (v == null ? '—' : v < 100 ? v.toFixed(1) : v.toFixed(0));
const ratio = (v: number | null): string => (v == null ? '—' : `${v.toFixed(2)}x`);

const HEADER = [
  'row',
  'Lumen fwd ms',
  'Lumen f+b ms',
  'Lumen f+b/fwd',
  'PyTorch fwd ms',
  'PyTorch f+b ms',
  'PyTorch f+b/fwd',
  'fwd Lumen/PyTorch',
  'f+b Lumen/PyTorch',
  'wasm heap MiB',
];

function cells(row: ReportRow): string[] {
  const { lumen, torch } = row;
  // A phase missing from a failed row failed (or never ran because an earlier one did).
  const lumenMs = (t: { ms: number } | null) => (t != null ? ms(t.ms) : lumen.error != null ? 'FAILED' : '—');
  return [
    row.label,
    lumenMs(lumen.fwd),
    lumenMs(lumen.fwdBwd),
    ratio(row.lumenBwdRatio),
    ms(torch?.fwdMs),
    ms(torch?.fwdBwdMs),
    ratio(over(torch?.fwdBwdMs, torch?.fwdMs)),
    ratio(row.fwdVsTorch),
    ratio(row.fwdBwdVsTorch),
    lumen.wasmHeapMiB != null ? lumen.wasmHeapMiB.toFixed(0) : '—',
  ];
}

function header(report: Report): string[] {
  const l = report.lumen;
  const lumen = l != null ? `Lumen: tfjs ${l.backend} (${l.detail}), ${l.threads} thread(s)` : 'Lumen: no backend came up';
  const t = report.torch;
  const torch = 'skipped' in t ? `PyTorch: skipped (${t.skipped})` : `PyTorch ${t.torch} / torchvision ${t.torchvision} on CPU, ${t.threads} threads`;
  return [
    `${lumen}; ${torch}${report.commit != null ? `; tree ${report.commit}` : ''}`,
    `median of ${report.runs} runs after ${report.warmup} warm-up; f+b = forward + backward to every conv kernel (not the input)`,
  ];
}

/** A Markdown table (pastes into issues and docs as is), then the errors of failed rows. */
export function formatTable(report: Report): string {
  const lines = [HEADER, ...report.rows.map(cells)];
  const widths = HEADER.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  const fmt = (l: string[]) => `| ${l.map((s, c) => (c === 0 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const errors = report.rows.filter((r) => r.lumen.error != null).map((r) => `FAILED ${r.id}: ${r.lumen.error}`);
  return [...header(report), '', fmt(lines[0]), rule, ...lines.slice(1).map(fmt), ...(errors.length > 0 ? ['', ...errors] : [])].join('\n');
}
