import type { Config } from '@lumen/config';
import { epochOrder, trainingStream, type Dataset, type DecodedExample } from '@lumen/data';
import {
  flattenParams,
  NonFiniteLossError,
  optimizerSlots,
  saveCheckpoint,
  trainStep,
  type Detector,
  type DetectorParams,
  type OptimizerState,
  type StepResult,
} from '@lumen/detector';
import { BehaviorSubject, bufferCount, concatMap, defer, EMPTY, lastValueFrom, of, repeat, takeUntil, takeWhile } from 'rxjs';
import { allFinite, DivergenceMonitor, formatNumber, lowerLrAdvice, TrainingDiverged } from './divergence';
import { describeMap, evaluateDetector, type EvaluationResult } from './evaluate';
import { CheckpointLedger, type SavedCheckpoint } from './checkpoints';
import { checkpointDir, MetricsLog } from './job';
import { Progress } from './progress';
import { listenForStopSignals, type StopRequest, type StopSignal } from './stop';
import type { TensorBoardLog } from './tensorboard';
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
  /** The checkpoint a resumed run continues from (null for a new run). */
  resumedFrom: SavedCheckpoint | null;
  metrics: MetricsLog;
  /** The run's TensorBoard event file: the scalars of metrics.jsonl's train and eval records. */
  events: TensorBoardLog;
  backendName: string;
  /** Asks the loop to stop after the current step; SIGINT and SIGTERM make the request too. */
  stop: StopRequest;
  log: (message: string) => void;
  plain?: boolean;
}

export interface LoopResult {
  /** The last good checkpoint written (or resumed from); null when there is none. */
  checkpoint: string | null;
  interrupted: boolean;
  /** The signal that stopped the run, if one did. */
  signal: StopSignal | null;
  /** The last periodic evaluation (val split, capped at eval.maxImages). */
  evaluation: EvaluationResult | null;
  /** When the loop started (ms since the epoch): metrics record minutes since then. */
  started: number;
}

/** Thrown from evaluateDetector's per-image callback: the one way to end an evaluation early. */
class EvaluationStopped extends Error {}

/**
 * The step loop: data stream -> train step -> progress / metrics.jsonl / checkpoints / periodic
 * evaluation, as one RxJS pipeline pulling batches (bounded prefetch: the next batch is asked
 * for only after a step). A stop request (SIGINT, SIGTERM) ends it after the current step,
 * also while it waits for data or evaluates, and saves a checkpoint when the weights are good.
 * A diverged run (train.divergence) throws TrainingDiverged; no checkpoint with non-finite
 * weights, or from a streak of exploded steps, is ever written.
 */
