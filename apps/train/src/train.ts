import { importWeights } from '@lumen/backbone';
import { seededRandom } from '@lumen/boxes';
import { loadConfig, type Config } from '@lumen/config';
import { epochOrder, formatDatasetReport, openDataset, trainingStream, type Dataset, type DataConfig, type DecodedExample } from '@lumen/data';
import {
  assignParams,
  buildDetector,
  countParams,
  createOptimizer,
  initDetector,
  loadCheckpoint,
  restoreOptimizer,
  saveCheckpoint,
  trainStep,
  type Detector,
  type DetectorParams,
  type OptimizerState,
} from '@lumen/detector';
import { formatSummary } from '@lumen/eval';
import { initBackend } from '@lumen/runtime';
import { existsSync } from 'node:fs';
import { BehaviorSubject, bufferCount, concatMap, defer, lastValueFrom, repeat, takeWhile } from 'rxjs';
import { describeMap, evaluateDetector, evaluateToFile, type EvaluationResult } from './evaluate';
import { checkpointDir, latestJobDir, listCheckpoints, MetricsLog, newJobDir, pruneCheckpoints, UserError } from './job';
import { Progress } from './progress';
import { versions } from './versions';

export interface TrainOptions {
  /** Config name or path; default 'digits'. */
  config?: string;
  overrides?: string[];
  jobDir?: string;
  resume?: boolean;
  /** Where progress and warnings go (default stderr). */
  log?: (message: string) => void;
  /** Force plain log lines (no bar), e.g. in tests. */
  plain?: boolean;
}

export interface TrainResult {
  jobDir: string;
  checkpoint: string;
  step: number;
  interrupted: boolean;
  /** The last evaluation on the val split during training (capped at eval.maxImages). */
  evaluation: EvaluationResult | null;
  /** The full evaluations of the last checkpoint on eval.finalSplits, with the eval-<split>.json written. */
  finalEvaluations: Array<EvaluationResult & { split: string; path: string }>;
}

/** The config's data section as @lumen/data takes it. */
export function dataConfigOf(config: Config): DataConfig {
  return { ...config.data, dataset: { ...config.data.dataset, classes: config.data.dataset.classes ?? undefined } };
}

/** Stops at once, with what is missing and how to get it, when a config names data or weights that are not there. */
export function checkInputsExist(config: Config, configName: string): void {
  const { dataset } = config.data;
  if (dataset.type !== 'digits' && !existsSync(dataset.dir)) {
    const how: Record<string, string> = {
      voc:
        'Download VOC2007 (VOCtrainval_06-Nov-2007.tar and VOCtest_06-Nov-2007.tar from the Pascal VOC site) and extract both into data/ ' +
        '(they create data/VOCdevkit/VOC2007)',
      coco: 'Put COCO 2017 under data/coco: annotations/instances_train2017.json, annotations/instances_val2017.json, train2017/, val2017/',
      csv: 'Point it at the folder holding <split>.csv files (image_id,xmin,ymin,xmax,ymax,label) and the images',
    };
    throw new UserError(
      `The '${configName}' config reads its dataset from ${dataset.dir}, which does not exist.\n` +
        `${how[dataset.type] ?? ''}, or pass --set data.dataset.dir=/path/to/it.`,
    );
  }
  const weights = config.model.backbone.weights;
  if (weights && !existsSync(weights)) {
    throw new UserError(
      `The '${configName}' config starts from pretrained ${config.model.backbone.name} weights at ${weights}, which do not exist.\n` +
        `Convert torchvision's ImageNet weights once, on a machine with PyTorch:\n` +
        `  python -c "import torchvision; torchvision.models.${config.model.backbone.name}(weights='DEFAULT')"   # downloads the .pth into ~/.cache/torch\n` +
        `  npx nx run tools:convert-weights -- ~/.cache/torch/hub/checkpoints/<file>.pth ${weights}\n` +
        `or train from scratch with --set model.backbone.weights=null.`,
    );
  }
}

