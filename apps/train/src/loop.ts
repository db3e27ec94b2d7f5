import type { Config } from '@lumen/config';
import { epochOrder, trainingStream, type Dataset, type DecodedExample } from '@lumen/data';
import { saveCheckpoint, trainStep, type Detector, type DetectorParams, type OptimizerState, type StepResult } from '@lumen/detector';
import { BehaviorSubject, bufferCount, concatMap, defer, lastValueFrom, repeat, takeWhile } from 'rxjs';
import { describeMap, evaluateDetector, type EvaluationResult } from './evaluate';
import { checkpointDir, MetricsLog, pruneCheckpoints } from './job';
import { Progress } from './progress';
import { versions } from './versions';

/** Where the data stream stands: the epoch, and how far into that epoch's order. */
export interface Position {
  epoch: number;
  offset: number;
}

/** Everything the step loop runs on, set up by `runTraining`. */
export interface TrainingRun {
  config: Config;
  jobDir: string;
  detector: Detector;
  params: DetectorParams;
  optimizer: OptimizerState;
  train: Dataset;
  val: Dataset;
  /** Where this run's data starts ({0, 0}, or a resumed checkpoint's position). */
  position: Position;
  metrics: MetricsLog;
  backendName: string;
  log: (message: string) => void;
  plain?: boolean;
}

export interface LoopResult {
  /** The last checkpoint written. */
  checkpoint: string;
  interrupted: boolean;
  /** The last periodic evaluation (val split, capped at eval.maxImages). */
  evaluation: EvaluationResult | null;
  /** When the loop started (ms since the epoch): metrics record minutes since then. */
  started: number;
}

/**
 * The step loop: data stream -> train step -> progress / metrics.jsonl / checkpoints / periodic
 * evaluation, as one RxJS pipeline pulling batches (bounded prefetch: the next batch is asked
 * for only after a step). Ctrl-C saves a checkpoint after the current step and returns.
 */
export async function runSteps(run: TrainingRun): Promise<LoopResult> {
  const { config, jobDir, detector, params, optimizer, train, val, metrics } = run;
  const total = config.train.steps;
  const batchSize = config.train.batchSize;
  const progress = new Progress(total, optimizer.step, config.train.logEvery, run.plain ? false : undefined);
  const logAbove = (m: string) => progress.log(m);
  let position = run.position;
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

  const started = Date.now();
  const minutes = () => (Date.now() - started) / 60000;
  const evaluate = async (step: number) => {
    const result = await evaluateDetector(detector, params, val, config, { maxImages: config.eval.maxImages });
    lastEval = result;
    logAbove(`eval at step ${step}: ${describeMap(config.eval.metric, result, val.split)} (${result.seconds.toFixed(1)} s)`);
    metrics.write({ type: 'eval', step, split: val.split, metric: config.eval.metric, mAP: result.map, images: result.images, minutes: minutes() });
    return result.map;
  };
  const save = async (step: number, map: number | null, lossValues: Record<string, number>) => {
    const dir = checkpointDir(jobDir, step);
    await saveCheckpoint(dir, {
      params,
      config,
      classes: detector.classes,
      step,
      metrics: { ...lossValues, ...(map != null ? { mAP: map } : {}) },
      optimizer,
      resume: { epoch: position.epoch, offset: position.offset, optimizerStep: optimizer.step },
      versions: versions(run.backendName),
    });
    if (map != null && (!best || map > best.map)) best = { dir, map };
    pruneCheckpoints(jobDir, config.train.keepCheckpoints, best?.dir ?? null);
    lastDir = dir;
    metrics.write({ type: 'checkpoint', step, dir });
  };

  // Throughput over the steps since the last log line.
  let windowStart = Date.now();
  let windowImages = 0;
  let windowSteps = 0;
  let lastLosses: Record<string, number> = {};
  const report = (result: StepResult, epoch: number) => {
    lastLosses = { ...result.losses, loss: result.loss };
    windowImages += result.images;
    windowSteps += 1;
    const seconds = Math.max((Date.now() - windowStart) / 1000, 1e-9);
    const rates = { stepsPerSecond: windowSteps / seconds, imagesPerSecond: windowImages / seconds };
    progress.update({ step: result.step, epoch, loss: result.loss, losses: result.losses, lr: result.lr, ...rates });
    if (result.step % config.train.logEvery === 0 || result.step === total) {
      metrics.write({ type: 'train', step: result.step, epoch, ...result.losses, loss: result.loss, lr: result.lr, gradNorm: result.gradNorm, ...rates, minutes: minutes() });
      windowStart = Date.now();
      windowImages = 0;
      windowSteps = 0;
    }
  };

  // One subscription per epoch, made lazily when the previous epoch completes (repeat).
  let nextEpoch = position.epoch;
  const steps$ = defer(() => {
    const epoch = nextEpoch++;
    const order = epochOrder(train.size, config.train.seed, epoch, config.data.loader.shuffle);
    const where = new Int32Array(train.size);
    order.forEach((index, at) => (where[index] = at));
    const start = epoch === position.epoch ? position.offset : 0;
    const demand = new BehaviorSubject<number>(batchSize);
    return trainingStream(train, config.data, { seed: config.train.seed, epoch, start, demand }).pipe(
      bufferCount(batchSize),
      concatMap(async (batch: DecodedExample[]) => {
        let result: StepResult;
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
        report(result, epoch);
        const last = result.step >= total;
        const evalNow = last || (config.train.evalEvery > 0 && result.step % config.train.evalEvery === 0);
        const map = evalNow ? await evaluate(result.step) : null;
        if (last || stopRequested || result.step % config.train.checkpointEvery === 0) await save(result.step, map, lastLosses);
        if (!last && !stopRequested) demand.next(batchSize);
        return result.step;
      }),
    );
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
  return { checkpoint: lastDir, interrupted: stopRequested, evaluation: lastEval, started };
}
