/**
 * Data benchmark: decoded + resized + augmented training examples per second out of
 * @lumen/data's streams, at minSize 600, from VOC-like JPEGs (~500x375, made here with
 * sharp) and from the digits dataset (generated here), next to a torchvision-style input
 * pipeline (PIL, tensor transforms, DataLoader workers) on the same files in the same run.
 *
 *   npx nx run tools:bench-data [--examples=120] [--runs=3] [--warmup=1] [--concurrency=4]
 *       [--prefetch=8] [--no-torch] [--torch-workers=2] [--python=/usr/bin/python3] [--json=PATH]
 *
 * Each run pulls `--examples` examples through trainingExamples/evalExamples (epochs chain
 * when a dataset is smaller) with a consumer that does nothing else, so the figure is what
 * the data pipeline can feed a training step. Rows: evaluation (resize only), training with
 * typical augmentation (flip 0.5, photometric 0.5, crop 0.5), and training with every
 * augmentation every time. Bar (the issue's): >= 60 examples/s on the evaluation and
 * typical-training rows. Progress on stderr, the table on stdout; exits 1 when a bar is missed.
 */
import { evalExamples, generateDigits, openDataset, seededRandom, trainingExamples, type DataConfig, type Dataset, type ExampleIterator } from '@lumen/data';
import { initBackend } from '@lumen/runtime';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const MIN_SIZE = 600;
const MAX_SIZE = 1000;
const IMAGES = 96;
const BAR = 60; // examples per second

type Augment = DataConfig['augment'];
const NONE: Augment = {
  flip: 0,
  scaleJitter: { prob: 0, minSizes: [] },
  photometric: { prob: 0, brightness: 0.125, contrast: 0.5, saturation: 0.5, hue: 0.05 },
  crop: { prob: 0, minScale: 0.5, minBoxVisible: 0.6 },
};
const TYPICAL: Augment = { ...NONE, flip: 0.5, photometric: { ...NONE.photometric, prob: 0.5 }, crop: { ...NONE.crop, prob: 0.5 } };
const EVERY: Augment = { ...NONE, flip: 1, photometric: { ...NONE.photometric, prob: 1 }, crop: { ...NONE.crop, prob: 1 } };

interface Row {
  id: string;
  label: string;
  data: 'voc' | 'digits';
  augment: Augment | null; // null: evalExamples
  bar: boolean;
}
const ROWS: Row[] = [
  { id: 'voc-eval', label: 'VOC-like 500x375 JPEG, eval (resize only)', data: 'voc', augment: null, bar: true },
  { id: 'voc-train', label: 'VOC-like, train: flip .5, photometric .5, crop .5', data: 'voc', augment: TYPICAL, bar: true },
  { id: 'voc-train-all', label: 'VOC-like, train: every augmentation always', data: 'voc', augment: EVERY, bar: false },
  { id: 'digits-eval', label: 'digits 256-400 px JPEG, eval (resize only)', data: 'digits', augment: null, bar: true },
  { id: 'digits-train', label: 'digits, train: flip .5, photometric .5, crop .5', data: 'digits', augment: TYPICAL, bar: true },
  { id: 'digits-train-all', label: 'digits, train: every augmentation always', data: 'digits', augment: EVERY, bar: false },
];

