/** The runtime benchmark's result: one table on stdout, the same data as JSON on request. */
import { phaseColumns, type TorchPhases, type TorchPhasesResult } from '../kit/phase-report';
import type { BackendInfo, LumenResult } from '../kit/process';
import { peerRatio, ratios, type PeerRatio } from '../kit/results';
import { markdownTable } from '../kit/table';

export interface ReportRow {
  id: string;
  label: string;
  /** What was measured, and the error if the row failed part-way. */
  lumen: LumenResult;
  torch: TorchPhases | null;
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
  torch: Omit<TorchPhasesResult, 'rows'> | { skipped: string };
  rows: ReportRow[];
}

const over = (a: number | undefined, b: number | undefined): number | null => (a != null && b != null ? a / b : null);

export function reportRow(id: string, label: string, lumen: LumenResult, torch: TorchPhases | null): ReportRow {
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

/** The lines above the table: backends and run counts. */
export function reportHeader(report: Report): string[] {
  const l = report.lumen;
  const lumen = l != null ? `Lumen: tfjs ${l.backend} (${l.detail}), ${l.threads} thread(s)` : 'Lumen: no backend came up';
  const t = report.torch;
  const torch = 'skipped' in t ? `PyTorch: skipped (${t.skipped})` : `PyTorch ${t.torch} / torchvision ${t.torchvision} on CPU, ${t.threads} threads`;
  return [
    `${lumen}; ${torch}${report.commit != null ? `; tree ${report.commit}` : ''}`,
    `median of ${report.runs} runs after ${report.warmup} warm-up; f+b = forward + backward to every conv kernel (not the input, except in rows 'with dx')`,
  ];
}

export function reportTable(report: Report): string {
  return markdownTable(phaseColumns<ReportRow>('row', true), report.rows);
}

/** The errors of failed rows. */
export function failedRows(report: Report): string[] {
  return report.rows.filter((r) => r.lumen.error != null).map((r) => `FAILED ${r.id}: ${r.lumen.error}`);
}

/** A Markdown table (pastes into issues and docs as is), then the errors of failed rows. */
export function formatTable(report: Report): string {
  const errors = failedRows(report);
  return [...reportHeader(report), '', reportTable(report), ...(errors.length > 0 ? ['', ...errors] : [])].join('\n');
}

/** Lumen / PyTorch of every row both sides measured: forward, and forward+backward. */
export function reportRatios(report: Report): PeerRatio[] {
  return ratios(
    report.rows.flatMap((r) => [
      peerRatio(`${r.label}, fwd`, r.lumen.fwd?.ms, r.torch?.fwdMs),
      peerRatio(`${r.label}, fwd+bwd`, r.lumen.fwdBwd?.ms, r.torch?.fwdBwdMs),
    ]),
  );
}
