/**
 * docs/benchmarks.svg: every row a bench measured on both sides, as a horizontal bar from 1
 * to its ratio Lumen/PyTorch on a log scale (left of the rule at 1: Lumen faster), grouped
 * and coloured by bench. A Vega-Lite spec, compiled and rendered to SVG by vega in Node
 * (renderer 'none': no canvas, no browser).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { KeptResult } from '../kit/results';
import { BENCHES } from './report';

/** One bar. */
export interface ChartRow {
  bench: string;
  label: string;
  ratio: number;
}

/** Mark names, which vega writes into the SVG's classes: the spec counts bars and rules by them. */
export const BAR_MARK = 'ratio_bar';
export const RULE_MARK = 'parity_rule';
/** The plot's width in px: the ratio axis, symmetric around 1, so 1 is in its middle. */
export const PLOT_WIDTH = 420;

/** The bars of `results`, bench by bench in their order, rows in each bench's order. */
export function chartRows(results: readonly KeptResult[]): ChartRow[] {
  return results.flatMap((r) => r.ratios.filter((x) => Number.isFinite(x.ratio) && x.ratio > 0).map((x) => ({ bench: r.bench, label: x.label, ratio: x.ratio })));
}

const STEPS = [1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 1e4, 1e5, 1e6];

/**
 * The x domain [1/m, m]: symmetric around 1, so 1 is in the middle, with room past the
 * longest bar for its label (about 30 px of the plot's 420: 1/7 of each half's log range).
 */
export function ratioDomain(rows: readonly ChartRow[]): [number, number] {
  const widest = Math.max(1, ...rows.map((r) => Math.max(r.ratio, 1 / r.ratio)));
  const room = Math.max(widest * 1.3, widest ** (7 / 6));
  const m = STEPS.find((s) => s >= room) ?? room;
  return [1 / m, m];
}

/** Ticks on each side of 1, at most four, and 1. */
function ticks([, m]: [number, number]): number[] {
  let side = (m <= 3 ? [1.5, 2, 3] : m < 20 ? [2, 5, 10] : [2, 10, 100, 1000, 1e4, 1e5, 1e6]).filter((t) => t <= m * 1.0001);
  while (side.length > 4) side = side.filter((_, i) => (side.length - 1 - i) % 2 === 0);
  return [...side.map((t) => 1 / t).reverse(), 1, ...side];
}

const LABEL_EXPR = "format(datum.value, '.2~r') + 'x'";
/** Two decimals, as the tables round; two significant digits under 0.1. */
const BAR_TEXT = "format(datum.ratio, datum.ratio < 0.1 ? '.2r' : '.2f') + 'x'";

export function chartSpec(results: readonly KeptResult[]): TopLevelSpec {
  const rows = chartRows(results);
  const $schema = 'https://vega.github.io/schema/vega-lite/v6.json';
  if (rows.length === 0) {
    return {
      $schema,
      width: PLOT_WIDTH,
      height: 40,
      data: { values: [{ text: 'No bench result measured against PyTorch yet (run a bench, then npx nx run tools:bench-report).' }] },
      mark: { type: 'text', align: 'left', x: 0, y: 20, fontSize: 12 },
      encoding: { text: { field: 'text', type: 'nominal' } },
      config: { view: { stroke: null } },
    };
  }
  const domain = ratioDomain(rows);
  const benches = [...new Set(rows.map((r) => r.bench))];
  const y = { field: 'label', type: 'nominal' as const, sort: null, axis: { title: null, labelLimit: 360, labelFontSize: 11 } };
  const x = {
    field: 'ratio',
    type: 'quantitative' as const,
    scale: { type: 'log' as const, domain, clamp: true, nice: false },
    axis: {
      title: ['← Lumen faster', 'Lumen time / PyTorch time (log scale)', 'PyTorch faster →'].join('\u00a0'.repeat(8)),
      values: ticks(domain),
      labelExpr: LABEL_EXPR,
      grid: true,
      gridColor: '#e6e6e6',
    },
  };
  // Each bar's ratio at its far end: right of bars above 1, left of those below.
  const above = 'datum.ratio >= 1';
  const labels = {
    mark: { type: 'text' as const, align: { expr: `${above} ? 'left' : 'right'` }, dx: { expr: `${above} ? 3 : -3` }, fontSize: 10, color: '#333' },
    encoding: { y, x: { field: 'ratio', type: 'quantitative' as const }, text: { value: { expr: BAR_TEXT } } },
  };
  return {
    $schema,
    title: {
      text: 'Lumen vs PyTorch, same run, same machine',
      subtitle: 'Lumen time / PyTorch time per row: < 1 means Lumen is faster',
      anchor: 'start',
    },
    data: { values: rows },
    facet: {
      row: {
        field: 'bench',
        type: 'nominal',
        sort: benches,
        header: { title: null, labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelFontSize: 12, labelFontWeight: 'bold', labelPadding: 4 },
      },
    },
    spec: {
      width: PLOT_WIDTH,
      height: { step: 18 },
      layer: [
        {
          name: BAR_MARK,
          mark: { type: 'bar', height: { band: 0.7 } },
          encoding: {
            y,
            x,
            x2: { datum: 1 },
            // Every known bench keeps its colour whichever results there are.
            color: { field: 'bench', type: 'nominal', scale: { domain: [...new Set([...BENCHES.map((b) => b.name), ...benches])], scheme: 'tableau10' }, legend: null },
          },
        },
        labels,
        {
          // One rule per group at ratio 1 (the aggregate leaves one datum per facet).
          name: RULE_MARK,
          transform: [{ aggregate: [{ op: 'count', as: 'rows' }] }],
          mark: { type: 'rule', color: '#222', strokeWidth: 1.5 },
          encoding: { x: { datum: 1, type: 'quantitative' } },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
    spacing: 10,
    config: { view: { stroke: null }, axis: { labelFont: 'sans-serif', titleFont: 'sans-serif' }, font: 'sans-serif' },
  };
}

/** Helvetica's advance widths (1/1000 em) of printable ASCII, from space to '~'. */
const HELVETICA = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
  1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
  333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/**
 * The width of `text` in a sans-serif font at `fontSize` px. Without a canvas, vega guesses
 * 0.8 em per character, which leaves wide gaps beside the row labels and cuts the long ones;
 * this is Helvetica / Arial widened by 15%, which DejaVu Sans (wider) needs.
 */
export function sansTextWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    em += code >= 32 && code <= 126 ? HELVETICA[code - 32] : 1000;
  }
  return (em / 1000) * fontSize * (bold ? 1.1 : 1) * 1.15;
}

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  limit?: number;
}

/** The SVG of chartSpec(results). vega and vega-lite are ES modules: loaded with import(). */
export async function renderChart(results: readonly KeptResult[]): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  // vega's text measure (exported, but not in its typings): what lays out and truncates labels.
  const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } }).textMetrics;
  metrics.width = (item, text) => {
    const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
    return sansTextWidth(text == null ? '' : String(text).trim(), item.fontSize ?? 11, bold);
  };
  const logger = vega.logger(vega.Warn, undefined, (_method, level, args) => {
    // The bars and their labels filter the same rows apart (the log scale's valid values), and
    // the rule aggregates them: the label domain is the same rows' either way.
    if (String(args[0]).startsWith('Detected faceted independent scales')) return;
    console.error(`[bench-report] vega-lite ${level}`, ...args);
  });
  const { spec } = vl.compile(chartSpec(results), { logger });
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
