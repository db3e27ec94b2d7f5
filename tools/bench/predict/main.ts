/**
 * Prediction benchmark: what `lumen predict` delivers.
 *
 *   npx nx run tools:bench-predict [--checkpoint=DIR] [--images=100] [--runs=2] [--warmup=0]
 *       [--no-torch] [--torch-threads=2] [--python=/usr/bin/python3] [--skip-c4] [--skip-digits]
 *       [--clips=60,300] [--skip-video] [--json=PATH]
 *
 * Rows:
 *  - digits, `lumen predict`: images/s of the predict command (a child process, as users run
 *    it: the RxJS pipeline decoding with sharp ahead of the model, detect, JSON Lines to a
 *    file; its own summary line's figure, start-up excluded) over the first `--images` digits
 *    test images,
 *    with the checkpoint `--checkpoint` (default: the newest jobs/digits-* /checkpoint-*; where
 *    there is none, the digits config with random weights, and the table says so).
 *  - digits, model only: the same images decoded beforehand, detect alone.
 *  - digits video clip of N frames (one row per `--clips` length; at most the 300 test images),
 *    `lumen predict` on the video vs on its frames as PNG files: the first N digits test images,
 *    each scaled to fit 384x384 and padded, encoded by ffmpeg as H.264 at 5 fps (clip.mp4), and
 *    the clip's frames decoded back to PNG (the same pixels). `lumen predict` runs on the video
 *    (frames/s: ffmpeg decoding into a pipe, ahead of the model) and on the PNG folder (images/s:
 *    sharp decoding), same checkpoint, the two interleaved (`--warmup` + `--runs` of each, the
 *    order alternating), medians of the summary lines' figures; the ratio is frames/s over
 *    images/s (the goal: ffmpeg's pipe costs < 10%, a ratio >= 0.90). ffmpeg is $LUMEN_FFMPEG,
 *    else ffmpeg on the PATH, as for `lumen predict`; without it the rows say so and are skipped.
 *  - resnet50 C4, 600x800: latency of one 600x800 image through ResNet-50 + the ResNet tail
 *    head (configs/voc.yaml's model, 21 classes, random weights built here — the RPN's box
 *    deltas scaled by 1e-3 on both sides so the 1000 proposals stay on the image), next to
 *    torchvision's FasterRCNN of the same shape in the same run (predict_torch.py).
 * The backend is @lumen/runtime's choice (wasm here; LUMEN_BACKEND overrides). Progress goes
 * to stderr, the table to stdout. No bar is set for these rows; exits 1 when a run fails or
 * leaks tensors.
 */
import { loadConfig } from '@lumen/config';
import { seededRandom } from '@lumen/core';
import { decodeImage } from '@lumen/data';
import { buildDetector, disposeParams, initDetector, loadDetector, saveCheckpoint, type DetectorInput } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digitsCheckpoint, digitsTestImages, type DigitsCheckpoint } from '../kit/digits';
import { runLumenPredict, type PredictRun } from '../kit/lumen-predict';
import { parseOptions, TORCH_THREADS, UsageError } from '../kit/options';
import { peerRatio, ratios, type BenchOutcome } from '../kit/results';
import { runBench } from '../kit/run';
import { median, sampleRuns } from '../kit/stats';
import { markdownTable } from '../kit/table';
import { peerUnavailable, runPeer } from '../kit/torch-peer';
import { CLIP_FPS, CLIP_SIZE, findFfmpeg, makeClip } from './video-clip';

const USAGE =
  'usage: tsx tools/bench/predict/main.ts [--checkpoint=DIR] [--images=100] [--runs=2] [--warmup=0] [--no-torch] [--torch-threads=2] [--python=PATH] [--skip-c4] [--skip-digits] [--clips=60,300] [--skip-video] [--json=PATH]';

const VOC_CLASSES = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

function readOptions(argv: string[]) {
  const o = parseOptions(argv, {
    usage: USAGE,
    runs: 2,
    warmup: 0,
    counts: { images: { default: 100, min: 1 }, 'torch-threads': TORCH_THREADS },
    switches: ['skip-c4', 'skip-digits', 'skip-video'],
    strings: ['checkpoint', 'clips'],
  });
  if (o == null) return null;
  const { counts, switches, strings, ...common } = o;
  const clips = (strings.clips ?? '60,300').split(',').filter(Boolean).map(Number);
  if (clips.length === 0 || clips.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UsageError(`--clips=${strings.clips}: expected frame counts (integers >= 1) separated by commas\n${USAGE}`);
  }
  return {
    ...common,
    checkpoint: strings.checkpoint,
    images: counts.images,
    torchThreads: counts['torch-threads'],
    skipC4: switches['skip-c4'],
    skipDigits: switches['skip-digits'],
    skipVideo: switches['skip-video'],
    clips,
  };
}

type Options = NonNullable<ReturnType<typeof readOptions>>;

const log = (message: string) => process.stderr.write(`[bench-predict] ${message}\n`);