export async function runSteps(run: TrainingRun): Promise<LoopResult> {
  const { config, jobDir, detector, params, optimizer, train, val, metrics, events, stop } = run;
  const total = config.train.steps;
  const batchSize = config.train.batchSize;
  const progress = new Progress(total, optimizer.step, config.train.logEvery, run.plain ? false : undefined);
  // Plain lines go where the caller's log goes; a bar needs its messages written above it.
  const logAbove = run.plain ? run.log : (m: string) => progress.log(m);
  const health = new DivergenceMonitor(config.train.divergence);
  let position = run.position;
  let lastEval: EvaluationResult | null = null;
  const checkpoints = new CheckpointLedger(jobDir, config.train.keepCheckpoints, run.resumedFrom);
  let checkpointDue = false;
  let checkpointPutOff = false;
  let failedInARow = 0;
  let lastLosses: Record<string, number> = {};
  const stopListening = listenForStopSignals(stop, logAbove);

  const started = Date.now();
  const minutes = () => (Date.now() - started) / 60000;
  const warn = (step: number, kind: string, message: string) => {
    logAbove(message);
    metrics.write({ type: 'warning', step, kind, message, minutes: minutes() });
  };
  /** The error that ends a diverged run; the checkpoint whose weights gave the first bad loss is set aside. */
  const diverged = (step: number, what: string) => {
    const setAside = checkpoints.setAsideUnconfirmed();
    const { good } = checkpoints;
    const where = good ? `kept the last good checkpoint ${good.dir}` : 'no good checkpoint was written before it';
    const message = `training diverged at step ${step}: ${what}; ${[where, setAside].filter(Boolean).join('; ')}; ${lowerLrAdvice(config.train.optimizer.lr)}`;
    metrics.write({ type: 'warning', step, kind: 'diverged', message, minutes: minutes() });
    return new TrainingDiverged(message, step, good?.dir ?? null);
  };
  const weightsFinite = () => allFinite([...flattenParams(params).map(([, v]) => v), ...optimizerSlots(optimizer).map(([, v]) => v)]);

  /** The val mAP at `step`; null without one (no ground truth, or a stop request cut it short). */
  const evaluate = async (step: number): Promise<number | null> => {
    const stopEarly = () => {
      if (stop.requested) throw new EvaluationStopped();
    };
    let result: EvaluationResult;
    try {
      result = await evaluateDetector(detector, params, val, config, { maxImages: config.eval.maxImages, onImage: stopEarly });
    } catch (error) {
      if (!(error instanceof EvaluationStopped)) throw error;
      logAbove(`eval at step ${step}: cut short by ${stop.describe()}`);
      return null;
    }
    lastEval = result;
    logAbove(`eval at step ${step}: ${describeMap(config.eval.metric, result, val.split)} (${result.seconds.toFixed(1)} s)`);
    metrics.write({ type: 'eval', step, split: val.split, metric: config.eval.metric, mAP: result.map, images: result.images, minutes: minutes() });
    events.evaluation(step, 'eval', result.summary, result.map, config.eval.metric);
    return result.map;
  };

  const save = async (step: number, map: number | null) => {
    const dir = checkpointDir(jobDir, step);
    await saveCheckpoint(dir, {
      params,
      config,
      classes: detector.classes,
      step,
      metrics: { ...lastLosses, ...(map != null ? { mAP: map } : {}) },
      optimizer,
      resume: { epoch: position.epoch, offset: position.offset, optimizerStep: optimizer.step },
      versions: versions(run.backendName),
    });
    checkpoints.written({ dir, step }, map);
    checkpointDue = false;
    checkpointPutOff = false;
    metrics.write({ type: 'checkpoint', step, dir });
  };
  /** A due checkpoint, once the weights come from healthy steps; non-finite weights end the run. */
  const saveWhenDue = async (step: number, map: number | null) => {
    if (!checkpointDue) return;
    if (!health.trusted) {
      if (!checkpointPutOff) logAbove(`step ${step}: checkpoint put off until the loss is healthy again`);
      checkpointPutOff = true;
      return;
    }
    if (!weightsFinite()) throw diverged(step, 'the weights became non-finite');
    await save(step, map);
  };

  // Throughput over the steps since the last log line.
  let windowStart = Date.now();
  let windowImages = 0;
  let windowSteps = 0;
  const report = (result: StepResult, epoch: number) => {
    lastLosses = { ...result.losses, loss: result.loss };
    windowImages += result.images;
    windowSteps += 1;
    const seconds = Math.max((Date.now() - windowStart) / 1000, 1e-9);
    const rates = { stepsPerSecond: windowSteps / seconds, imagesPerSecond: windowImages / seconds };
    progress.update({ step: result.step, epoch, loss: result.loss, losses: result.losses, lr: result.lr, ...rates });
    if (result.step % config.train.logEvery === 0 || result.step === total) {
      metrics.write({ type: 'train', step: result.step, epoch, ...result.losses, loss: result.loss, lr: result.lr, gradNorm: result.gradNorm, ...rates, minutes: minutes() });
      events.train(result.step, { losses: result.losses, loss: result.loss, lr: result.lr, gradNorm: result.gradNorm, ...rates });
      windowStart = Date.now();
      windowImages = 0;
      windowSteps = 0;
    }
  };

  /** A step that threw: a non-finite loss is a bad step; anything else is a bad example, skipped. */
  const onStepError = (error: unknown, batch: DecodedExample[]) => {
    const step = optimizer.step + 1;
    if (error instanceof NonFiniteLossError) {
      failedInARow = 0;
      health.afterNonFinite();
      warn(step, 'non-finite-loss', `step ${step}: ${error.message} (${health.badInARow}/${health.maxBadSteps} bad steps in a row)`);
      if (health.diverged) throw diverged(step, `the loss was ${error.loss} for ${health.badInARow} batches in a row`);
      return;
    }
    const message = (error as Error).message;
    // Non-finite weights fail every step in ways of their own (a NaN check in the RPN, say).
    if (!weightsFinite()) throw diverged(step, `the weights became non-finite (the step failed with: ${message})`);
    // A long run survives a bad batch: report it and go on (nothing was updated).
    const ids = batch.map((b) => b.id);
    logAbove(`step ${step}: skipped batch ${ids.join(', ')}: ${message}`);
    metrics.write({ type: 'skipped', step, ids, error: message });
    failedInARow += 1;
    if (failedInARow >= health.maxBadSteps) {
      logAbove(`${failedInARow} batches in a row failed: stopping on the last error`);
      throw error;
    }
  };

  /** A step whose update was applied: an exploded loss is a bad step (a warning). */
  const checkLoss = (result: StepResult) => {
    failedInARow = 0;
    const median = health.recentMedian();
    if (health.afterUpdate(result.loss) === 'healthy') {
      checkpoints.confirm();
      return;
    }
    const what = `${formatNumber(result.loss)}, over ${config.train.divergence.explosionFactor}x the median ${formatNumber(median)} of the recent healthy losses`;
    warn(result.step, 'loss-explosion', `step ${result.step}: the loss exploded: ${what} (${health.badInARow}/${health.maxBadSteps} bad steps in a row)`);
    if (health.diverged) throw diverged(result.step, `the loss exploded for ${health.badInARow} steps in a row (last ${what})`);
  };

  /** One batch: the step, then log, periodic evaluation and checkpoint. Returns the step taken, or null. */
  const runBatch = async (batch: DecodedExample[], epoch: number, where: Int32Array): Promise<number | null> => {
    // The batch is consumed whatever the step does: a resumed run starts after it.
    position = { epoch, offset: Math.max(...batch.map((b) => where[b.index])) + 1 };
    if (position.offset >= train.size) position = { epoch: epoch + 1, offset: 0 };
    let result: StepResult;
    try {
      result = trainStep(detector, params, optimizer, batch, config);
    } catch (error) {
      onStepError(error, batch);
      return null;
    }
    checkLoss(result);
    report(result, epoch);
    const last = result.step >= total;
    const evalNow = !stop.requested && (last || (config.train.evalEvery > 0 && result.step % config.train.evalEvery === 0));
    const map = evalNow ? await evaluate(result.step) : null;
    if (last || result.step % config.train.checkpointEvery === 0) checkpointDue = true;
    await saveWhenDue(result.step, map);
    return result.step;
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
      // Ends the stream at once, also while it waits for data; a step under way finishes first.
      takeUntil(stop.requested$),
      concatMap(async (batch: DecodedExample[]) => {
        const step = await runBatch(batch, epoch, where);
        if (!stop.requested && (step === null || step < total)) demand.next(batchSize);
        return step;
      }),
    );
  }).pipe(
    repeat({ delay: () => (stop.requested ? EMPTY : of(0)) }),
    takeWhile((step) => step === null || step < total, true),
  );

  try {
    await lastValueFrom(steps$, { defaultValue: null });
    if (!stop.requested && !health.trusted) {
      throw diverged(optimizer.step, `the run ended with ${health.badInARow} exploded step(s) in a row`);
    }
    if (checkpoints.latest()?.step !== optimizer.step) {
      // Stopped between checkpoints: save where the run stands, unless the weights went bad.
      const unsaved = health.badInARow > 0 ? `the last ${health.badInARow} step(s) had a bad loss` : !weightsFinite() ? 'the weights are not finite' : null;
      if (unsaved) logAbove(`not saving step ${optimizer.step}: ${unsaved}; the last checkpoint is ${checkpoints.latest()?.dir ?? 'none'}`);
      else await save(optimizer.step, null);
    }
  } finally {
    stopListening();
    progress.stop();
  }
  return { checkpoint: checkpoints.latest()?.dir ?? null, interrupted: stop.requested, signal: stop.signal, evaluation: lastEval, started };
}