async function openSplit(config: Config, split: 'train' | 'val' | 'test', log: (m: string) => void): Promise<Dataset> {
  const dataset = await openDataset(dataConfigOf(config), split, { log });
  if (dataset.size === 0) {
    throw new UserError(`The ${split} split of ${config.data.dataset.dir} has no usable example:\n${formatDatasetReport(dataset.report())}`);
  }
  return dataset;
}

/** Replaces the backbone's initial weights by the pretrained file's (the tail too when the head uses it). */
async function loadPretrained(detector: Detector, params: DetectorParams, config: Config, log: (m: string) => void): Promise<void> {
  const path = config.model.backbone.weights;
  if (!path) return;
  const b = config.model.backbone;
  const imported = (await importWeights(detector.backbone, path, {
    batchNorm: b.batchNorm,
    freezeAt: b.freezeAt,
    tailStride: b.tailStride,
    width: b.width,
    dropout: b.dropout,
    onNotice: log,
  })) as DetectorParams['backbone'];
  const values: Record<string, { dtype: 'float32'; shape: number[]; data: Float32Array }> = {};
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (value && typeof value === 'object' && 'dataSync' in value) {
        const t = value as { shape: number[]; dataSync(): Float32Array; dispose(): void };
        values[name] = { dtype: 'float32', shape: [...t.shape], data: t.dataSync() };
        t.dispose();
      } else walk(value as Record<string, unknown>, name);
    }
  };
  walk(imported, '');
  assignParams(params.backbone, values, path);
  log(`loaded pretrained ${b.name} weights from ${path}`);
}

interface Position {
  epoch: number;
  offset: number;
}

/**
 * `lumen train`: data stream -> train step -> progress / metrics.jsonl / checkpoints /
 * periodic evaluation, as one RxJS pipeline pulling batches (bounded prefetch). Ctrl-C saves
 * a checkpoint and returns; `resume` continues from the job's last checkpoint with the same
 * data order, random streams and learning rate.
 */