interface DigitsResult {
  checkpoint: string;
  trained: boolean;
  images: number;
  pipelineImagesPerSecond: number;
  modelImagesPerSecond: number;
  objectsPerImage: number;
  failed: number;
}

async function benchDigits(opts: Options, { dir: checkpoint, trained }: DigitsCheckpoint): Promise<DigitsResult> {
  const detector = loadDetector(checkpoint);
  try {
    const files = await digitsTestImages(detector.config, opts.images, log);
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
  }
}

interface VideoResult {
  frames: number;
  /** Medians of `lumen predict`'s own figures, and every timed run's. */
  videoFramesPerSecond: number;
  pngImagesPerSecond: number;
  videoSamples: number[];
  pngSamples: number[];
  /** Objects found in the video and in its PNG frames (first timed run; the same pixels, so expected equal). */
  videoObjects: number;
  pngObjects: number;
}

/** `lumen predict` on a clip of `frames` digits test images vs on the clip's frames as PNG files. */
async function benchVideo(opts: Options, checkpoint: string, ffmpeg: string, frames: number): Promise<VideoResult> {
  const detector = loadDetector(checkpoint);
  const images = await digitsTestImages(detector.config, frames, log).finally(() => detector.dispose());
  if (images.length < frames) throw new Error(`a clip of ${frames} frames needs ${frames} digits test images, there are ${images.length}`);
  const scratch = mkdtempSync(join(tmpdir(), 'lumen-bench-predict-video-'));
  try {
    const clip = await makeClip(ffmpeg, images, scratch);
    log(`video ${frames} frames: ${clip.video} (H.264, ${CLIP_FPS} fps, ${CLIP_SIZE}x${CLIP_SIZE}) and ${clip.count} PNG frames`);
    const video: PredictRun[] = [];
    const png: PredictRun[] = [];
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      // Alternate which goes first, so a drift in the machine's load falls on both alike.
      const order = i % 2 === 0 ? (['video', 'png'] as const) : (['png', 'video'] as const);
      for (const kind of order) {
        const run = await lumenPredict(checkpoint, [kind === 'video' ? clip.video : clip.frames], { LUMEN_FFMPEG: ffmpeg });
        if (run.failed > 0) throw new Error(`lumen predict on the ${kind === 'video' ? 'video' : 'PNG frames'}: ${run.failed} failed`);
        const warm = i < opts.warmup ? ' (warm-up)' : '';
        log(`video ${frames} frames, run ${i + 1}/${opts.warmup + opts.runs}, ${kind}: ${run.imagesPerSecond.toFixed(2)} ${kind === 'video' ? 'frames' : 'images'}/s, ${run.objects} objects${warm}`);
        if (i >= opts.warmup) (kind === 'video' ? video : png).push(run);
      }
    }
    const figures = (runs: PredictRun[]) => runs.map((r) => r.imagesPerSecond);
    if (video[0].images !== frames || png[0].images !== frames) {
      throw new Error(`expected ${frames} frames: the video gave ${video[0].images}, the PNG folder ${png[0].images}`);
    }
    return {
      frames,
      videoFramesPerSecond: median(figures(video)),
      pngImagesPerSecond: median(figures(png)),
      videoSamples: figures(video),
      pngSamples: figures(png),
      videoObjects: video[0].objects,
      pngObjects: png[0].objects,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Runs `lumen predict` on `files` (images, videos or folders) in a child process; its summary line's figures. */
async function lumenPredict(checkpoint: string, files: string[], env: NodeJS.ProcessEnv = {}): Promise<PredictRun> {
  const scratch = mkdtempSync(join(tmpdir(), 'lumen-bench-predict-out-'));
  try {
    return await runLumenPredict([`--checkpoint=${checkpoint}`, `--output=${join(scratch, 'out.jsonl')}`, '--min-prob=0.5', '--no-progress', ...files], { env });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface C4Result {
  ms: number;
  samples: number[];
  detections: number;
}

async function benchC4(opts: Options): Promise<C4Result> {
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
    const image: DetectorInput = { pixels, width: 800, height: 600, originalWidth: 800, originalHeight: 600 };
    let detections = 0;
    let tensors = -1;
    const samples = await sampleRuns(
      async () => {
        const [detection] = await loaded.detect([image]);
        detections = detection.scores.length;
      },
      opts,
      (i, ms) => {
        log(`resnet50 C4 600x800 run ${i + 1}/${opts.warmup + opts.runs}: ${ms.toFixed(0)} ms${i < opts.warmup ? ' (warm-up)' : ''}`);
        if (tensors < 0) tensors = tf.memory().numTensors;
        else if (tf.memory().numTensors !== tensors) throw new Error(`resnet50 C4: ${tf.memory().numTensors - tensors} tensor(s) leaked`);
      },
    );
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

async function main(): Promise<number | BenchOutcome> {
  const opts = readOptions(process.argv.slice(2));
  if (opts == null) return 0;
  const backend = await initBackend({ log });
  const failures: string[] = [];

  let digits: DigitsResult | null = null;
  const videos: VideoResult[] = [];
  let videoNote = '';
  let checkpoint: DigitsCheckpoint | null = null;
  try {
    if (!opts.skipDigits || !opts.skipVideo) checkpoint = await digitsCheckpoint(opts.checkpoint, 'predict', log);
    if (checkpoint != null && !opts.skipDigits) {
      try {
        digits = await benchDigits(opts, checkpoint);
      } catch (error) {
        failures.push(`digits: ${(error as Error).message}`);
      }
    }
    if (checkpoint != null && !opts.skipVideo) {
      const found = findFfmpeg();
      if ('missing' in found) {
        videoNote = `video rows skipped: ${found.missing}`;
        log(videoNote);
      } else {
        for (const frames of opts.clips) {
          try {
            videos.push(await benchVideo(opts, checkpoint.dir, found.ffmpeg, frames));
          } catch (error) {
            failures.push(`video ${frames} frames: ${(error as Error).message}`);
          }
        }
      }
    }
  } finally {
    checkpoint?.remove();
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
    const unavailable = peerUnavailable(opts);
    if (unavailable == null) {
      log('torchvision peer: ResNet-50 C4 FasterRCNN, 600x800');
      try {
        const args = [`--warmup=${opts.warmup}`, `--runs=${opts.runs}`, `--threads=${opts.torchThreads}`];
        torch = await runPeer<TorchC4>(opts.python, join(__dirname, 'predict_torch.py'), args);
      } catch (error) {
        failures.push(`torchvision peer: ${(error as Error).message}`);
      }
    } else {
      torchNote = unavailable === '--no-torch' ? 'skipped (--no-torch)' : unavailable;
    }
  }

  const rows: string[][] = [];
  if (digits) {
    const what = digits.trained ? `checkpoint ${digits.checkpoint}` : 'digits config, RANDOM weights (no trained checkpoint found)';
    rows.push([`digits ${digits.images} test images, \`lumen predict\` (decode ahead + detect + JSON Lines), ${what}`, `${digits.pipelineImagesPerSecond.toFixed(2)} images/s`, '–', '–']);
    rows.push([`digits ${digits.images} test images, model only (pre-decoded)`, `${digits.modelImagesPerSecond.toFixed(2)} images/s`, '–', '–']);
  }
  for (const v of videos) {
    const weights = checkpoint?.trained ? `checkpoint ${checkpoint.dir}` : 'RANDOM weights';
    const what = `digits video, ${v.frames} frames (H.264 ${CLIP_FPS} fps ${CLIP_SIZE}x${CLIP_SIZE}), \`lumen predict\`, ${weights}`;
    const runs = `median of ${opts.runs}`;
    rows.push([`${what}, on the video, ${runs} (${v.videoObjects} objects)`, `${v.videoFramesPerSecond.toFixed(2)} frames/s`, '–', `${(v.videoFramesPerSecond / v.pngImagesPerSecond).toFixed(2)}x the PNG frames`]);
    rows.push([`${what}, on its frames as PNG files, ${runs} (${v.pngObjects} objects)`, `${v.pngImagesPerSecond.toFixed(2)} images/s`, '–', '–']);
  }
  if (c4) {
    const peer = torch ? `${torch.ms.toFixed(0)} ms` : '–';
    const ratio = torch ? `${(c4.ms / torch.ms).toFixed(2)}x` : '–';
    rows.push([`resnet50 C4 (resnet-tail head, 21 classes, random weights), one 600x800 image, median of ${opts.runs}`, `${c4.ms.toFixed(0)} ms`, peer, ratio]);
  }
  const columns = ['row', 'Lumen', 'torchvision', 'ratio'].map((title, c) => ({ title, cell: (row: string[]) => row[c], align: 'left' as const }));
  const header = [
    `backend: ${backend.name} (${backend.detail}${backend.name === 'wasm' ? `, ${backend.threads} threads` : ''})` +
      (torch ? `; torchvision ${torch.torchvision} / torch ${torch.torch}, ${torch.threads} threads` : torchNote ? `; torch: ${torchNote}` : ''),
  ];
  const table = markdownTable(columns, rows);
  const footer = [...(videoNote !== '' ? [videoNote] : []), ...failures.map((f) => `FAILED ${f}`)];
  const lines = [...header, '', table];
  if (videoNote !== '') lines.push('', videoNote);
  if (failures.length > 0) lines.push('', ...failures.map((f) => `FAILED ${f}`));
  process.stdout.write(lines.join('\n') + '\n');
  return {
    code: failures.length > 0 ? 1 : 0,
    json: { backend, digits, videos, c4, torch, failures },
    jsonPath: opts.json || undefined,
    header,
    table,
    footer,
    // The digits and video rows have no peer: only the C4 latency is measured on both sides.
    ratios: ratios([peerRatio('resnet50 C4, one 600x800 image, latency', c4?.ms, torch?.ms)]),
  };
}

runBench('predict', main);
