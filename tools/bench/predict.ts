/**
 * Prediction benchmark: what `lumen predict` delivers.
 *
 *   npx nx run tools:bench-predict [--checkpoint=DIR] [--images=100] [--runs=2] [--warmup=0]
 *       [--no-torch] [--torch-threads=2] [--python=/usr/bin/python3] [--skip-c4] [--skip-digits] [--json=PATH]
 *
 * Rows:
 *  - digits, `lumen predict`: images/s of the predict command (a child process, as users run
 *    it: the RxJS pipeline decoding with sharp ahead of the model, detect, JSON Lines to a
 *    file; its own summary line's figure, start-up excluded) over the first `--images` digits
 *    test images,
 *    with the checkpoint `--checkpoint` (default: the newest jobs/digits-* /checkpoint-*; where
 *    there is none, the digits config with random weights, and the table says so).
 *  - digits, model only: the same images decoded beforehand, detect alone.
 *  - resnet50 C4, 600x800: latency of one 600x800 image through ResNet-50 + the ResNet tail
 *    head (configs/voc.yaml's model, 21 classes, random weights built here — the RPN's box
 *    deltas scaled by 1e-3 on both sides so the 1000 proposals stay on the image), next to
 *    torchvision's FasterRCNN of the same shape in the same run (predict_torch.py).
 * The backend is @lumen/runtime's choice (wasm here; LUMEN_BACKEND overrides). Progress goes
 * to stderr, the table to stdout. No bar is set for these rows; exits 1 when a run fails or
 * leaks tensors.
 */
import { seededRandom } from '@lumen/boxes';
import { loadConfig } from '@lumen/config';
import { decodeImage, ensureDigits } from '@lumen/data';
import { buildDetector, disposeParams, initDetector, loadDetector, saveCheckpoint, type DetectorInput } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './measure';
import { torchUnavailable } from './torch-peer';

const USAGE =
  'usage: tsx tools/bench/predict.ts [--checkpoint=DIR] [--images=100] [--runs=2] [--warmup=0] [--no-torch] [--torch-threads=2] [--python=PATH] [--skip-c4] [--skip-digits] [--json=PATH]';

const VOC_CLASSES = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      checkpoint: { type: 'string' },
      images: { type: 'string', default: '100' },
      runs: { type: 'string', default: '2' },
      warmup: { type: 'string', default: '0' },
      'no-torch': { type: 'boolean', default: false },
      'torch-threads': { type: 'string', default: '2' },
      python: { type: 'string', default: process.env.LUMEN_TORCH_PYTHON ?? '/usr/bin/python3' },
      'skip-c4': { type: 'boolean', default: false },
      'skip-digits': { type: 'boolean', default: false },
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
    checkpoint: values.checkpoint,
    images: count('images', values.images, 1),
    runs: count('runs', values.runs, 1),
    warmup: count('warmup', values.warmup, 0),
    torch: !values['no-torch'],
    torchThreads: count('torch-threads', values['torch-threads'], 1),
    python: values.python,
    skipC4: values['skip-c4'],
    skipDigits: values['skip-digits'],
    json: values.json,
  };
}

const log = (message: string) => process.stderr.write(`[bench-predict] ${message}\n`);

/** The newest jobs/digits-* /checkpoint-* folder (by modification time), or null. */
export function newestDigitsCheckpoint(jobs = resolve('jobs')): string | null {
  if (!existsSync(jobs)) return null;
  const found: Array<{ dir: string; mtime: number }> = [];
  for (const job of readdirSync(jobs).filter((d) => d.startsWith('digits-'))) {
    const jobDir = join(jobs, job);
    if (!statSync(jobDir).isDirectory()) continue;
    for (const c of readdirSync(jobDir).filter((d) => /^checkpoint-\d+$/.test(d))) {
      const dir = join(jobDir, c);
      if (existsSync(join(dir, 'meta.json'))) found.push({ dir, mtime: statSync(join(dir, 'meta.json')).mtimeMs });
    }
  }
  found.sort((a, b) => b.mtime - a.mtime || b.dir.localeCompare(a.dir));
  return found[0]?.dir ?? null;
}

/** A digits-config checkpoint with random weights, for machines without a trained one. */
async function randomDigitsCheckpoint(dir: string): Promise<void> {
  const { config } = loadConfig('digits');
  const classes = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
  const detector = buildDetector(config, classes);
  const params = initDetector(detector, seededRandom(0));
  await saveCheckpoint(dir, { params, config, classes, step: 0 });
  disposeParams(params);
}

interface DigitsResult {
  checkpoint: string;
  trained: boolean;
  images: number;
  pipelineImagesPerSecond: number;
  modelImagesPerSecond: number;
  objectsPerImage: number;
  failed: number;
}