export async function runTraining(options: TrainOptions = {}): Promise<TrainResult> {
  const log = options.log ?? ((m: string) => process.stderr.write(m + '\n'));
  let loaded = loadConfig(options.config ?? 'digits', { overrides: options.overrides });
  const configName = loaded.name;

  let jobDir: string;
  let checkpoint: ReturnType<typeof loadCheckpoint> | null = null;
  if (options.resume) {
    const dir = options.jobDir ?? latestJobDir(configName);
    const last = dir ? listCheckpoints(dir).at(-1) : undefined;
    if (!dir || !last) throw new UserError(`--resume: no checkpoint found in ${dir ?? `jobs/${configName}-*`}; start a run without --resume first`);
    jobDir = dir;
    checkpoint = loadCheckpoint(last);
    // The run continues with the config it was started with; --set can still change it (e.g. more steps).
    loaded = loadConfig(`${last}/config.yaml`, { overrides: options.overrides });
  } else {
    jobDir = options.jobDir ?? newJobDir(configName);
    if (listCheckpoints(jobDir).length > 0) {
      throw new UserError(`${jobDir} already holds checkpoints: pass --resume to continue that run, or another --job-dir`);
    }
  }
  const { config } = loaded;
  checkInputsExist(config, configName);
  const backend = await initBackend({ log: (m) => log(m) });
  log(`config ${configName} (${loaded.path}); job dir ${jobDir}`);

  const train = await openSplit(config, 'train', log);
  const val = await openSplit(config, 'val', log);
  // Opened now so a missing split stops the run before training, not after it.
  const finalSplits: Dataset[] = [];
  for (const split of config.eval.finalSplits) finalSplits.push(split === 'train' ? train : split === 'val' ? val : await openSplit(config, split, log));
  const classes = checkpoint?.meta.classes ?? train.classes;
  log(`data: ${train.size} training images, ${val.size} validation images, ${classes.length} classes`);

  const detector = buildDetector(config, classes);
  const params = initDetector(detector, seededRandom(config.train.seed));
  const optimizer = createOptimizer(config.train.optimizer, params);
  let position: Position = { epoch: 0, offset: 0 };
  if (checkpoint) {
    assignParams(params, checkpoint.weights, `${checkpoint.dir}/weights.safetensors`);
    if (checkpoint.optimizer) restoreOptimizer(optimizer, checkpoint.optimizer, `${checkpoint.dir}/optimizer.safetensors`);
    optimizer.step = checkpoint.meta.resume?.optimizerStep ?? checkpoint.meta.step;
    position = checkpoint.meta.resume ? { epoch: checkpoint.meta.resume.epoch, offset: checkpoint.meta.resume.offset } : position;
    log(`resumed from ${checkpoint.dir} at step ${optimizer.step}`);
  } else {
    await loadPretrained(detector, params, config, log);
  }
  const counts = countParams(params);
  log(`model: ${config.model.backbone.name} (width ${config.model.backbone.width}) + ${config.model.rcnn.head} head, ${(counts.total / 1e6).toFixed(2)}M params (${(counts.trainable / 1e6).toFixed(2)}M trainable); backend ${backend.name}`);

  const metrics = new MetricsLog(jobDir);
  const total = config.train.steps;
  const progress = new Progress(total, optimizer.step, config.train.logEvery, options.plain ? false : undefined);
  const logAbove = (m: string) => progress.log(m);
  let best: { dir: string; map: number } | null = null;
  let lastEval: EvaluationResult | null = null;
  let lastDir = '';
  let stopRequested = false;
  const onSignal = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    logAbove('interrupt: saving a checkpoint after this step (Ctrl-C again to quit without saving)');
  };
  process.on('SIGINT', onSignal);

  const evaluate = async (step: number) => {
    const result = await evaluateDetector(detector, params, val, config, { maxImages: config.eval.maxImages });
    lastEval = result;
    const map = result.map;
    logAbove(`eval at step ${step}: ${describeMap(config.eval.metric, result, val.split)} (${result.seconds.toFixed(1)} s)`);
    metrics.write({ type: 'eval', step, split: val.split, metric: config.eval.metric, mAP: map, images: result.images, minutes: (Date.now() - started) / 60000 });
    return map;
  };
  const save = async (step: number, map: number | null, lossValues: Record<string, number>) => {
    const dir = checkpointDir(jobDir, step);
    await saveCheckpoint(dir, {
      params,
      config,
      classes,
      step,
      metrics: { ...lossValues, ...(map != null ? { mAP: map } : {}) },
      optimizer,
      resume: { epoch: position.epoch, offset: position.offset, optimizerStep: optimizer.step },
      versions: versions(backend.name),
    });
    if (map != null && (!best || map > best.map)) best = { dir, map };
    pruneCheckpoints(jobDir, config.train.keepCheckpoints, best?.dir ?? null);
    lastDir = dir;
    metrics.write({ type: 'checkpoint', step, dir });
  };

  const started = Date.now();
  let windowStart = Date.now();
  let windowImages = 0;
  let windowSteps = 0;
  let lastLosses: Record<string, number> = {};
  const batchSize = config.train.batchSize;
  const data = dataConfigOf(config);

  // One subscription per epoch, made lazily when the previous epoch completes (repeat).
  let nextEpoch = position.epoch;
  const steps$ = defer(() => {
    const epoch = nextEpoch++;
    {
      const order = epochOrder(train.size, config.train.seed, epoch, data.loader.shuffle);
      const where = new Int32Array(train.size);
      order.forEach((index, at) => (where[index] = at));
      const start = epoch === position.epoch ? position.offset : 0;
      const demand = new BehaviorSubject<number>(batchSize);
      return trainingStream(train, data, { seed: config.train.seed, epoch, start, demand }).pipe(
        bufferCount(batchSize),
        concatMap(async (batch: DecodedExample[]) => {
          let result;
          try {
            result = trainStep(detector, params, optimizer, batch, config);
          } catch (error) {
            // A long run survives a bad batch: report it and go on (nothing was updated).
            logAbove(`step ${optimizer.step + 1}: skipped batch ${batch.map((b) => b.id).join(', ')}: ${(error as Error).message}`);
            metrics.write({ type: 'skipped', step: optimizer.step, ids: batch.map((b) => b.id), error: (error as Error).message });
            demand.next(batchSize);
            return null;
          }
          position = { epoch, offset: Math.max(...batch.map((b) => where[b.index])) + 1 };
          if (position.offset >= train.size) position = { epoch: epoch + 1, offset: 0 };
          lastLosses = { ...result.losses, loss: result.loss };
          windowImages += result.images;
          windowSteps += 1;
          const seconds = (Date.now() - windowStart) / 1000;
          const report = {
            step: result.step,
            epoch,
            loss: result.loss,
            losses: result.losses,
            lr: result.lr,
            imagesPerSecond: windowImages / Math.max(seconds, 1e-9),
            stepsPerSecond: windowSteps / Math.max(seconds, 1e-9),
          };
          progress.update(report);
          if (result.step % config.train.logEvery === 0 || result.step === total) {
            metrics.write({ type: 'train', step: result.step, epoch, ...result.losses, loss: result.loss, lr: result.lr, gradNorm: result.gradNorm, stepsPerSecond: report.stepsPerSecond, imagesPerSecond: report.imagesPerSecond, minutes: (Date.now() - started) / 60000 });
            windowStart = Date.now();
            windowImages = 0;
            windowSteps = 0;
          }
          const last = result.step >= total;
          const evalNow = last || (config.train.evalEvery > 0 && result.step % config.train.evalEvery === 0);
          const map = evalNow ? await evaluate(result.step) : null;
          if (last || stopRequested || result.step % config.train.checkpointEvery === 0) await save(result.step, map, lastLosses);
          if (!last && !stopRequested) demand.next(batchSize);
          return result.step;
        }),
      );
    }
  }).pipe(
    repeat(),
    takeWhile((step) => step === null || (step < total && !stopRequested), true),
  );

  try {
    await lastValueFrom(steps$, { defaultValue: null });
  } finally {
    process.off('SIGINT', onSignal);
    progress.stop();
  }
  if (!lastDir) await save(optimizer.step, null, lastLosses);
  if (lastEval && !stopRequested && finalSplits.length === 0) log(`\n${formatSummary((lastEval as EvaluationResult).summary)}`);
  log(stopRequested ? `stopped at step ${optimizer.step}; checkpoint ${lastDir}; continue with --resume` : `done: ${optimizer.step} steps in ${((Date.now() - started) / 60000).toFixed(1)} min; checkpoint ${lastDir}`);
  const finalEvaluations: TrainResult['finalEvaluations'] = [];
  for (const dataset of stopRequested ? [] : finalSplits) {
    // `params` are the last checkpoint's weights.
    const result = await evaluateToFile(detector, params, dataset, config, lastDir, { log });
    metrics.write({ type: 'eval', final: true, step: optimizer.step, split: dataset.split, metric: config.eval.metric, mAP: result.map, images: result.images, minutes: (Date.now() - started) / 60000 });
    log(`\n${formatSummary(result.summary)}`);
    log(`${describeMap(config.eval.metric, result, dataset.split)} (checkpoint ${lastDir}; wrote ${result.path})`);
    finalEvaluations.push(result);
  }
  return { jobDir, checkpoint: lastDir, step: optimizer.step, interrupted: stopRequested, evaluation: lastEval, finalEvaluations };
}

export type { OptimizerState };
