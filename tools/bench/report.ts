/** The benchmark's result: one table on stdout, the same data as JSON on request. */
import type { RowTiming } from './measure';
import type { TorchResult, TorchRow } from './torch-peer';

export interface LumenInfo {
  backend: string;
  detail: string;
  threads: number;
}

export interface ReportRow {
  id: string;
  label: string;
  lumen: RowTiming & { wasmHeapMiB: number | null };
  torch: TorchRow | null;
  /** Lumen fwd+bwd / Lumen fwd. */
  lumenBwdRatio: number;
  /** Lumen / PyTorch, forward and forward+backward; null without PyTorch. */
  fwdVsTorch: number | null;
  fwdBwdVsTorch: number | null;
}

export interface Report {
  date: string;
  warmup: number;
  runs: number;
  lumen: LumenInfo;
  torch: Omit<TorchResult, 'rows'> | { skipped: string };
  rows: ReportRow[];
}

export function reportRow(id: string, label: string, lumen: ReportRow['lumen'], torch: TorchRow | null): ReportRow {
  return {
    id,
    label,
    lumen,
    torch,
    lumenBwdRatio: lumen.fwdBwdMs / lumen.fwdMs,
    fwdVsTorch: torch != null ? lumen.fwdMs / torch.fwdMs : null,
    fwdBwdVsTorch: torch != null ? lumen.fwdBwdMs / torch.fwdBwdMs : null,
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
];

function cells(row: ReportRow): string[] {
  const t = row.torch;
  return [
    row.label,
    ms(row.lumen.fwdMs),
    ms(row.lumen.fwdBwdMs),
    ratio(row.lumenBwdRatio),
    ms(t?.fwdMs),
    ms(t?.fwdBwdMs),
    ratio(t != null ? t.fwdBwdMs / t.fwdMs : null),
    ratio(row.fwdVsTorch),
    ratio(row.fwdBwdVsTorch),
  ];
}

/** A Markdown table (pastes into issues and the README as is). */
export function formatTable(report: Report): string {
  const lines = [HEADER, ...report.rows.map(cells)];
  const widths = HEADER.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  const fmt = (l: string[]) => `| ${l.map((s, c) => (c === 0 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const torch = 'skipped' in report.torch
    ? `PyTorch: skipped (${report.torch.skipped})`
    : `PyTorch ${report.torch.torch} / torchvision ${report.torch.torchvision}, ${report.torch.threads} threads, CPU`;
  const lumen = `Lumen: tfjs ${report.lumen.backend} (${report.lumen.detail}), ${report.lumen.threads} thread(s)`;
  return [
    `${lumen}; ${torch}`,
    `median of ${report.runs} runs after ${report.warmup} warm-up; f+b = forward+backward (conv-weight gradients)`,
    '',
    fmt(lines[0]),
    rule,
    ...lines.slice(1).map(fmt),
  ].join('\n');
}
