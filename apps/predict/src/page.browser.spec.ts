/// <reference lib="dom" />
// The page in a real headless browser: Debian's chromium driven by playwright-core. Upload an
// image, boxes appear on the canvas, the slider hides low-probability boxes; a screenshot goes
// to apps/predict/tmp/ (its path is printed). Skipped, saying so, where /usr/bin/chromium is
// missing (.ci/run installs it).
import { loadDetector, type LoadedDetector } from '@lumen/detector';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { PredictedObject } from './objects';
import { createServer, type LumenServer } from './server';
import { makeTinyCheckpoint, testImage, TINY_CLASSES } from './testing/tiny-checkpoint';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT_DIR = resolve(__dirname, '../tmp');
const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  console.warn(`SKIPPED the page's browser test: ${CHROMIUM} does not exist (install Debian's chromium: apt-get install -y chromium)`);
}

(haveChromium ? describe : describe.skip)('the page in headless chromium', () => {
  let dir: string;
  let detector: LoadedDetector;
  let server: LumenServer;
  let browser: Browser;
  let page: Page;
  let imagePath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-page-'));
    await makeTinyCheckpoint(join(dir, 'checkpoint'));
    detector = loadDetector(join(dir, 'checkpoint'));
    imagePath = join(dir, 'street.png');
    writeFileSync(imagePath, await testImage(480, 360, 'png', 21));
    server = await createServer({ predictor: detector });
    const base = await server.listen({ port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    await page.goto(base);
  }, 60000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    detector?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Pixels of the canvas that differ from the bare image drawn the same way. */
  const changedPixels = () =>
    page.evaluate(() => {
      const canvas = document.getElementById('view') as HTMLCanvasElement;
      const state = (window as unknown as { lumen: { image: HTMLImageElement } }).lumen;
      const bare = document.createElement('canvas');
      bare.width = canvas.width;
      bare.height = canvas.height;
      const bareCtx = bare.getContext('2d') as CanvasRenderingContext2D;
      bareCtx.drawImage(state.image, 0, 0);
      const a = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height).data;
      const b = bareCtx.getImageData(0, 0, canvas.width, canvas.height).data;
      let changed = 0;
      for (let i = 0; i < a.length; i += 4) if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) changed++;
      return changed;
    });
  const visible = () => page.evaluate(() => Number((document.getElementById('view') as HTMLCanvasElement).dataset.visible));

  it('uploads an image, draws its boxes, and the slider hides low-probability boxes', async () => {
    await page.waitForFunction(() => (document.getElementById('classes')?.textContent ?? '').includes('classes'));
    expect(await page.textContent('#classes')).toBe(`3 classes: ${TINY_CLASSES.join(', ')}`);

    await page.setInputFiles('#file', imagePath);
    await page.waitForFunction(() => Number((document.getElementById('view') as HTMLCanvasElement).dataset.total) > 0, undefined, { timeout: 20000 });
    const objects = await page.evaluate(() => (window as unknown as { lumen: { objects: PredictedObject[] } }).lumen.objects);
    const probs = objects.map((o) => o.prob);
    expect(await page.evaluate(() => [(document.getElementById('view') as HTMLCanvasElement).width, (document.getElementById('view') as HTMLCanvasElement).height])).toEqual([480, 360]);

    // Default slider 0.5.
    const atDefault = probs.filter((p) => p >= 0.5).length;
    expect(await visible()).toBe(atDefault);
    await page.locator('#threshold').fill('0');
    expect(await visible()).toBe(objects.length);
    const allDrawn = await changedPixels();
    expect(allDrawn).toBeGreaterThan(1000);
    expect(await page.locator('#objects li').count()).toBe(objects.length);

    // A threshold that keeps some boxes and hides others.
    const sorted = [...probs].sort((a, b) => b - a);
    const cut = Math.ceil(sorted[Math.floor(sorted.length / 3)] * 100) / 100;
    const kept = probs.filter((p) => p >= cut).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(objects.length);
    await page.locator('#threshold').fill(String(cut));
    expect(await visible()).toBe(kept);
    expect(await page.textContent('#threshold-value')).toBe(cut.toFixed(2));
    expect(await page.textContent('#status')).toBe(`${kept} of ${objects.length} objects shown (probability ≥ ${cut.toFixed(2)})`);
    const fewerDrawn = await changedPixels();
    expect(fewerDrawn).toBeGreaterThan(0);
    expect(fewerDrawn).toBeLessThan(allDrawn);

    await page.locator('#threshold').fill('1');
    expect(await visible()).toBe(probs.filter((p) => p >= 1).length);
    await page.locator('#threshold').fill(String(cut));

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const screenshot = join(SCREENSHOT_DIR, 'predict-page.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`screenshot of the page: ${screenshot}`);
  }, 60000);

  it('shows an error for a file that is not an image', async () => {
    const bad = join(dir, 'notes.png');
    writeFileSync(bad, 'not an image at all');
    await page.setInputFiles('#file', bad);
    await page.waitForFunction(() => document.getElementById('status')?.className === 'error', undefined, { timeout: 20000 });
    expect(await page.textContent('#status')).toMatch(/^not an image/);
  }, 30000);
});
