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
 * augmentation every time (flip, photometric, crop, rotate, grayscale, channel shuffle,
 * invert, blur, pattern, noise, JPEG; not scale jitter, which changes the size only). Bar (the
 * issue's): >= 60 examples/s on the evaluation and typical-training rows. Progress on
 * stderr, the table on stdout; exits 1 when a bar is missed.
 */
import { seededRandom } from '@lumen/core';
import { evalExamples, generateDigits, openDataset, trainingExamples, type DataConfig, type Dataset, type ExampleIterator } from '@lumen/data';
import { initBackend } from '@lumen/runtime';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseOptions } from '../kit/options';
import { peerRatio, ratios, type BenchOutcome } from '../kit/results';
import { runBench } from '../kit/run';
import { median, sampleRuns } from '../kit/stats';
import { markdownTable, type Column } from '../kit/table';
import { peerUnavailable, runPeer } from '../kit/torch-peer';

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
  rotate: { prob: 0, degrees: 10, minBoxVisible: 0.5 },
  grayscale: { prob: 0 },
  channelShuffle: { prob: 0 },
  invert: { prob: 0 },
  blur: { prob: 0, sigma: [0.3, 1.5] },
  noise: { prob: 0, sigma: [3, 10] },
  jpeg: { prob: 0, quality: [40, 95] },
  pattern: { prob: 0, period: [4, 40], alpha: [0.2, 0.6] },
};
const TYPICAL: Augment = { ...NONE, flip: 0.5, photometric: { ...NONE.photometric, prob: 0.5 }, crop: { ...NONE.crop, prob: 0.5 } };
const always = <T extends { prob: number }>(key: T | undefined) => ({ ...(key as T), prob: 1 });
const EVERY: Augment = {
  flip: 1,
  scaleJitter: NONE.scaleJitter, // it changes the size only: the rows keep minSize 600
  photometric: always(NONE.photometric),
  crop: always(NONE.crop),
  rotate: always(NONE.rotate),
  grayscale: always(NONE.grayscale),
  channelShuffle: always(NONE.channelShuffle),
  invert: always(NONE.invert),
  blur: always(NONE.blur),
  noise: always(NONE.noise),
  jpeg: always(NONE.jpeg),
  pattern: always(NONE.pattern),
};

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

const USAGE = `usage: tsx tools/bench/data/main.ts [--examples=N] [--runs=N] [--warmup=N] [--concurrency=N] [--prefetch=N]
       [--no-torch] [--torch-workers=N] [--python=PATH] [--json=PATH]`;

function readOptions(argv: string[]) {
  const o = parseOptions(argv, {
    usage: USAGE,
    runs: 3,
    warmup: 1,
    counts: {
      examples: { default: 120, min: 1 },
      concurrency: { default: 4, min: 1 },
      prefetch: { default: 8, min: 1 },
      // DataLoader worker processes; 0 loads in the peer's own process.
      'torch-workers': { default: 2, min: 0 },
    },
  });
  if (o == null) return null;
  const { counts, strings: _strings, switches: _switches, ...common } = o;
  return { ...common, examples: counts.examples, concurrency: counts.concurrency, prefetch: counts.prefetch, torchWorkers: counts['torch-workers'] };
}

type Options = NonNullable<ReturnType<typeof readOptions>>;

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

/** Process CPU ms (every thread: sharp works on libuv's pool) to pull `count` examples, chaining epochs; the mean output size. */
async function pull(make: (epoch: number) => ExampleIterator, count: number, firstEpoch: number): Promise<{ cpuMs: number; pixels: number }> {
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
  return { cpuMs: (used.user + used.system) / 1000, pixels: pixels / count };
}

interface LumenRow {
  /** Median wall and CPU ms per example. */
  ms: number;
  cpuMs: number;
  samples: number[];
  pixels: number;
}

/** Pulls `--examples` examples `--warmup` + `--runs` times; warm-up runs start from epochs of their own. */
async function measure(row: Row, dataset: Dataset, loader: DataConfig['loader'], opts: Options): Promise<LumenRow> {
  const cfg = config(row.data, dataset.dir, row.augment ?? NONE, loader);
  const make = (epoch: number) => (row.augment == null ? evalExamples(dataset, cfg) : trainingExamples(dataset, cfg, { seed: 1, epoch }));
  const cpu: number[] = [];
  let pixels = 0;
  const samples = await sampleRuns(async (i) => {
    const timed = i >= opts.warmup;
    const run = await pull(make, opts.examples, timed ? 10 * (i - opts.warmup) : 1000 + i);
    if (timed) {
      cpu.push(run.cpuMs);
      pixels = run.pixels;
    }
  }, opts);
  return { ms: median(samples) / opts.examples, cpuMs: median(cpu) / opts.examples, samples, pixels };
}

interface TorchResult {
  torch: string;
  torchvision: string;
  workers: number;
  rows: Record<string, { msPerExample: number; examplesPerSecond: number; samples: number[] }>;
}

