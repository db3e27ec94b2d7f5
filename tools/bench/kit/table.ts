/**
 * The benches' Markdown tables: padded to the widest cell so they read as text on a
 * terminal and paste into issues and docs as they are; and the cells they share.
 */

export type Align = 'left' | 'right';

export interface Column<R> {
  title: string;
  cell(row: R): string;
  /** Default: the first column left, numbers (every other column) right. */
  align?: Align;
}

export function markdownTable<R>(columns: readonly Column<R>[], rows: readonly R[]): string {
  const lines = [columns.map((c) => c.title), ...rows.map((row) => columns.map((c) => c.cell(row)))];
  const widths = columns.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  const align = columns.map((column, c) => column.align ?? (c === 0 ? 'left' : 'right'));
  const fmt = (cells: string[]) => `| ${cells.map((s, c) => (align[c] === 'left' ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (align[c] === 'left' ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [fmt(lines[0]), rule, ...lines.slice(1).map(fmt)].join('\n');
}

/** Milliseconds with the digits that matter: one decimal under 100 ms, none above. */
export function formatMs(ms: number | null | undefined, missing = '—'): string {
  return ms == null ? missing : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

/** a / b as `1.23x`, or `missing` unless both are known. */
export function formatRatio(a: number | null | undefined, b: number | null | undefined, digits = 2, missing = '—'): string {
  return a != null && b != null ? `${(a / b).toFixed(digits)}x` : missing;
}

/** A bar's cell: `<= 1.5 met`, `<= 1.5 MISSED`, or the bar alone while nothing says (`met` null). */
export function barCell(bar: string, met: boolean | null): string {
  return met == null ? bar : `${bar} ${met ? 'met' : 'MISSED'}`;
}
