/**
 * Training-step and inference benchmark of the whole detector, next to torchvision's
 * FasterRCNN built to the same design in the same run (train_torch.py).
 *
 *   npx nx run tools:bench-train [--design=c4|fpn] [--batch=N] [--runs=3] [--warmup=1] [--freeze-at=2] [--no-torch] [--torch-threads=2] [--json=PATH]
 *
 * --design=fpn (kept as bench `train-fpn`): torchvision's fasterrcnn_resnet50_fpn (issue 20),
 * --batch images (default 2) of 800x1333 per training step, one per inference, on the native
 * backend unless LUMEN_BACKEND says otherwise (the wasm heap cannot hold it); bars 0.6x.
 * Both sides report their process's peak resident set.
 *
 * Design (issue 8): ResNet-50 body to layer3 with frozen BN, RPN with anchors 64/128/256/512 x
 * 0.5/1/2, RoIAlign 7x7 sampling 2, the `mlp` head (1024), 21 classes; random weights; one
 * 600x800 image with three boxes; SGD. --freeze-at=2 (default) freezes the stem and layer1
 * as torchvision's detectors do, 1 the stem only, 0 nothing (every backbone layer trained).
 * Rows: seconds per training step and per inference. Bars: training at most 1.5x
 * torchvision's with the stem and layer1 frozen (issue 8), 0.4x with every layer trained
 * (issue 20); inference at most 0.5x (issue 20). Exits 1 when a bar is missed.
 */
import { loadConfig, type Config } from '@lumen/config';
import { seededRandom } from '@lumen/core';
import { architectureConfig, batchImages, buildDetector, createOptimizer, detectBatch, initDetector, trainStep, type TrainingExample } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { join, resolve } from 'node:path';
import { parseOptions, TORCH_THREADS, UsageError } from '../kit/options';
import { peerRatio, ratios, type BenchOutcome } from '../kit/results';
import { runBench } from '../kit/run';
import { median, sampleRuns, type RunCounts } from '../kit/stats';
import { barCell, formatRatio, markdownTable } from '../kit/table';
import { peerUnavailable, runPeer } from '../kit/torch-peer';

/** The training step's bar by --freeze-at: issue 20's with every layer trained, else issue 8's. */
const trainBar = (freezeAt: number) => (freezeAt === 0 ? 0.4 : 1.5);
const INFERENCE_BAR = 0.5;
/** What --freeze-at leaves untrained, as the row says it. */
const FROZEN = ['every layer trained', 'stem frozen', 'stem + layer1 frozen'];

const USAGE =
  'usage: tsx tools/bench/train/main.ts [--design=c4|fpn] [--batch=N] [--runs=N] [--warmup=N] [--freeze-at=0|1|2] [--no-torch] [--torch-threads=N] [--python=PATH] [--json=PATH]';

const DESIGNS = ['c4', 'fpn'] as const;
type Design = (typeof DESIGNS)[number];
/** fasterrcnn_resnet50_fpn's bars (issue 20): training step and inference at most 0.6x torchvision's. */
const FPN_BAR = 0.6;

function readOptions(argv: string[]) {
  const o = parseOptions(argv, {
    usage: USAGE, runs: 3, warmup: 1, strings: ['design'],
    counts: { 'torch-threads': TORCH_THREADS, 'freeze-at': { default: 2, min: 0 }, batch: { default: 0, min: 0 } },
  });
  if (o == null) return null;
  if (o.counts['freeze-at'] > 2) throw new UsageError(`--freeze-at=${o.counts['freeze-at']}: expected 0, 1 or 2\n${USAGE}`);
  const design = (o.strings.design ?? 'c4') as Design;
  if (!DESIGNS.includes(design)) throw new UsageError(`--design=${design}: expected c4 or fpn\n${USAGE}`);
  const batch = o.counts.batch || (design === 'fpn' ? 2 : 1);
  return { ...o, threads: o.counts['torch-threads'], freezeAt: o.counts['freeze-at'], design, batch };
}

type Options = NonNullable<ReturnType<typeof readOptions>>;

/** The detector's config, image size and classes for a design. */
function designOf(opts: Options): { config: Config; width: number; height: number; classes: number; label: string } {
  const common = [`model.backbone.freezeAt=${opts.freezeAt}`, 'train.optimizer.type=sgd', 'train.optimizer.lr=0.001', `train.batchSize=${opts.batch}`];
  if (opts.design === 'fpn') {
    const config = architectureConfig('fasterrcnn_resnet50_fpn', ['model.backbone.weights=null', ...common]);
    return { config, width: 1333, height: 800, classes: 90, label: `resnet50-FPN (${FROZEN[opts.freezeAt]})` };
  }
  const { config } = loadConfig(resolve(__dirname, '../../../configs/voc.yaml'), {
    overrides: [
      'model.backbone.weights=null',
      'model.rcnn.head=mlp',
      'model.roiPool.size=7',
      'model.anchors.sizes=[64,128,256,512]',
      'model.anchors.ratios=[0.5,1,2]',
      ...common,
    ],
  });
  return { config, width: 800, height: 600, classes: 20, label: `resnet50-C4 body (${FROZEN[opts.freezeAt]}) + RPN + RoIAlign 7x7 + mlp` };
}

const gib = (bytes: number | undefined) => (bytes != null ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : '-');

interface TorchResult {
  torch: string;
  torchvision: string;
  threads: number;
  /** ms of each timed training step and inference. */
  train: number[];
  inference: number[];
  peakRssBytes?: number;
}

