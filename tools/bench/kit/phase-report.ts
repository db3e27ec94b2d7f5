/**
 * The forward / forward+backward comparison the runtime and backbone benches report: what
 * their PyTorch peers print (kit/peer.py's measure_phases) and the table columns.
 */
import type { LumenResult } from './process';
import { formatMs, formatRatio, type Column } from './table';

/** One row as kit/peer.py's measure_phases prints it (output shape in NCHW). */
export interface TorchPhases {
  id: string;
  outputShape: number[];
  trainableParams: number;
  fwdMs: number;
  fwdBwdMs: number;
  fwdSamples: number[];
  fwdBwdSamples: number[];
}

export interface TorchPhasesResult {
  torch: string;
  torchvision: string;
  threads: number;
  mkldnn: boolean;
  rows: TorchPhases[];
}

export interface PhaseRow {
  label: string;
  lumen: LumenResult;
  torch: TorchPhases | null;
}

/**
 * How the two sides' output shapes differ (Lumen's NHWC read as NCHW), or null when they
 * agree or one is unknown: rows with different shapes are not comparable.
 */
export function shapeMismatch(row: PhaseRow): string | null {
  if (row.torch == null || row.lumen.model == null) return null;
  const [n, h, w, c] = row.lumen.model.outputShape;
  const nchw = [n, c, h, w].join('x');
  const torch = row.torch.outputShape.join('x');
  return nchw === torch ? null : `output shapes differ — Lumen NCHW ${nchw}, PyTorch ${torch}`;
}

/**
 * Lumen's and PyTorch's medians, their ratios and the wasm heap. `ownRatios` adds each
 * side's forward+backward / forward.
 */
export function phaseColumns<R extends PhaseRow>(firstTitle: string, ownRatios: boolean): Column<R>[] {
  // A phase missing from a failed row failed (or never ran because an earlier one did).
  const lumenMs = (row: R, phase: 'fwd' | 'fwdBwd') => {
    const timing = row.lumen[phase];
    return timing != null ? formatMs(timing.ms) : row.lumen.error != null ? 'FAILED' : '—';
  };
  const columns: Array<Column<R> | null> = [
    { title: firstTitle, cell: (r) => r.label },
    { title: 'Lumen fwd ms', cell: (r) => lumenMs(r, 'fwd') },
    { title: 'Lumen f+b ms', cell: (r) => lumenMs(r, 'fwdBwd') },
    ownRatios ? { title: 'Lumen f+b/fwd', cell: (r) => formatRatio(r.lumen.fwdBwd?.ms, r.lumen.fwd?.ms) } : null,
    { title: 'PyTorch fwd ms', cell: (r) => formatMs(r.torch?.fwdMs) },
    { title: 'PyTorch f+b ms', cell: (r) => formatMs(r.torch?.fwdBwdMs) },
    ownRatios ? { title: 'PyTorch f+b/fwd', cell: (r) => formatRatio(r.torch?.fwdBwdMs, r.torch?.fwdMs) } : null,
    { title: 'fwd Lumen/PyTorch', cell: (r) => formatRatio(r.lumen.fwd?.ms, r.torch?.fwdMs) },
    { title: 'f+b Lumen/PyTorch', cell: (r) => formatRatio(r.lumen.fwdBwd?.ms, r.torch?.fwdBwdMs) },
    { title: 'wasm heap MiB', cell: (r) => (r.lumen.wasmHeapMiB != null ? r.lumen.wasmHeapMiB.toFixed(0) : '—') },
  ];
  return columns.filter((c): c is Column<R> => c != null);
}
