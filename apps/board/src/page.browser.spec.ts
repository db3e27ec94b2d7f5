/// <reference lib="dom" />
// The board's page in a real headless browser: Debian's chromium driven by playwright-core,
// over jobs `lumen train` wrote. A chart per quantity with a series per job, drawn; unticking a
// job hides it; lines appended to a metrics.jsonl and a new job show up while the page is
// open. Screenshots go to apps/board/tmp/ (their paths are printed). Skipped, saying so, where
// /usr/bin/chromium is missing (.ci/run installs it).
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createBoardServer, type BoardServer } from './server';
import { copyJobs, TINY_STEPS } from './testing/tiny-jobs';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT_DIR = resolve(__dirname, '../tmp');
const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  console.warn(`SKIPPED the board's browser test: ${CHROMIUM} does not exist (install Debian's chromium: apt-get install -y chromium)`);
}

/** What the page's uPlot charts hold (window.board, see page.ts). */
interface ChartLike {
  series: Array<{ label?: string; show?: boolean }>;
  data: number[][];
  ctx: CanvasRenderingContext2D;
}
interface BoardState {
  jobs: string[];
  colors: Record<string, string>;
  charts: Record<string, ChartLike>;
  updates: number;
}
declare const window: Window & { board: BoardState };

const trainLine = (step: number, loss: number) =>
  JSON.stringify({ time: new Date().toISOString(), type: 'train', step, epoch: 2, loss_objectness: loss / 4, loss_rpn_box_reg: loss / 8, loss_classifier: loss / 2, loss_box_reg: loss / 8, loss, lr: 0.002, gradNorm: 1, stepsPerSecond: 5, imagesPerSecond: 10, minutes: step / 60 }) + '\n';

(haveChromium ? describe : describe.skip)('the board in headless chromium', () => {
  let root: string;
  let jobs: string;
  let server: BoardServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lumen-board-page-'));
    jobs = join(root, 'jobs');
    copyJobs(jobs);
    server = await createBoardServer({ jobsDir: jobs, refreshMs: 200 });
    const base = await server.listen({ port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(base);
  }, 60000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** Chart key -> [series labels (after the x axis), points on the x axis]. */
  const charts = () =>
    page.evaluate(() => Object.fromEntries(Object.entries(window.board.charts).map(([key, chart]) => [key, [chart.series.slice(1).map((s) => s.label), chart.data[0].length]])));

  /** Pixels of a chart's canvas in each job's colour (antialiasing allowed for). */
  const pixelsByJob = (key: string) =>
    page.evaluate((chartKey) => {
      const { charts: all, colors } = window.board;
      const canvas = all[chartKey].ctx.canvas;
      const data = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height).data;
      const counts: Record<string, number> = {};
      for (const [name, hex] of Object.entries(colors)) {
        const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 200 && Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 40) n++;
        counts[name] = n;
      }
      return counts;
    }, key);

  const screenshot = async (name: string) => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const path = join(SCREENSHOT_DIR, name);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot of the board: ${path}`);
  };

  it('draws a chart per quantity with one series per job', async () => {
    await page.waitForFunction(() => window.board?.jobs.length === 2 && Object.keys(window.board.charts).length > 0, undefined, { timeout: 20000 });
    const names = ['digits-lr1', 'digits-lr3'];
    const firstRecord = JSON.parse(readFileSync(join(jobs, 'digits-lr3', 'metrics.jsonl'), 'utf8').split('\n')[0]) as Record<string, unknown>;
    const terms = Object.keys(firstRecord).filter((key) => key.startsWith('loss_'));
    expect(terms.length).toBeGreaterThanOrEqual(4);
    const drawn = await charts();
    expect(Object.keys(drawn)).toEqual(['loss', ...terms, 'lr', 'mAP', 'gradNorm', 'imagesPerSecond']);
    for (const [labels] of Object.values(drawn)) expect(labels).toEqual(names);
    // Steps 1..6 (logEvery 1 and 2 joined); evaluations at 2, 4, 6.
    expect(drawn.loss[1]).toBe(TINY_STEPS);
    expect(drawn.mAP[1]).toBe(3);
    for (const key of ['loss', 'lr', ...terms]) {
      const pixels = await pixelsByJob(key);
      for (const name of names) expect([key, name, pixels[name] > 30]).toEqual([key, name, true]);
    }
    expect(await page.locator('#jobs tbody tr').count()).toBe(2);
    expect(await page.locator('#jobs tbody tr').first().textContent()).toMatch(/^digits-lr16/);
    expect(await page.locator('section.chart').count()).toBe(Object.keys(drawn).length);
    await screenshot('board-page.png');
  }, 60000);

  it("unticking a job hides its series in every chart; ticking shows it again", async () => {
    const box = page.locator('input[data-job="digits-lr1"]');
    await box.uncheck();
    const shown = () => page.evaluate(() => Object.values(window.board.charts).map((chart) => chart.series.slice(1).map((s) => s.show)));
    expect(new Set((await shown()).map((flags) => flags.join()))).toEqual(new Set(['false,true']));
    expect((await pixelsByJob('loss'))['digits-lr1']).toBeLessThan(5);
    expect((await pixelsByJob('loss'))['digits-lr3']).toBeGreaterThan(30);
    await box.check();
    expect(new Set((await shown()).map((flags) => flags.join()))).toEqual(new Set(['true,true']));
    expect((await pixelsByJob('loss'))['digits-lr1']).toBeGreaterThan(30);
  }, 30000);

  it('lines appended to metrics.jsonl and a new job show up while the page is open', async () => {
    const lr3 = join(jobs, 'digits-lr3', 'metrics.jsonl');
    appendFileSync(lr3, trainLine(7, 3) + trainLine(8, 2.5) + trainLine(9, 2).slice(0, 25));
    mkdirSync(join(jobs, 'digits-live'));
    writeFileSync(join(jobs, 'digits-live', 'metrics.jsonl'), [1, 2, 3, 4].map((step) => trainLine(step, 6 - step)).join(''));
    await page.waitForFunction(() => window.board.jobs.length === 3 && window.board.charts.loss?.data[0].at(-1) === 8, undefined, { timeout: 20000 });
    let drawn = await charts();
    for (const [labels] of Object.values(drawn)) expect(labels).toEqual(['digits-live', 'digits-lr1', 'digits-lr3']);
    expect(drawn.loss[1]).toBe(8);
    expect((await pixelsByJob('loss'))['digits-live']).toBeGreaterThan(30);
    expect(await page.locator('#jobs tbody tr').count()).toBe(3);

    // The half-written line counts once its newline comes.
    appendFileSync(lr3, trainLine(9, 2).slice(25));
    await page.waitForFunction(() => window.board.charts.loss.data[0].at(-1) === 9, undefined, { timeout: 20000 });
    drawn = await charts();
    expect(drawn.loss[1]).toBe(9);
    await screenshot('board-page-live.png');
  }, 60000);
});