async function benchDigits(opts: ReturnType<typeof options>): Promise<DigitsResult> {
  let checkpoint = opts.checkpoint ?? newestDigitsCheckpoint();
  let trained = true;
  let scratch: string | null = null;
  if (checkpoint == null) {
    scratch = mkdtempSync(join(tmpdir(), 'lumen-bench-predict-'));
    checkpoint = join(scratch, 'checkpoint-random');
    trained = false;
    log('no jobs/digits-*/checkpoint-* here (train one: npx nx run train:serve): using the digits config with RANDOM weights');
    await randomDigitsCheckpoint(checkpoint);
  }
  const detector = loadDetector(checkpoint);
  try {
    const { dataset } = detector.config.data;
    await ensureDigits({ dataset: { ...dataset, classes: dataset.classes ?? undefined } }, { log });
    const dir = resolve(detector.config.data.dataset.dir);
    const split = detector.config.data.dataset.splits.test;
    const ids = readFileSync(join(dir, 'ImageSets', 'Main', `${split}.txt`), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
    const files = ids.slice(0, opts.images).map((id) => join(dir, 'JPEGImages', `${id}.jpg`));
    log(`digits: ${files.length} test images, checkpoint ${checkpoint}`);

    // Warm-up: kernels compile / allocate on the first images.
    for (const file of files.slice(0, 2)) await detector.detect([await decodeImage(file, detector.imageSize)]);
    const tensors = tf.memory().numTensors;

    const summary = await lumenPredict(checkpoint, files);
    log(`digits, lumen predict: ${summary.imagesPerSecond.toFixed(2)} images/s, ${summary.objects} objects, ${summary.failed} failed`);

    const decoded: DetectorInput[] = [];
    for (const file of files) decoded.push(await decodeImage(file, detector.imageSize));
    const start = performance.now();
    for (const image of decoded) await detector.detect([image]);
    const modelSeconds = (performance.now() - start) / 1000;
    log(`digits model only: ${(files.length / modelSeconds).toFixed(2)} images/s`);
    if (tf.memory().numTensors !== tensors) throw new Error(`digits: ${tf.memory().numTensors - tensors} tensor(s) leaked`);
    return {
      checkpoint,
      trained,
      images: files.length,
      pipelineImagesPerSecond: summary.imagesPerSecond,
      modelImagesPerSecond: files.length / modelSeconds,
      objectsPerImage: summary.objects / files.length,
      failed: summary.failed,
    };
  } finally {
    detector.dispose();
    if (scratch != null) rmSync(scratch, { recursive: true, force: true });
  }
}

interface PredictRun {
  images: number;
  objects: number;
  failed: number;
  imagesPerSecond: number;
}

/** Runs `lumen predict` on `files` in a child process; its summary line's figures. */
function lumenPredict(checkpoint: string, files: string[]): Promise<PredictRun> {
  const bin = resolve(__dirname, '../../apps/train/bin/lumen.js');
  const scratch = mkdtempSync(join(tmpdir(), 'lumen-bench-predict-out-'));
  const args = [bin, 'predict', `--checkpoint=${checkpoint}`, `--output=${join(scratch, 'out.jsonl')}`, '--min-prob=0.5', '--no-progress', ...files];
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      rmSync(scratch, { recursive: true, force: true });
      const m = /lumen predict: (\d+) image\(s\), (\d+) object\(s\), (\d+) failed, [\d.]+ s \(([\d.]+) images\/s\)/.exec(stderr);
      if (code !== 0 || m == null) return reject(new Error(`lumen predict exited with code ${code}:\n${stderr}`));
      resolveRun({ images: Number(m[1]), objects: Number(m[2]), failed: Number(m[3]), imagesPerSecond: Number(m[4]) });
    });
  });
}

interface C4Result {
  ms: number;
  samples: number[];
  detections: number;
}

