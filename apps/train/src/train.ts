import { describeBackbone, type Config } from '@lumen/config';
import { fromWorkspace, seededRandom, UserError } from '@lumen/core';
import { formatDatasetReport, openDataset, type Dataset } from '@lumen/data';
import {
  buildDetector,
  checkModelConfig,
  countParams,
  createOptimizer,
  disposeOptimizer,
  disposeParams,
  initDetector,
  loadPretrainedBackbone,
  type Detector,
  type DetectorParams,
  type LoadedCheckpoint,
  type OptimizerState,
} from '@lumen/detector';
import { formatSummary } from '@lumen/eval';
import { initBackend } from '@lumen/runtime';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { EvaluationResult } from './evaluate';
import { evaluateFinalSplits, type FinalEvaluation } from './final-eval';
import { MetricsLog, openJob, restoreRun, type Job } from './job';
import type { SavedCheckpoint } from './checkpoints';
import { assignInitWeights, configForInit, describeInit, readInitCheckpoint } from './init-from';
import { runSteps, type Position, type TrainingRun } from './loop';
import { StopRequest, type StopSignal } from './stop';
import { TensorBoardLog } from './tensorboard';

export interface TrainOptions {
  /** Config name or path; default 'digits'. */
  config?: string;
  overrides?: string[];
  jobDir?: string;
  resume?: boolean;
  /**
   * A checkpoint folder to start from (fine-tuning): the run takes its model, image sizes
   * and weights; with other classes its box predictor starts afresh (init-from.ts).
   */
  init?: string;
  /** Where progress and warnings go (default stderr). */
  log?: (message: string) => void;
  /** Force plain log lines (no bar), e.g. in tests. */
  plain?: boolean;
  /** Lets the caller stop the run after the current step (SIGINT and SIGTERM do too). */
  stop?: StopRequest;
}

export interface TrainResult {
  jobDir: string;
  /** The last good checkpoint; null when a run stopped before writing one. */
  checkpoint: string | null;
  /** Steps taken (the optimizer's step count). */
  step: number;
  interrupted: boolean;
  /** The signal that stopped the run (the CLI exits with 128 + its number), if one did. */
  signal: StopSignal | null;
  /** The last evaluation on the val split during training (capped at eval.maxImages). */
  evaluation: EvaluationResult | null;
  /** The full evaluations of the last checkpoint on eval.finalSplits, with the eval-<split>.json written. */
  finalEvaluations: FinalEvaluation[];
}

/** Stops at once, with what is missing and how to get it, when a config names data or weights that are not there. */
export function checkInputsExist(config: Config, configName: string): void {
  const { dataset } = config.data;
  const dir = fromWorkspace(dataset.dir);
  if (dataset.type !== 'digits' && !existsSync(dir)) {
    const how: Record<string, string> = {
      voc:
        'Download VOC2007 (VOCtrainval_06-Nov-2007.tar and VOCtest_06-Nov-2007.tar from the Pascal VOC site) and extract both into data/ ' +
        '(they create data/VOCdevkit/VOC2007)',
      coco: 'Put COCO 2017 under data/coco: annotations/instances_train2017.json, annotations/instances_val2017.json, train2017/, val2017/',
      csv: 'Point it at the folder holding <split>.csv files (image_id,xmin,ymin,xmax,ymax,label) and the images',
    };
    throw new UserError(
      `The '${configName}' config reads its dataset from ${dir}, which does not exist.\n` +
        `${how[dataset.type] ?? ''}, or pass --set data.dataset.dir=/path/to/it.`,
    );
  }
  const weights = config.model.backbone.weights && fromWorkspace(config.model.backbone.weights);
  if (weights && !existsSync(weights)) {
    throw new UserError(
      `The '${configName}' config starts from pretrained ${config.model.backbone.name} weights at ${weights}, which do not exist.\n` +
        `Get torchvision's ImageNet weights once, on a machine with internet, and copy the .pth file there as it is:\n` +
        `  python3 -c "import torchvision; torchvision.models.${config.model.backbone.name}(weights='DEFAULT')"   # downloads ~/.cache/torch/hub/checkpoints/${config.model.backbone.name}-*.pth\n` +
        `(a .pth or a .safetensors file is read, whatever its name), or train from scratch with --set model.backbone.weights=null.`,
    );
  }
}

/** A split of the config (a key of data.dataset.splits), which must hold a usable example. */
async function openSplit(config: Config, split: string, log: (m: string) => void): Promise<Dataset> {
  const dataset = await openDataset(config.data, split, { log });
  if (dataset.size === 0) {
    throw new UserError(`The ${split} split of ${config.data.dataset.dir} has no usable example:\n${formatDatasetReport(dataset.report())}`);
  }
  return dataset;
}

/** A run ready for the step loop, and the splits scored when it ends. */
export interface PreparedRun {
  run: TrainingRun;
  finalSplits: Dataset[];
}

/**
 * Everything before the step loop: checks the config (model first, then that its data and
 * weights exist), opens the splits, builds the detector (fresh, pretrained or resumed). A
 * resumed run's metrics.jsonl loses the records after its checkpoint, which it logs again;
 * every run starts an event file of its own, which tells TensorBoard the same.
 */
