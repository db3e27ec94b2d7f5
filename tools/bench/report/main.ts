/**
 * BENCHMARKS.md and docs/benchmarks.svg from the latest result of every bench.
 *
 *   npx nx run tools:bench-report [--results=tools/bench/results] [--out=BENCHMARKS.md] [--svg=docs/benchmarks.svg]
 *
 * Reads tools/bench/results/<bench>.json (what each bench keeps when it ends, kit/results.ts)
 * and writes the Markdown (each bench's date, machine and table, report.ts) and the chart of
 * every Lumen/PyTorch ratio (chart.ts, drawn by vega-lite + vega). Paths are relative to the
 * workspace root. Runs nothing and measures nothing: run the benches first.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { chartRows, renderChart } from './chart';
import { readResults, renderMarkdown } from './report';

const ROOT = resolve(__dirname, '../../..');
const USAGE = 'usage: tsx tools/bench/report/main.ts [--results=DIR] [--out=FILE.md] [--svg=FILE.svg]';

async function main(): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: process.argv.slice(2), options: { results: { type: 'string' }, out: { type: 'string' }, svg: { type: 'string' }, help: { type: 'boolean' } } }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 1;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const path = (value: string | boolean | undefined, fallback: string) => resolve(ROOT, typeof value === 'string' ? value : fallback);
  const resultsDir = path(values.results, 'tools/bench/results');
  const out = path(values.out, 'BENCHMARKS.md');
  const svg = path(values.svg, 'docs/benchmarks.svg');

  const results = readResults(resultsDir);
  const chart = relative(dirname(out), svg).split(sep).join('/');
  mkdirSync(dirname(svg), { recursive: true });
  writeFileSync(svg, `${await renderChart(results)}\n`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderMarkdown(results, { chart }));
  const shown = (file: string) => relative(process.cwd(), file) || file;
  console.log(
    `${shown(out)} and ${shown(svg)}: ${results.length} bench result(s) (${results.map((r) => r.bench).join(', ') || 'none'}), ` +
      `${chartRows(results).length} bar(s), from ${shown(resultsDir)}`,
  );
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exitCode = 1;
  },
);