const USAGE = `usage: tsx tools/bench/data.ts [--examples=N] [--runs=N] [--warmup=N] [--concurrency=N] [--prefetch=N]
       [--no-torch] [--torch-workers=N] [--python=PATH] [--json=PATH]`;

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      examples: { type: 'string', default: '120' },
      runs: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '4' },
      prefetch: { type: 'string', default: '8' },
      'no-torch': { type: 'boolean', default: false },
      'torch-workers': { type: 'string', default: '2' },
      python: { type: 'string', default: process.env.LUMEN_TORCH_PYTHON ?? '/usr/bin/python3' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const count = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}=${value}: expected an integer >= ${min}\n${USAGE}`);
    return n;
  };
  return {
    help: values.help,
    examples: count('examples', values.examples, 1),
    runs: count('runs', values.runs, 1),
    warmup: count('warmup', values.warmup, 0),
    concurrency: count('concurrency', values.concurrency, 1),
    prefetch: count('prefetch', values.prefetch, 1),
    torch: !values['no-torch'],
    torchWorkers: count('torch-workers', values['torch-workers'], 0),
    python: values.python,
    json: values.json,
  };
}

/** Photo-like JPEGs: smooth colour fields, edges and grain (JPEG entropy close to real photos'), with boxes. */
async function vocLike(dir: string): Promise<void> {
  for (const sub of ['JPEGImages', 'Annotations', 'ImageSets/Main']) mkdirSync(join(dir, sub), { recursive: true });
  const random = seededRandom(600);
  const ids: string[] = [];
  for (let i = 0; i < IMAGES; i++) {
    const width = 500;
    const height = [375, 333, 375, 281][i % 4];
    const pixels = Buffer.alloc(width * height * 3);
    const blobs = Array.from({ length: 6 }, () => ({ x: random() * width, y: random() * height, r: 30 + random() * 120, c: [random() * 255, random() * 255, random() * 255] }));
    const base = [random() * 255, random() * 255, random() * 255];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        let c = base.map((v, k) => v + 40 * Math.sin((x + y * (k + 1)) / 37));
        for (const b of blobs) if ((x - b.x) ** 2 + (y - b.y) ** 2 < b.r * b.r) c = b.c.map((v, k) => v + 20 * Math.sin(x / 5 + k));
        for (let k = 0; k < 3; k++) pixels[o + k] = Math.max(0, Math.min(255, c[k] + (random() - 0.5) * 40));
      }
    }
    const id = `${String(i).padStart(6, '0')}`;
    ids.push(id);
    await sharp(pixels, { raw: { width, height, channels: 3 } }).blur(0.8).jpeg({ quality: 90 }).toFile(join(dir, 'JPEGImages', `${id}.jpg`));
    const objects = blobs.slice(0, 3).map((b) => {
      const box = [Math.max(1, b.x - b.r), Math.max(1, b.y - b.r), Math.min(width, b.x + b.r), Math.min(height, b.y + b.r)].map(Math.round);
      return `<object><name>blob</name><difficult>0</difficult><bndbox><xmin>${box[0]}</xmin><ymin>${box[1]}</ymin><xmax>${box[2]}</xmax><ymax>${box[3]}</ymax></bndbox></object>`;
    });
    writeFileSync(join(dir, 'Annotations', `${id}.xml`), `<annotation><filename>${id}.jpg</filename><size><width>${width}</width><height>${height}</height><depth>3</depth></size>${objects.join('')}</annotation>\n`);
  }
  writeFileSync(join(dir, 'ImageSets/Main/train.txt'), ids.join('\n') + '\n');
}

function config(type: 'voc' | 'digits', dir: string, augment: Augment, loader: DataConfig['loader']): DataConfig {
  return {
    dataset: { type, dir, splits: { train: 'train', val: 'train', test: 'train' }, digits: { seed: 0, train: IMAGES, val: 0, test: 0 } },
    image: { minSize: MIN_SIZE, maxSize: MAX_SIZE },
    augment,
    loader,
  };
}

/** Wall and process CPU ms (every thread: sharp works on libuv's pool) to pull `count` examples, chaining epochs; the mean output size. */
async function pull(make: (epoch: number) => ExampleIterator, count: number, firstEpoch: number): Promise<{ ms: number; cpuMs: number; pixels: number }> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  let seen = 0;
  let pixels = 0;
  for (let epoch = firstEpoch; seen < count; epoch++) {
    const iterator = make(epoch);
    for await (const example of iterator) {
      seen++;
      pixels += example.width * example.height;
      if (seen === count) break;
    }
    iterator.close();
  }
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000, pixels: pixels / count };
}

interface TorchResult {
  torch: string;
  torchvision: string;
  workers: number;
  rows: Record<string, { msPerExample: number; examplesPerSecond: number; samples: number[] }>;
}

function torchMissing(python: string): string | null {
  const probe = spawnSync(python, ['-c', 'import torch, torchvision, PIL'], { encoding: 'utf8' });
  if (probe.error != null) return `${python}: ${probe.error.message}`;
  if (probe.status !== 0) return `${python} cannot import torchvision/PIL: ${probe.stderr.trim().split('\n').pop() ?? ''}`;
  return null;
}

function runTorch(python: string, rowsFile: string, opts: ReturnType<typeof options>): Promise<TorchResult> {
  const script = join(__dirname, 'data_torch.py');
  const args = [script, `--rows=${rowsFile}`, `--examples=${opts.examples}`, `--warmup=${opts.warmup}`, `--runs=${opts.runs}`, `--workers=${opts.torchWorkers}`];
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`${python} ${script} exited with ${signal ?? `code ${code}`}`));
      try {
        resolve(JSON.parse(stdout) as TorchResult);
      } catch (e) {
        reject(new Error(`data_torch.py printed no JSON result: ${(e as Error).message}`));
      }
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const backend = await initBackend();
  const loader = { concurrency: opts.concurrency, prefetch: opts.prefetch, shuffle: true };
  const work = mkdtempSync(join(tmpdir(), 'lumen-bench-data-'));
  try {
    console.error(`[lumen] making ${IMAGES} VOC-like JPEGs and ${IMAGES} digits images in ${work}`);
    const vocDir = join(work, 'voc');
    const digitsDir = join(work, 'digits');
    await vocLike(vocDir);
    await generateDigits(digitsDir, { seed: 0, train: IMAGES, val: 0, test: 0 });
    const datasets: Record<'voc' | 'digits', Dataset> = {
      voc: await openDataset(config('voc', vocDir, NONE, loader), 'train'),
      digits: await openDataset(config('digits', digitsDir, NONE, loader), 'train'),
    };

    const lumen: Record<string, { ms: number; cpuMs: number; samples: number[]; pixels: number }> = {};
    for (const row of ROWS) {
      const dataset = datasets[row.data];
      const cfg = config(row.data, dataset.dir, row.augment ?? NONE, loader);
      const make = (epoch: number) => (row.augment == null ? evalExamples(dataset, cfg) : trainingExamples(dataset, cfg, { seed: 1, epoch }));
      for (let i = 0; i < opts.warmup; i++) await pull(make, opts.examples, 1000 + i);
      const samples: number[] = [];
      const cpu: number[] = [];
      let pixels = 0;
      for (let i = 0; i < opts.runs; i++) {
        const run = await pull(make, opts.examples, 10 * i);
        samples.push(run.ms);
        cpu.push(run.cpuMs);
        pixels = run.pixels;
      }
      lumen[row.id] = { ms: median(samples) / opts.examples, cpuMs: median(cpu) / opts.examples, samples, pixels };
      console.error(
        `[lumen] ${row.id}: ${(1000 / lumen[row.id].ms).toFixed(1)} examples/s, ${lumen[row.id].cpuMs.toFixed(1)} CPU ms/example (mean output ${Math.round(pixels / 1000)} kpx)`,
      );
    }
    for (const d of Object.values(datasets)) {
      const report = d.report();
      if (report.examples !== IMAGES) throw new Error(`${d.type}: ${IMAGES - report.examples} images unusable: ${JSON.stringify(report.skippedExamples)}`);
    }

    let torch: TorchResult | null = null;
    const missing = opts.torch ? torchMissing(opts.python) : '--no-torch';
    if (missing != null) {
      console.error(`[torch] PyTorch peer skipped, no ratio column: ${missing}`);
    } else {
      const rowsFile = join(work, 'rows.json');
      const images = async (d: Dataset) => {
        const out = [];
        for await (const e of d.examples()) out.push({ path: e.imagePath, boxes: Array.from(e.boxes) });
        return out;
      };
      const imageLists = { voc: await images(datasets.voc), digits: await images(datasets.digits) };
      writeFileSync(
        rowsFile,
        JSON.stringify(ROWS.map((row) => ({ id: row.id, minSize: MIN_SIZE, maxSize: MAX_SIZE, augment: row.augment ?? NONE, images: imageLists[row.data] }))),
      );
      torch = await runTorch(opts.python, rowsFile, opts);
    }

    const header = ['row', 'Lumen ex/s', 'Lumen ms/ex', 'Lumen CPU ms/ex', 'PyTorch ex/s', 'PyTorch ms/ex', 'Lumen/PyTorch ms', `bar >= ${BAR} ex/s`];
    const failures: string[] = [];
    const lines = ROWS.map((row) => {
      const mine = lumen[row.id].ms;
      const theirs = torch?.rows[row.id]?.msPerExample;
      const rate = 1000 / mine;
      const met = rate >= BAR;
      if (row.bar && !met) failures.push(`${row.label}: ${rate.toFixed(1)} examples/s < ${BAR}`);
      return [
        row.label,
        rate.toFixed(1),
        mine.toFixed(1),
        lumen[row.id].cpuMs.toFixed(1),
        theirs != null ? (1000 / theirs).toFixed(1) : '-',
        theirs != null ? theirs.toFixed(1) : '-',
        theirs != null ? `${(mine / theirs).toFixed(2)}x` : '-',
        row.bar ? (met ? 'met' : 'MISSED') : '(info)',
      ];
    });
    const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
    const fmt = (cells: string[]) => `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
    const rule = `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
    const threads = process.env.UV_THREADPOOL_SIZE ?? '4';
    console.log(
      `Lumen: sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), libuv pool ${threads} threads, loader concurrency ${opts.concurrency}, prefetch ${opts.prefetch}; ` +
        `tfjs backend ${backend.name} (idle); ${availableParallelism()} cores`,
    );
    if (torch != null) console.log(`PyTorch: torch ${torch.torch}, torchvision ${torch.torchvision}, DataLoader ${torch.workers} worker process(es), PIL decode, tensor transforms`);
    console.log(
      `${opts.examples} examples per run, median of ${opts.runs} runs after ${opts.warmup} warm-up; minSize ${MIN_SIZE}, maxSize ${MAX_SIZE}; ` +
        `CPU ms = process CPU time (all threads) per example; load average at the end ${loadavg().map((v) => v.toFixed(1)).join(' ')}\n`,
    );
    console.log([fmt(header), rule, ...lines.map(fmt)].join('\n'));
    if (opts.json != null) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), options: opts, lumen, torch }, null, 2));
    for (const failure of failures) console.log(`BAR MISSED ${failure}`);
    return failures.length > 0 ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