export async function prepareRun(options: TrainOptions = {}): Promise<PreparedRun> {
  const log = options.log ?? ((m: string) => process.stderr.write(m + '\n'));
  if (options.init && options.resume) throw new UserError('--init starts a new run from a checkpoint, --resume continues one: give one of them');
  const job = openJob({ config: options.config ?? 'digits', overrides: options.overrides, jobDir: options.jobDir, resume: options.resume });
  // A resumed run has its own weights; a new one starts from --init (a path as typed), else
  // from model.init (under the workspace root, as every path in a config).
  const { init: configInit } = job.loaded.config.model;
  const init = job.checkpoint ? null : options.init ? readInitCheckpoint(resolve(options.init)) : configInit ? readInitCheckpoint(fromWorkspace(configInit), 'model.init') : null;
  if (init) job.loaded = configForInit(job.loaded, init, options.overrides);
  const { config } = job.loaded;
  // A typo in the model fails here, before the backend starts or a dataset is read.
  checkModelConfig(config);
  checkInputsExist(config, job.configName);
  const backend = await initBackend({ log: (m) => log(m) });
  log(`config ${job.configName} (${job.loaded.path}); job dir ${job.dir}`);

  const train = await openSplit(config, 'train', log);
  const val = await openSplit(config, 'val', log);
  // Opened now so a missing split stops the run before training, not after it.
  const finalSplits: Dataset[] = [];
  for (const split of config.eval.finalSplits) finalSplits.push(split === 'train' ? train : split === 'val' ? val : await openSplit(config, split, log));
  const classes = job.checkpoint?.meta.classes ?? train.classes;
  log(`data: ${train.size} training images, ${val.size} validation images, ${classes.length} classes`);

  const detector = buildDetector(config, classes);
  const params = initDetector(detector, seededRandom(config.train.seed));
  const optimizer = createOptimizer(config.train.optimizer, params);
  let start: { position: Position; resumedFrom: SavedCheckpoint | null };
  try {
    start = await startingPoint(job, init, detector, params, optimizer, log);
  } catch (error) {
    disposeOptimizer(optimizer);
    disposeParams(params);
    throw error;
  }
  const counts = countParams(params);
  log(`model: ${describeBackbone(config)} + ${config.model.rcnn.head} head, ${(counts.total / 1e6).toFixed(2)}M params (${(counts.trainable / 1e6).toFixed(2)}M trainable); backend ${backend.name}`);

  const metrics = new MetricsLog(job.dir);
  if (start.resumedFrom) {
    const dropped = metrics.keepUpTo(start.resumedFrom.step);
    if (dropped > 0) log(`metrics.jsonl: dropped ${dropped} record(s) logged after step ${start.resumedFrom.step}; this run logs those steps again`);
  }
  const events = new TensorBoardLog(job.dir, optimizer.step + 1);
  const stop = options.stop ?? new StopRequest();
  const run: TrainingRun = { config, jobDir: job.dir, detector, params, optimizer, train, val, ...start, metrics, events, backendName: backend.name, stop, log, plain: options.plain };
  return { run, finalSplits };
}

/** Restores a resumed run's weights, optimizer and data position, or loads a new run's initial weights (--init) or pretrained backbone. */
async function startingPoint(job: Job, init: LoadedCheckpoint | null, detector: Detector, params: DetectorParams, optimizer: OptimizerState, log: (m: string) => void) {
  if (job.checkpoint) {
    const position = restoreRun(job.checkpoint, params, optimizer);
    log(`resumed from ${job.checkpoint.dir} at step ${optimizer.step}`);
    return { position, resumedFrom: { dir: job.checkpoint.dir, step: optimizer.step } };
  }
  if (init) {
    log(describeInit(init, detector.classes, assignInitWeights(init, params, detector.classes)));
    return { position: { epoch: 0, offset: 0 }, resumedFrom: null };
  }
  const { backbone } = job.loaded.config.model;
  if (await loadPretrainedBackbone(detector, params, log)) log(`loaded pretrained ${backbone.name} weights from ${backbone.weights}`);
  return { position: { epoch: 0, offset: 0 }, resumedFrom: null };
}

/**
 * `lumen train`: prepares the run (prepareRun), runs the step loop (loop.ts), then scores the
 * last checkpoint on eval.finalSplits. A stop request (Ctrl-C, SIGTERM) saves a checkpoint and
 * returns; `resume` continues from the job's last checkpoint; a diverged run throws
 * TrainingDiverged. The model's variables are disposed when it returns.
 */
export async function runTraining(options: TrainOptions = {}): Promise<TrainResult> {
  const { run, finalSplits } = await prepareRun(options);
  const { config, detector, params, optimizer, metrics, events, log } = run;
  try {
    const loop = await runSteps(run);
    if (loop.evaluation && !loop.interrupted && finalSplits.length === 0) log(`\n${formatSummary(loop.evaluation.summary)}`);
    log(
      loop.interrupted
        ? `stopped by ${run.stop.describe()} at step ${optimizer.step}; ${loop.checkpoint ? `checkpoint ${loop.checkpoint}; continue with --resume` : 'no checkpoint to continue from'}`
        : `done: ${optimizer.step} steps in ${((Date.now() - loop.started) / 60000).toFixed(1)} min; checkpoint ${loop.checkpoint}`,
    );
    // A run that ends unstopped has just saved its last step: `params` hold that checkpoint's weights.
    const finalEvaluations =
      loop.interrupted || !loop.checkpoint ? [] : await evaluateFinalSplits({ detector, params, config, metrics, events, log }, finalSplits, loop.checkpoint, optimizer.step, loop.started);
    return {
      jobDir: run.jobDir,
      checkpoint: loop.checkpoint,
      step: optimizer.step,
      interrupted: loop.interrupted,
      signal: loop.signal,
      evaluation: loop.evaluation,
      finalEvaluations,
    };
  } finally {
    disposeOptimizer(optimizer);
    disposeParams(params);
  }
}