/** Timed runs of `fn` (ms), each logged in seconds: a training step takes a while. */
function time(label: string, fn: () => unknown, counts: RunCounts): Promise<number[]> {
  return sampleRuns(fn, counts, (i, ms) => console.error(`[lumen] ${label} ${i < counts.warmup ? 'warm-up' : 'run'} ${(ms / 1000).toFixed(2)} s`));
}

interface Row {
  label: string;
  /** Median ms. */
  lumen: number;
  torch: number | null;
  bar: number | undefined;
}

const ratioOf = (row: Row) => (row.torch != null ? row.lumen / row.torch : null);
const seconds = (ms: number | null) => (ms != null ? (ms / 1000).toFixed(2) : '-');

function table(rows: Row[]): string {
  return markdownTable(
    [
      { title: 'row', cell: (r) => r.label },
      { title: 'Lumen s', cell: (r) => seconds(r.lumen) },
      { title: 'torchvision s', cell: (r) => seconds(r.torch) },
      { title: 'Lumen/torchvision', cell: (r) => formatRatio(r.lumen, r.torch, 2, '-') },
      {
        title: 'bar',
        align: 'left',
        cell: (r) => {
          const ratio = ratioOf(r);
          return r.bar === undefined ? '' : barCell(`<= ${r.bar}`, ratio === null ? null : ratio <= r.bar);
        },
      },
    ],
    rows,
  );
}

async function main(opts: Options): Promise<number | BenchOutcome> {
  const backend = await initBackend(opts.design === 'fpn' ? { backend: 'native' } : {});
  const { config, width, height, classes, label } = designOf(opts);
  const detector = buildDetector(config, Array.from({ length: classes }, (_, i) => `class${i + 1}`));
  const params = initDetector(detector, seededRandom(0));
  const optimizer = createOptimizer(config.train.optimizer, params);
  const random = seededRandom(1);
  const third = opts.design === 'fpn' ? [900, 350, 1200, 780] : [400, 350, 520, 580];
  const examples: TrainingExample[] = Array.from({ length: opts.batch }, () => ({
    pixels: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256)),
    width,
    height,
    boxes: new Float32Array([50, 60, 250, 300, 300, 100, 700, 500, ...third]),
    labels: new Int32Array([3, 7, 12]),
  }));
  const before = tf.memory().numTensors;
  const lumenTrain = await time('training step', () => trainStep(detector, params, optimizer, examples, config), opts);
  const lumenInfer = await time(
    'inference',
    async () => {
      const batch = batchImages(examples.slice(0, 1), config.model.transform);
      await detectBatch(detector, params, batch, [{ originalWidth: width, originalHeight: height }]);
      batch.images.dispose();
    },
    opts,
  );
  const leaked = tf.memory().numTensors - before;
  const lumenPeakRss = process.resourceUsage().maxRSS * 1024;

  const args = [`--warmup=${opts.warmup}`, `--runs=${opts.runs}`, `--threads=${opts.threads}`, `--freeze-at=${opts.freezeAt}`, `--design=${opts.design}`, `--batch=${opts.batch}`];
  const torch = peerUnavailable(opts) == null ? await runPeer<TorchResult>(opts.python, join(__dirname, 'train_torch.py'), args) : null;
  const size = `${height}x${width}`;
  const images = opts.batch === 1 ? '1 image' : `${opts.batch} images`;
  const rows: Row[] = [
    {
      label: `training step, ${images} ${size}, ${label}`,
      lumen: median(lumenTrain),
      torch: torch ? median(torch.train) : null,
      bar: opts.design === 'fpn' ? FPN_BAR : trainBar(opts.freezeAt),
    },
    { label: `inference, ${size}`, lumen: median(lumenInfer), torch: torch ? median(torch.inference) : null, bar: opts.design === 'fpn' ? FPN_BAR : INFERENCE_BAR },
  ];
  const header = [
    `backend ${backend.name} (${backend.detail}); ${torch ? `torch ${torch.torch}, ${opts.threads} threads` : 'no torch'}; medians of ${opts.runs}`,
    `peak resident set of the whole run: Lumen ${gib(lumenPeakRss)}, torchvision ${gib(torch?.peakRssBytes)}`,
  ];
  const printed = table(rows);
  console.log(`${header.join('\n')}\n`);
  console.log(printed);
  const missed = rows.some((row) => {
    const ratio = ratioOf(row);
    return row.bar !== undefined && ratio !== null && ratio > row.bar;
  });
  const footer = leaked !== 0 ? [`leaked ${leaked} tensors`] : [];
  if (leaked !== 0) console.log(`\n${footer[0]}`);
  return {
    code: missed || leaked !== 0 ? 1 : 0,
    json: { rows, lumenTrain, lumenInfer, lumenPeakRss, torch },
    jsonPath: opts.json || undefined,
    header,
    table: printed,
    footer,
    ratios: ratios([
      peerRatio(`training step, ${images} ${size}, resnet50-${opts.design === 'fpn' ? 'FPN' : 'C4'}, ${FROZEN[opts.freezeAt]}`, rows[0].lumen, rows[0].torch),
      peerRatio(`inference, ${size}, resnet50-${opts.design === 'fpn' ? 'FPN' : 'C4'}`, rows[1].lumen, rows[1].torch),
    ]),
  };
}

// The design names the kept result, so options are read before runBench; nothing runs yet to keep the process alive.
let parsed: Options | null = null;
try {
  parsed = readOptions(process.argv.slice(2));
} catch (e) {
  console.error(e instanceof UsageError ? e.message : e);
  process.exitCode = 1;
}
if (parsed != null) {
  const opts = parsed;
  runBench(opts.design === 'fpn' ? 'train-fpn' : 'train', () => main(opts));
}
