/**
 * Training-step and inference benchmark of the whole detector, next to torchvision's
 * FasterRCNN built to the same design in the same run (train_torch.py).
 *
 *   npx nx run tools:bench-train [--runs=3] [--warmup=1] [--freeze-at=2] [--no-torch] [--torch-threads=2] [--json=PATH]
 *
 * Design (issue 8): ResNet-50 body to layer3 with frozen BN, RPN with anchors 64/128/256/512 x
 * 0.5/1/2, RoIAlign 7x7 sampling 2, the `mlp` head (1024), 21 classes; random weights; one
 * 600x800 image with three boxes; SGD. --freeze-at=2 (default) freezes the stem and layer1
 * as torchvision's detectors do, 1 the stem only, 0 nothing (every backbone layer trained).
 * Rows: seconds per training step and per inference. Bars: training at most 1.5x
 * torchvision's with the stem and layer1 frozen (issue 8), 0.4x with every layer trained
 * (issue 20); inference at most 0.5x (issue 20). Exits 1 when a bar is missed.
 */
import { loadConfig } from '@lumen/config';
import { seededRandom } from '@lumen/core';
import { batchImages, buildDetector, createOptimizer, detectBatch, initDetector, trainStep, type TrainingExample } from '@lumen/detector';
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

const USAGE = 'usage: tsx tools/bench/train/main.ts [--runs=N] [--warmup=N] [--freeze-at=0|1|2] [--no-torch] [--torch-threads=N] [--python=PATH] [--json=PATH]';

function readOptions(argv: string[]) {
  const o = parseOptions(argv, { usage: USAGE, runs: 3, warmup: 1, counts: { 'torch-threads': TORCH_THREADS, 'freeze-at': { default: 2, min: 0 } } });
  if (o != null && o.counts['freeze-at'] > 2) throw new UsageError(`--freeze-at=${o.counts['freeze-at']}: expected 0, 1 or 2\n${USAGE}`);
  return o && { ...o, threads: o.counts['torch-threads'], freezeAt: o.counts['freeze-at'] };
}

interface TorchResult {
  torch: string;
  torchvision: string;
  threads: number;
  /** ms of each timed training step and inference. */
  train: number[];
  inference: number[];
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

async function main(): Promise<number | BenchOutcome> {
  const opts = readOptions(process.argv.slice(2));
  if (opts == null) return 0;
  const backend = await initBackend();
  const { config } = loadConfig(resolve(__dirname, '../../../configs/voc.yaml'), {
    overrides: [
      'model.backbone.weights=null',
      `model.backbone.freezeAt=${opts.freezeAt}`,
      'model.rcnn.head=mlp',
      'model.roiPool.size=7',
      'model.anchors.sizes=[64,128,256,512]',
      'model.anchors.ratios=[0.5,1,2]',
      'train.optimizer.type=sgd',
      'train.optimizer.lr=0.001',
      'train.batchSize=1',
    ],
  });
  const classes = Array.from({ length: 20 }, (_, i) => `class${i + 1}`);
  const detector = buildDetector(config, classes);
  const params = initDetector(detector, seededRandom(0));
  const optimizer = createOptimizer(config.train.optimizer, params);
  const random = seededRandom(1);
  const [width, height] = [800, 600];
  const example: TrainingExample = {
    pixels: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256)),
    width,
    height,
    boxes: new Float32Array([50, 60, 250, 300, 300, 100, 700, 500, 400, 350, 520, 580]),
    labels: new Int32Array([3, 7, 12]),
  };
  const before = tf.memory().numTensors;
  const lumenTrain = await time('training step', () => trainStep(detector, params, optimizer, [example], config), opts);
  const lumenInfer = await time(
    'inference',
    async () => {
      const batch = batchImages([example], config.model.transform);
      await detectBatch(detector, params, batch, [{ originalWidth: width, originalHeight: height }]);
      batch.images.dispose();
    },
    opts,
  );
  const leaked = tf.memory().numTensors - before;

  const args = [`--warmup=${opts.warmup}`, `--runs=${opts.runs}`, `--threads=${opts.threads}`, `--freeze-at=${opts.freezeAt}`];
  const torch = peerUnavailable(opts) == null ? await runPeer<TorchResult>(opts.python, join(__dirname, 'train_torch.py'), args) : null;
  const rows: Row[] = [
    {
      label: `training step, 600x800, resnet50-C4 body (${FROZEN[opts.freezeAt]}) + RPN + RoIAlign 7x7 + mlp`,
      lumen: median(lumenTrain),
      torch: torch ? median(torch.train) : null,
      bar: trainBar(opts.freezeAt),
    },
    { label: 'inference, 600x800', lumen: median(lumenInfer), torch: torch ? median(torch.inference) : null, bar: INFERENCE_BAR },
  ];
  const header = [`backend ${backend.name} (${backend.detail}); ${torch ? `torch ${torch.torch}, ${opts.threads} threads` : 'no torch'}; medians of ${opts.runs}`];
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
    json: { rows, lumenTrain, lumenInfer, torch },
    jsonPath: opts.json || undefined,
    header,
    table: printed,
    footer,
    ratios: ratios([peerRatio(`training step, 600x800, resnet50-C4, ${FROZEN[opts.freezeAt]}`, rows[0].lumen, rows[0].torch), peerRatio('inference, 600x800, resnet50-C4', rows[1].lumen, rows[1].torch)]),
  };
}

runBench('train', main);