async function benchC4(opts: ReturnType<typeof options>): Promise<C4Result> {
  const { config } = loadConfig('voc', { overrides: ['model.backbone.weights=null'] });
  const detector = buildDetector(config, VOC_CLASSES);
  const params = initDetector(detector, seededRandom(0));
  // Random features are large (|x| ~ 170 after layer3), so the RPN's random box deltas would
  // throw every proposal off the image (none left, nothing for the head to do). Scaled down,
  // the proposals stay near their anchors, as a trained RPN's do: 1000 RoIs through the tail.
  const bboxPred = (params.rpn as unknown as { head: { bbox_pred: { kernel: tf.Variable } } }).head.bbox_pred.kernel;
  tf.tidy(() => bboxPred.assign(tf.mul(bboxPred, 1e-3)));
  const checkpoint = mkdtempSync(join(tmpdir(), 'lumen-bench-c4-'));
  try {
    // Through a checkpoint, as `lumen predict` would load it.
    await saveCheckpoint(join(checkpoint, 'c4'), { params, config, classes: VOC_CLASSES, step: 0 });
    disposeParams(params);
    const loaded = loadDetector(join(checkpoint, 'c4'));
    const random = seededRandom(1);
    const pixels = new Uint8Array(600 * 800 * 3).map(() => Math.floor(random() * 256));
    const image: DetectorInput = { pixels, width: 800, height: 600, scale: 1, originalWidth: 800, originalHeight: 600 };
    const samples: number[] = [];
    let detections = 0;
    let tensors = -1;
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      const start = performance.now();
      const [detection] = await loaded.detect([image]);
      const ms = performance.now() - start;
      detections = detection.scores.length;
      if (i >= opts.warmup) samples.push(ms);
      log(`resnet50 C4 600x800 run ${i + 1}/${opts.warmup + opts.runs}: ${ms.toFixed(0)} ms${i < opts.warmup ? ' (warm-up)' : ''}`);
      if (tensors < 0) tensors = tf.memory().numTensors;
      else if (tf.memory().numTensors !== tensors) throw new Error(`resnet50 C4: ${tf.memory().numTensors - tensors} tensor(s) leaked`);
    }
    loaded.dispose();
    return { ms: median(samples), samples, detections };
  } finally {
    rmSync(checkpoint, { recursive: true, force: true });
  }
}

interface TorchC4 {
  torch: string;
  torchvision: string;
  threads: number;
  ms: number;
  samples: number[];
  detections: number;
}

function runTorch(python: string, warmup: number, runs: number, threads: number): Promise<TorchC4> {
  const script = join(__dirname, 'predict_torch.py');
  return new Promise((resolvePeer, reject) => {
    const child = spawn(python, [script, `--warmup=${warmup}`, `--runs=${runs}`, `--threads=${threads}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`${python} ${script} exited with ${signal ?? `code ${code}`}`));
      try {
        resolvePeer(JSON.parse(stdout) as TorchC4);
      } catch (e) {
        reject(new Error(`predict_torch.py printed no JSON result: ${(e as Error).message}`));
      }
    });
  });
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const backend = await initBackend({ log });
  const failures: string[] = [];

  let digits: DigitsResult | null = null;
  if (!opts.skipDigits) {
    try {
      digits = await benchDigits(opts);
    } catch (error) {
      failures.push(`digits: ${(error as Error).message}`);
    }
  }

  let c4: C4Result | null = null;
  let torch: TorchC4 | null = null;
  let torchNote = '';
  if (!opts.skipC4) {
    try {
      c4 = await benchC4(opts);
    } catch (error) {
      failures.push(`resnet50 C4: ${(error as Error).message}`);
    }
    const unavailable = opts.torch ? torchUnavailable(opts.python) : 'skipped (--no-torch)';
    if (unavailable == null) {
      log('torchvision peer: ResNet-50 C4 FasterRCNN, 600x800');
      try {
        torch = await runTorch(opts.python, opts.warmup, opts.runs, opts.torchThreads);
      } catch (error) {
        failures.push(`torchvision peer: ${(error as Error).message}`);
      }
    } else {
      torchNote = unavailable;
    }
  }

  const lines = [
    `backend: ${backend.name} (${backend.detail}${backend.name === 'wasm' ? `, ${backend.threads} threads` : ''})` +
      (torch ? `; torchvision ${torch.torchvision} / torch ${torch.torch}, ${torch.threads} threads` : torchNote ? `; torch: ${torchNote}` : ''),
    '',
    '| row | Lumen | torchvision | ratio |',
    '| --- | --- | --- | --- |',
  ];
  if (digits) {
    const what = digits.trained ? `checkpoint ${digits.checkpoint}` : 'digits config, RANDOM weights (no trained checkpoint found)';
    lines.push(`| digits ${digits.images} test images, \`lumen predict\` (decode ahead + detect + JSON Lines), ${what} | ${digits.pipelineImagesPerSecond.toFixed(2)} images/s | – | – |`);
    lines.push(`| digits ${digits.images} test images, model only (pre-decoded) | ${digits.modelImagesPerSecond.toFixed(2)} images/s | – | – |`);
  }
  if (c4) {
    const peer = torch ? `${torch.ms.toFixed(0)} ms` : '–';
    const ratio = torch ? `${(c4.ms / torch.ms).toFixed(2)}x` : '–';
    lines.push(`| resnet50 C4 (resnet-tail head, 21 classes, random weights), one 600x800 image, median of ${opts.runs} | ${c4.ms.toFixed(0)} ms | ${peer} | ${ratio} |`);
  }
  if (failures.length > 0) lines.push('', ...failures.map((f) => `FAILED ${f}`));
  process.stdout.write(lines.join('\n') + '\n');
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ backend, digits, c4, torch, failures }, null, 2) + '\n');
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
