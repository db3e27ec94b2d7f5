import type { Dataset } from '@lumen/data';
import { loadConfig } from '@lumen/config';
import { seededRandom, UserError } from '@lumen/core';
import {
  buildDetector,
  createOptimizer,
  disposeOptimizer,
  disposeParams,
  flattenParams,
  initDetector,
  NonFiniteLossError,
  trainableParams,
  trainStep,
  type TrainingExample,
} from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DivergenceMonitor, formatNumber, lowerLrAdvice, TrainingDiverged } from './divergence';
import { runSteps, type LoopResult, type TrainingRun } from './loop';
import { StopRequest } from './stop';
import { checkpointFolders, DIGITS_C4_CONFIG, nonFiniteWeights, QUIET, readMetrics, tinyOverrides, trainSteps } from './testing/tiny-run';
import { prepareRun, runTraining } from './train';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => undefined });
});

describe('trainStep', () => {
  const config = loadConfig(DIGITS_C4_CONFIG, {
    overrides: ['model.backbone.width=0.125', 'model.rcnn.hidden=16', 'model.anchors.sizes=[16,32]', 'model.rpn.batchSizePerImage=32', 'model.rcnn.batchSizePerImage=16'],
  }).config;

  /** One 64x64 image with a bright square labelled `label`. */
  function example(label: number): TrainingExample {
    const pixels = new Uint8Array(64 * 64 * 3).fill(100);
    for (let y = 16; y < 40; y++) pixels.fill(250, (y * 64 + 16) * 3, (y * 64 + 40) * 3);
    return { pixels, width: 64, height: 64, boxes: new Float32Array([16, 16, 40, 40]), labels: new Int32Array([label]) };
  }

  let detector: ReturnType<typeof buildDetector>;
  let params: ReturnType<typeof initDetector>;
  let optimizer: ReturnType<typeof createOptimizer>;
  const weights = () => flattenParams(params).map(([name, v]) => [name, Array.from(v.dataSync())]);
  beforeEach(() => {
    detector = buildDetector(config, ['square']);
    params = initDetector(detector, seededRandom(1));
    optimizer = createOptimizer(config.train.optimizer, params);
  });
  afterEach(() => {
    disposeOptimizer(optimizer);
    disposeParams(params);
  });

  it('throws NonFiniteLossError for a non-finite loss and changes nothing', () => {
    // A NaN class score: proposals are fine, the classifier's loss is NaN.
    const bias = trainableParams(params).find(([name]) => name === 'roi_heads.box_predictor.cls_score.bias')?.[1];
    bias?.assign(tf.fill(bias.shape, NaN));
    const before = weights();
    const tensors = tf.memory().numTensors;
    let thrown: unknown;
    try {
      trainStep(detector, params, optimizer, [example(1)], config);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NonFiniteLossError);
    expect(thrown).toMatchObject({ step: 1, message: expect.stringMatching(/^non-finite loss NaN \(loss_objectness [0-9.]+, .*loss_classifier NaN, .*\); the update was skipped$/) });
    expect(optimizer.step).toBe(0);
    expect(weights()).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('rethrows what a bad example raised, with nothing updated and no tensor left behind', () => {
    const before = weights();
    const tensors = tf.memory().numTensors;
    // Label 0 is the background: the proposal sampler rejects it mid-forward, after the tape saved tensors.
    let thrown: unknown;
    try {
      trainStep(detector, params, optimizer, [example(0)], config);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).not.toBeInstanceOf(NonFiniteLossError);
    expect((thrown as Error).message).toMatch(/'gtLabels' must be class ids >= 1/);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(optimizer.step).toBe(0);
    expect(weights()).toEqual(before);
    // The tape was left clean: the next step trains.
    expect(Number.isFinite(trainStep(detector, params, optimizer, [example(1)], config).loss)).toBe(true);
    expect(optimizer.step).toBe(1);
  });
});

describe('DivergenceMonitor', () => {
  it('counts non-finite and exploded steps in a row; a healthy step starts the count again', () => {
    const monitor = new DivergenceMonitor({ maxBadSteps: 3, explosionFactor: 100 });
    expect(monitor.afterUpdate(3)).toBe('healthy');
    expect(monitor.afterUpdate(2)).toBe('healthy');
    monitor.afterNonFinite();
    // Over 100x the median 2.5 of [3, 2]; the non-finite step before it counts too.
    expect(monitor.afterUpdate(251)).toBe('exploded');
    expect([monitor.badInARow, monitor.diverged]).toEqual([2, false]);
    expect(monitor.afterUpdate(250)).toBe('healthy');
    expect(monitor.badInARow).toBe(0);
    // 250 joined the recent losses: the median of [3, 2, 250] is 3.
    expect(monitor.recentMedian()).toBe(3);
    monitor.afterNonFinite();
    monitor.afterNonFinite();
    expect(monitor.diverged).toBe(false);
    monitor.afterNonFinite();
    expect(monitor.diverged).toBe(true);
  });

  it('distrusts the weights from an exploded update until a healthy step, not after a skipped one', () => {
    const monitor = new DivergenceMonitor({ maxBadSteps: 10, explosionFactor: 100 });
    monitor.afterUpdate(1);
    monitor.afterNonFinite();
    expect(monitor.trusted).toBe(true);
    monitor.afterUpdate(1e12);
    expect(monitor.trusted).toBe(false);
    monitor.afterNonFinite();
    expect(monitor.trusted).toBe(false);
    monitor.afterUpdate(1.5);
    expect(monitor.trusted).toBe(true);
  });

  it('checks no explosion before the first healthy loss, nor with explosionFactor null', () => {
    expect(new DivergenceMonitor({ maxBadSteps: 10, explosionFactor: 100 }).afterUpdate(1e12)).toBe('healthy');
    const off = new DivergenceMonitor({ maxBadSteps: 10, explosionFactor: null });
    off.afterUpdate(1);
    expect(off.afterUpdate(1e12)).toBe('healthy');
  });
});

it('writes numbers as a user would type them', () => {
  expect([0.02, 3.2611, 1e-5, 1e6, 2.43e28, 1e30, NaN].map(formatNumber)).toEqual(['0.02', '3.26', '1e-5', '1e6', '2.43e28', '1e30', 'NaN']);
  expect(lowerLrAdvice(0.001)).toBe('lower train.optimizer.lr (now 0.001), e.g. --set train.optimizer.lr=1e-4');
});

describe('training that diverges', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-diverge-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const tiny = () => [...tinyOverrides(join(dir, 'digits')), 'eval.finalSplits=[]'];

  /** A regular expression matching `text` literally. */
  const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it.each([
    // Step 3 (from checkpoint 2's weights) is healthy; its update makes every later loss NaN...
    ['1e30', literally('the loss was NaN for 10 batches in a row'), 4, 'non-finite-loss'],
    // ...or ~1e29, finite: exploded steps are applied, counted, and stop the run the same way.
    ['1e6', 'the loss exploded for 10 steps in a row \\(last [0-9.]+e2[0-9], over 100x the median 3\\.[0-9]+ of the recent healthy losses\\)', 13, 'loss-explosion'],
  ])('lr=%s: the run stops with TrainingDiverged after maxBadSteps, keeping the last good checkpoint', async (lr, what, step, kind) => {
    const jobDir = join(dir, `lr-${lr}`);
    await runTraining({ ...QUIET, config: DIGITS_C4_CONFIG, overrides: [...tiny(), 'train.steps=2', 'train.checkpointEvery=1'], jobDir });
    const tensors = tf.memory().numTensors;

    const error = await runTraining({ ...QUIET, config: DIGITS_C4_CONFIG, overrides: [`train.optimizer.lr=${lr}`, 'train.steps=100'], jobDir, resume: true }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TrainingDiverged);
    expect(error).toBeInstanceOf(UserError);
    const diverged = error as TrainingDiverged;
    expect(diverged.step).toBe(step);
    const message = new RegExp(
      `^training diverged at step ${step}: ${what}` +
        literally(
          `; kept the last good checkpoint ${join(jobDir, 'checkpoint-0000002')}` +
            '; moved checkpoint-0000003 (its weights gave the first bad loss) to checkpoint-0000003-diverged' +
            `; lower train.optimizer.lr (now ${lr}), e.g. --set train.optimizer.lr=${formatNumber(Number(lr) / 10)}`,
        ) +
        '$',
    );
    expect(diverged.message).toMatch(message);
    expect(diverged.checkpoint).toBe(join(jobDir, 'checkpoint-0000002'));
    // --resume takes checkpoint 2; nothing non-finite was ever written.
    expect(checkpointFolders(jobDir)).toEqual(['checkpoint-0000001', 'checkpoint-0000002', 'checkpoint-0000003-diverged']);
    for (const name of checkpointFolders(jobDir)) expect(nonFiniteWeights(join(jobDir, name))).toBe(0);
    const warnings = readMetrics(jobDir).filter((record) => record.type === 'warning');
    expect(warnings.map((w) => [w.kind, w.step])).toEqual([...Array.from({ length: 10 }, (_, i) => [kind, kind === 'loss-explosion' ? 4 + i : 4]), ['diverged', step]]);
    expect(warnings.at(-1)?.message).toBe(diverged.message);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('a run that ends mid-explosion has diverged too: its last weights are not saved', async () => {
    const jobDir = join(dir, 'ends-exploding');
    await runTraining({ ...QUIET, config: DIGITS_C4_CONFIG, overrides: [...tiny(), 'train.steps=2'], jobDir });
    const outcome = runTraining({ ...QUIET, config: DIGITS_C4_CONFIG, overrides: ['train.optimizer.lr=1e6', 'train.steps=5'], jobDir, resume: true });
    await expect(outcome).rejects.toThrow(
      `training diverged at step 5: the run ended with 2 exploded step(s) in a row; kept the last good checkpoint ${join(jobDir, 'checkpoint-0000002')}; lower`,
    );
    // Checkpoint 4 was due during the explosion: put off, never written.
    expect(checkpointFolders(jobDir)).toEqual(['checkpoint-0000002']);
  });

  it('weights that became non-finite stop the run whatever error the step then raises', async () => {
    const { run } = await prepareRun({ ...QUIET, config: DIGITS_C4_CONFIG, overrides: tiny(), jobDir: join(dir, 'nan-weights') });
    for (const [name, variable] of flattenParams(run.params)) if (name.startsWith('rpn.')) variable.assign(tf.fill(variable.shape, NaN));
    try {
      await expect(runSteps(run)).rejects.toThrow(
        /^training diverged at step 1: the weights became non-finite \(the step failed with: Error in generateProposalsSync: 'objectness' must not contain NaN.*\); no good checkpoint was written before it; lower/,
      );
    } finally {
      disposeOptimizer(run.optimizer);
      disposeParams(run.params);
    }
  });

  it('a stop request during non-finite steps ends the run and saves nothing from the bad weights', async () => {
    const jobDir = join(dir, 'stop-non-finite');
    const stop = new StopRequest();
    const lines: string[] = [];
    const log = (line: string) => {
      lines.push(line);
      if (lines.filter((l) => l.includes('non-finite loss')).length === 3) stop.request('SIGTERM');
    };
    const overrides = [...tiny(), 'train.optimizer.lr=1e30', 'train.divergence.maxBadSteps=1000', 'train.steps=50'];
    const tensors = tf.memory().numTensors;
    const result = await runTraining({ plain: true, log, stop, config: DIGITS_C4_CONFIG, overrides, jobDir });
    expect(result).toMatchObject({ interrupted: true, signal: 'SIGTERM', step: 1, checkpoint: null, finalEvaluations: [] });
    expect(lines.filter((l) => l.includes('non-finite loss'))).toHaveLength(3);
    expect(lines).toContain('not saving step 1: the last 3 step(s) had a bad loss; the last checkpoint is none');
    expect(lines.at(-1)).toBe('stopped by SIGTERM at step 1; no checkpoint to continue from');
    expect(checkpointFolders(jobDir)).toEqual([]);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});

describe('a bad example', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-bad-example-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The dataset with the examples `isBad` picks labelled 0 (background), which the train step rejects. */
  function withBadExamples(dataset: Dataset, isBad: (index: number) => boolean): Dataset {
    const at = (index: number) => {
      const example = dataset.at(index);
      return isBad(index) ? { ...example, labels: new Int32Array(example.labels.length) } : example;
    };
    return { ...dataset, at };
  }

  async function runWith(name: string, isBad: (index: number) => boolean, extra: string[] = []): Promise<{ run: TrainingRun; outcome: Promise<unknown> }> {
    const overrides = [...tinyOverrides(join(dir, 'digits')), 'eval.finalSplits=[]', 'train.steps=4', ...extra];
    const { run } = await prepareRun({ ...QUIET, config: DIGITS_C4_CONFIG, overrides, jobDir: join(dir, name) });
    run.train = withBadExamples(run.train, isBad);
    const outcome = runSteps(run).finally(() => {
      disposeOptimizer(run.optimizer);
      disposeParams(run.params);
    });
    return { run, outcome };
  }

  it('is skipped with its batch, and the run trains on', async () => {
    const tensors = tf.memory().numTensors;
    const { run, outcome } = await runWith('one-bad', (index) => index === 0);
    const badId = run.train.at(0).id;
    await expect(outcome).resolves.toMatchObject({ interrupted: false, checkpoint: join(run.jobDir, 'checkpoint-0000004') });
    expect(run.optimizer.step).toBe(4);
    const records = readMetrics(run.jobDir);
    const skipped = records.filter((record) => record.type === 'skipped');
    expect(skipped.length).toBeGreaterThan(0);
    for (const record of skipped) {
      expect(record.ids).toContain(badId);
      expect(record.error).toMatch(/'gtLabels' must be class ids >= 1/);
    }
    expect(records.filter((record) => record.type === 'warning')).toEqual([]);
    expect(trainSteps(run.jobDir)).toEqual([1, 2, 3, 4]);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('in every batch stops the run on its error after maxBadSteps batches', async () => {
    const { run, outcome } = await runWith('all-bad', () => true, ['train.divergence.maxBadSteps=3']);
    await expect(outcome).rejects.toThrow(/'gtLabels' must be class ids >= 1/);
    expect(readMetrics(run.jobDir).filter((record) => record.type === 'skipped')).toHaveLength(3);
  });
});

describe('a stop request', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-stop-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const overrides = () => [...tinyOverrides(join(dir, 'digits')), 'eval.finalSplits=[]', 'train.steps=6', 'train.checkpointEvery=100'];

  async function stepsOf(run: TrainingRun): Promise<LoopResult> {
    try {
      return await runSteps(run);
    } finally {
      disposeOptimizer(run.optimizer);
      disposeParams(run.params);
    }
  }

  it('during a periodic evaluation cuts it short, saves the step and returns', async () => {
    const lines: string[] = [];
    const { run } = await prepareRun({ plain: true, log: (line) => lines.push(line), config: DIGITS_C4_CONFIG, overrides: [...overrides(), 'train.evalEvery=2'], jobDir: join(dir, 'eval') });
    // The evaluation reads its first val example: that is when the stop is requested.
    const val = run.val;
    run.val = { ...val, at: (index) => (run.stop.request(), val.at(index)) };
    const result = await stepsOf(run);
    expect(result).toMatchObject({ interrupted: true, signal: null, checkpoint: join(run.jobDir, 'checkpoint-0000002'), evaluation: null });
    expect(lines).toContain('eval at step 2: cut short by a stop request');
    expect(trainSteps(run.jobDir)).toEqual([1, 2]);
    expect(readMetrics(run.jobDir).filter((record) => record.type === 'eval')).toEqual([]);
  });

  it('while the loop waits for data ends it without the data, and saves the step', async () => {
    // The fifth example's image is a named pipe nobody writes to: reading it waits until the pipe is opened for writing.
    const pipe = join(dir, 'never-written.jpg');
    execFileSync('mkfifo', [pipe]);
    const { run } = await prepareRun({ ...QUIET, config: DIGITS_C4_CONFIG, overrides: [...overrides(), 'data.loader.prefetch=1', 'data.loader.concurrency=1'], jobDir: join(dir, 'wait') });
    const train = run.train;
    let reads = 0;
    run.train = {
      ...train,
      at: (index) => {
        if (++reads < 5) return train.at(index);
        setTimeout(() => run.stop.request(), 300);
        return { ...train.at(index), imagePath: pipe };
      },
    };
    try {
      const waited = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the loop kept waiting for data')), 10_000).unref());
      const result = await Promise.race([stepsOf(run), waited]);
      expect(result).toMatchObject({ interrupted: true, checkpoint: join(run.jobDir, 'checkpoint-0000002') });
      expect(trainSteps(run.jobDir)).toEqual([1, 2]);
    } finally {
      // Lets the pending read end (at end of file), so no thread stays blocked on the pipe.
      try {
        closeSync(openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // No reader had opened it.
      }
    }
  });
});