/** The peer reads the same files: each row's image paths and boxes, and its augmentation. */
async function runTorch(work: string, datasets: Record<'voc' | 'digits', Dataset>, opts: Options): Promise<TorchResult> {
  const images = async (d: Dataset) => {
    const out = [];
    for await (const e of d.examples()) out.push({ path: e.imagePath, boxes: Array.from(e.boxes) });
    return out;
  };
  const imageLists = { voc: await images(datasets.voc), digits: await images(datasets.digits) };
  const rowsFile = join(work, 'rows.json');
  writeFileSync(
    rowsFile,
    JSON.stringify(ROWS.map((row) => ({ id: row.id, minSize: MIN_SIZE, maxSize: MAX_SIZE, augment: row.augment ?? NONE, images: imageLists[row.data] }))),
  );
  const args = [`--rows=${rowsFile}`, `--examples=${opts.examples}`, `--warmup=${opts.warmup}`, `--runs=${opts.runs}`, `--workers=${opts.torchWorkers}`];
  return runPeer<TorchResult>(opts.python, join(__dirname, 'data_torch.py'), args);
}

interface TableRow {
  row: Row;
  lumen: LumenRow;
  /** The peer's ms per example, when it ran. */
  torchMs: number | undefined;
}

const rate = (ms: number) => 1000 / ms;

const COLUMNS: Column<TableRow>[] = [
  { title: 'row', cell: (r) => r.row.label },
  { title: 'Lumen ex/s', cell: (r) => rate(r.lumen.ms).toFixed(1) },
  { title: 'Lumen ms/ex', cell: (r) => r.lumen.ms.toFixed(1) },
  { title: 'Lumen CPU ms/ex', cell: (r) => r.lumen.cpuMs.toFixed(1) },
  { title: 'PyTorch ex/s', cell: (r) => (r.torchMs != null ? rate(r.torchMs).toFixed(1) : '-') },
  { title: 'PyTorch ms/ex', cell: (r) => (r.torchMs != null ? r.torchMs.toFixed(1) : '-') },
  { title: 'Lumen/PyTorch ms', cell: (r) => (r.torchMs != null ? `${(r.lumen.ms / r.torchMs).toFixed(2)}x` : '-') },
  { title: `bar >= ${BAR} ex/s`, cell: (r) => (r.row.bar ? (rate(r.lumen.ms) >= BAR ? 'met' : 'MISSED') : '(info)') },
];

async function main(): Promise<number | BenchOutcome> {
  const opts = readOptions(process.argv.slice(2));
  if (opts == null) return 0;
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

    const lumen: Record<string, LumenRow> = {};
    for (const row of ROWS) {
      const result = await measure(row, datasets[row.data], loader, opts);
      lumen[row.id] = result;
      console.error(
        `[lumen] ${row.id}: ${rate(result.ms).toFixed(1)} examples/s, ${result.cpuMs.toFixed(1)} CPU ms/example (mean output ${Math.round(result.pixels / 1000)} kpx)`,
      );
    }
    for (const d of Object.values(datasets)) {
      const report = d.report();
      if (report.examples !== IMAGES) throw new Error(`${d.type}: ${IMAGES - report.examples} images unusable: ${JSON.stringify(report.skippedExamples)}`);
    }

    const torch = peerUnavailable(opts, ['PIL']) == null ? await runTorch(work, datasets, opts) : null;

    const rows = ROWS.map((row) => ({ row, lumen: lumen[row.id], torchMs: torch?.rows[row.id]?.msPerExample }));
    const failures = rows
      .filter((r) => r.row.bar && rate(r.lumen.ms) < BAR)
      .map((r) => `${r.row.label}: ${rate(r.lumen.ms).toFixed(1)} examples/s < ${BAR}`);
    const threads = process.env.UV_THREADPOOL_SIZE ?? '4';
    const header = [
      `Lumen: sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), libuv pool ${threads} threads, loader concurrency ${opts.concurrency}, prefetch ${opts.prefetch}; ` +
        `tfjs backend ${backend.name} (idle); ${availableParallelism()} cores`,
      ...(torch != null ? [`PyTorch: torch ${torch.torch}, torchvision ${torch.torchvision}, DataLoader ${torch.workers} worker process(es), PIL decode, tensor transforms`] : []),
      `${opts.examples} examples per run, median of ${opts.runs} runs after ${opts.warmup} warm-up; minSize ${MIN_SIZE}, maxSize ${MAX_SIZE}; ` +
        `CPU ms = process CPU time (all threads) per example; load average at the end ${loadavg().map((v) => v.toFixed(1)).join(' ')}`,
    ];
    const printed = markdownTable(COLUMNS, rows);
    console.log(`${header.join('\n')}\n`);
    console.log(printed);
    const footer = failures.map((failure) => `BAR MISSED ${failure}`);
    for (const line of footer) console.log(line);
    return {
      code: failures.length > 0 ? 1 : 0,
      json: { date: new Date().toISOString(), options: opts, lumen, torch },
      jsonPath: opts.json,
      header,
      table: printed,
      footer,
      // Time per example, both sides: < 1 when Lumen's pipeline delivers more examples per second.
      ratios: ratios(rows.map((r) => peerRatio(r.row.label, r.lumen.ms, r.torchMs))),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

runBench('data', main);
