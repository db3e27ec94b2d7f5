/**
 * Training-step and inference benchmark of the whole detector, next to torchvision's
 * FasterRCNN built to the same design in the same run (tools/bench/train_torch.py).
 *
 *   npx nx run tools:bench-train [--runs=3] [--warmup=1] [--no-torch] [--torch-threads=2] [--json=PATH]
 *
 * Design (issue 8): ResNet-50 body to layer3 with frozen BN (stem and layer1 frozen), RPN with
 * anchors 64/128/256/512 x 0.5/1/2, RoIAlign 7x7 sampling 2, the `mlp` head (1024), 21
 * classes; random weights; one 600x800 image with three boxes; SGD. Rows: seconds per
 * training step and per inference; the bar is training at most 1.5x torchvision's.
 * Exits 1 when the bar is missed.
 */
import { seededRandom } from '@lumen/boxes';
import { loadConfig } from '@lumen/config';
import { batchImages, buildDetector, createOptimizer, detectBatch, initDetector, trainStep, type TrainingExample } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './measure';
import { torchUnavailable } from './torch-peer';

const TRAIN_BAR = 1.5;

function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      'no-torch': { type: 'boolean', default: false },
      'torch-threads': { type: 'string', default: '2' },
      python: { type: 'string', default: process.env.LUMEN_TORCH_PYTHON ?? '/usr/bin/python3' },
      json: { type: 'string' },
    },
  });
  return { runs: Number(values.runs), warmup: Number(values.warmup), torch: !values['no-torch'], threads: Number(values['torch-threads']), python: values.python, json: values.json };
}

function runTorch(python: string, warmup: number, runs: number, threads: number): Promise<{ train: number[]; inference: number[]; torch: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(python, [join(__dirname, 'train_torch.py'), `--warmup=${warmup}`, `--runs=${runs}`, `--threads=${threads}`], {
      cwd: __dirname,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(JSON.parse(out)) : reject(new Error(`train_torch.py exited with ${code}`))));
  });
}

async function main(): Promise<number> {
  const opts = options();
  const backend = await initBackend();
  const { config } = loadConfig(resolve(__dirname, '../../configs/voc.yaml'), {
    overrides: [
      'model.backbone.weights=null',
      'model.backbone.freezeAt=2',
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
  const time = async (label: string, fn: () => Promise<unknown> | unknown) => {
    const samples: number[] = [];
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      const start = performance.now();
      await fn();
      const ms = performance.now() - start;
      if (i >= opts.warmup) samples.push(ms);
      console.error(`[lumen] ${label} ${i < opts.warmup ? 'warm-up' : 'run'} ${(ms / 1000).toFixed(2)} s`);
    }
    return samples;
  };
  const before = tf.memory().numTensors;
  const lumenTrain = await time('training step', () => trainStep(detector, params, optimizer, [example], config));
  const lumenInfer = await time('inference', async () => {
    const batch = batchImages([example], config.model.transform);
    await detectBatch(detector, params, batch, [{ scale: 1, originalWidth: width, originalHeight: height }]);
    batch.images.dispose();
  });
  const leaked = tf.memory().numTensors - before;

  let torch: { train: number[]; inference: number[]; torch: string } | null = null;
  if (opts.torch) {
    const why = torchUnavailable(opts.python);
    if (why) console.error(`[torch] not run: ${why}`);
    else torch = await runTorch(opts.python, opts.warmup, opts.runs, opts.threads);
  }
  const rows = [
    { label: 'training step, 600x800, resnet50-C4 body + RPN + RoIAlign 7x7 + mlp', lumen: median(lumenTrain), torch: torch ? median(torch.train) : null, bar: TRAIN_BAR },
    { label: 'inference, 600x800', lumen: median(lumenInfer), torch: torch ? median(torch.inference) : null, bar: undefined },
  ];
  console.log(`backend ${backend.name} (${backend.detail}); ${torch ? `torch ${torch.torch}, ${opts.threads} threads` : 'no torch'}; medians of ${opts.runs}\n`);
  console.log('| row | Lumen s | torchvision s | Lumen/torchvision | bar |');
  console.log('| --- | ---: | ---: | ---: | --- |');
  let failed = leaked !== 0;
  for (const row of rows) {
    const ratio = row.torch ? row.lumen / row.torch : null;
    const bar = row.bar === undefined ? '' : ratio === null ? `<= ${row.bar}` : ratio <= row.bar ? `<= ${row.bar} met` : `<= ${row.bar} MISSED`;
    if (row.bar !== undefined && ratio !== null && ratio > row.bar) failed = true;
    console.log(`| ${row.label} | ${(row.lumen / 1000).toFixed(2)} | ${row.torch ? (row.torch / 1000).toFixed(2) : '-'} | ${ratio ? ratio.toFixed(2) + 'x' : '-'} | ${bar} |`);
  }
  if (leaked !== 0) console.log(`\nleaked ${leaked} tensors`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ rows, lumenTrain, lumenInfer, torch }, null, 2));
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
