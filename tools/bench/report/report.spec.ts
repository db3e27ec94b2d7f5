import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measuredArgs, type KeptResult } from '../kit/results';
import { BAR_MARK, chartRows, PLOT_WIDTH, ratioDomain, RULE_MARK } from './chart';
import { readResults, renderMarkdown } from './report';

const ROOT = join(__dirname, '../../..');

const machine = { cpu: 'Test CPU 3000', threads: 2, memoryGiB: 24, platform: 'linux x64', node: 'v20.19.0', loadAverage: [0.5, 0.4, 0.3] };

/** Two benches' kept results, as kit/results.ts writes them (the numbers are made up). */
const BOXES: KeptResult = {
  bench: 'boxes',
  date: '2026-12-01T10:20:30.000Z',
  machine,
  commit: 'abc1234',
  args: [],
  exitCode: 0,
  header: ['Lumen: tfjs 4.22.0, backend wasm', 'median of 15 runs after 3 warm-up'],
  table: ['| operation | Lumen ms | torchvision ms | Lumen/torchvision |', '|:--|--:|--:|--:|', '| nms | 10.00 | 40.00 | 0.250x |', '| gridAnchors | 0.30 | 0.10 | 3.000x |'].join('\n'),
  footer: ['check nms: same indices'],
  ratios: [
    { label: 'nms', lumenMs: 10, peerMs: 40, ratio: 0.25 },
    { label: 'gridAnchors', lumenMs: 0.3, peerMs: 0.1, ratio: 3 },
  ],
  result: {},
};

const ROI_POOL: KeptResult = {
  ...BOXES,
  bench: 'roi-pool',
  date: '2026-12-02T08:00:00.000Z',
  args: ['--runs=3'],
  exitCode: 1,
  header: ['median of 3 runs after 1 warm-up'],
  table: ['| operation | Lumen ms | torchvision ms | Lumen/torchvision |', '|:--|--:|--:|--:|', '| roiAlign 7x7 | 250.0 | 300.0 | 0.833x |', '| cropPool 7x7 | 260.0 | - | - |'].join('\n'),
  footer: ['FAILED roiAlign 7x7: ratio above 0.5'],
  ratios: [{ label: 'roiAlign 7x7', lumenMs: 250, peerMs: 300, ratio: 250 / 300 }],
};

describe('renderMarkdown', () => {
  const md = renderMarkdown([ROI_POOL, BOXES], { chart: 'docs/benchmarks.svg' });

  it('says how it is made and what the ratios mean, and embeds the chart', () => {
    expect(md).toContain('npx nx run tools:bench-report');
    expect(md).toContain('Lumen time / PyTorch time');
    expect(md).toContain('< 1 means Lumen is faster');
    expect(md).toContain('](docs/benchmarks.svg)');
  });

  it("has both benches' tables, in the README's order, each with its date and machine", () => {
    expect(md).toContain(BOXES.table);
    expect(md).toContain(ROI_POOL.table);
    expect(md.indexOf('## boxes')).toBeGreaterThan(0);
    expect(md.indexOf('## roi-pool')).toBeGreaterThan(md.indexOf('## boxes'));
    expect(md).toContain('`npx nx run tools:bench-boxes` on 2026-12-01 10:20 UTC; Test CPU 3000, 2 threads');
    expect(md).toContain('`npx nx run tools:bench-roi-pool -- --runs=3` on 2026-12-02 08:00 UTC');
    expect(md).toContain('Exited 1');
    expect(md).toContain('- FAILED roiAlign 7x7: ratio above 0.5');
    expect(md).toContain('No result kept yet for `tools:bench-runtime`');
  });
});

describe('the chart', () => {
  it('has one bar per row measured on both sides, on a domain symmetric around 1', () => {
    const rows = chartRows([BOXES, ROI_POOL]);
    expect(rows.map((r) => `${r.bench}/${r.label}`)).toEqual(['boxes/nms', 'boxes/gridAnchors', 'roi-pool/roiAlign 7x7']);
    const [lo, hi] = ratioDomain(rows);
    expect(lo * hi).toBeCloseTo(1);
    expect(hi).toBeGreaterThanOrEqual(3 * 1.3);
  });
});

describe('tools/bench/report/main.ts', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-bench-report-'));
    mkdirSync(join(dir, 'results'));
    writeFileSync(join(dir, 'results', 'boxes.json'), JSON.stringify(BOXES));
    writeFileSync(join(dir, 'results', 'roi-pool.json'), JSON.stringify(ROI_POOL));
    writeFileSync(join(dir, 'results', 'notes.json'), JSON.stringify({ not: 'a result' }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the Markdown with both tables and an SVG with one bar per ratio and the rule at 1', () => {
    const out = join(dir, 'BENCHMARKS.md');
    const svgPath = join(dir, 'docs', 'benchmarks.svg');
    // vega and vega-lite are ES modules with top-level await: run the real command, through tsx.
    const run = spawnSync(
      process.execPath,
      [require.resolve('tsx/cli'), '--tsconfig', join(ROOT, 'tools/tsconfig.json'), join(__dirname, 'main.ts'), `--results=${join(dir, 'results')}`, `--out=${out}`, `--svg=${svgPath}`],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.stderr).toContain('notes.json: not a kept bench result, skipped');
    expect(run.status).toBe(0);

    const md = readFileSync(out, 'utf8');
    expect(md).toContain(BOXES.table);
    expect(md).toContain(ROI_POOL.table);
    expect(md).toContain('![');
    expect(md).toContain('](docs/benchmarks.svg)');

    const svg = readFileSync(svgPath, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    const bars = [...svg.matchAll(/aria-roledescription="bar"[^>]*\sd="M([\d.]+),[\d.]+h(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[1]) + Number(m[2])]);
    expect(bars).toHaveLength(3);
    // Every bar runs from 1, the middle of the plot, to its ratio: two to the left (Lumen faster), one to the right.
    const middle = PLOT_WIDTH / 2;
    for (const [from, to] of bars) expect(Math.min(Math.abs(from - middle), Math.abs(to - middle))).toBeLessThan(0.5);
    expect(bars.filter(([from, to]) => Math.min(from, to) < middle - 1)).toHaveLength(2);
    // One rule at 1 per bench.
    const rules = [...svg.matchAll(new RegExp(`class="mark-rule role-mark ${RULE_MARK}_marks"[^>]*><line transform="translate\\(([\\d.]+),0\\)`, 'g'))];
    expect(rules).toHaveLength(2);
    for (const rule of rules) expect(Number(rule[1])).toBeCloseTo(middle, 1);
    expect(svg).toContain(`${BAR_MARK}_marks`);
    expect(svg).toContain('Lumen time / PyTorch time');
  }, 90_000);
});

describe('readResults', () => {
  it('is empty for a missing folder', () => {
    expect(readResults(join(tmpdir(), 'lumen-no-such-results-folder'))).toEqual([]);
  });
});

describe('measuredArgs', () => {
  it("drops --json's path, keeps the rest", () => {
    expect(measuredArgs(['--runs=3', '--json=/tmp/a.json', '--no-torch'])).toEqual(['--runs=3', '--no-torch']);
    expect(measuredArgs(['--json', '/tmp/a.json', '--warmup=0'])).toEqual(['--warmup=0']);
  });
});
