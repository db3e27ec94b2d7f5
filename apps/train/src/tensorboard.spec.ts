import { loadCheckpoint, LOSS_NAMES } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEventFile, type DecodedEvent } from './testing/event-reader';
import { DIGITS_CONFIG, QUIET, readMetrics, tinyOverrides } from './testing/tiny-run';
import { runTraining } from './train';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lumen-tensorboard-'));
  await initBackend({ backend: 'wasm', log: () => undefined });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TRAIN_TAGS = [...LOSS_NAMES.map((name) => `loss/${name.replace(/^loss_/, '')}`), 'loss/total', 'lr', 'grad_norm', 'steps_per_second', 'images_per_second'].sort();

/** The job's event files in the order TensorBoard reads them (by name). */
function eventFiles(jobDir: string): string[] {
  return readdirSync(jobDir)
    .filter((name) => name.startsWith('events.out.tfevents.'))
    .sort()
    .map((name) => join(jobDir, name));
}

const stepsWith = (events: DecodedEvent[], tag: string) => events.filter((e) => e.scalars && tag in e.scalars).map((e) => e.step);

/**
 * A run's folder as TensorBoard's event loader sees it: files in name order, and a SessionLog
 * START after the first one dropping what was logged at its step and after.
 */
function mergedAsTensorBoard(jobDir: string): DecodedEvent[] {
  let kept: DecodedEvent[] = [];
  let seenStart = false;
  for (const path of eventFiles(jobDir)) {
    for (const event of readEventFile(path)) {
      if (event.sessionStatus === 1) {
        if (seenStart) kept = kept.filter((e) => e.step < event.step);
        seenStart = true;
      } else if (event.scalars) kept.push(event);
    }
  }
  return kept;
}

/** Checks one evaluation's scalars: the mAP is the mean of the per-class APs (VOC: over the classes with ground truth). */
function expectEvaluation(scalars: Record<string, number>, group: string, classes: string[]) {
  const aps = Object.entries(scalars).filter(([tag]) => tag.startsWith(`${group}/AP/`));
  expect(aps.length).toBeGreaterThan(0);
  for (const [tag, ap] of aps) {
    expect(classes).toContain(tag.slice(`${group}/AP/`.length));
    expect(ap).toBeGreaterThanOrEqual(0);
    expect(ap).toBeLessThanOrEqual(1);
  }
  expect(Object.keys(scalars).sort()).toEqual([`${group}/mAP`, ...aps.map(([tag]) => tag)].sort());
  expect(scalars[`${group}/mAP`]).toBeCloseTo(aps.reduce((sum, [, ap]) => sum + ap, 0) / aps.length, 5);
}

describe('TensorBoard event files', () => {
  it('hold what metrics.jsonl holds, at the training step; a resumed run writes its own file and TensorBoard shows each step once', async () => {
    const jobDir = join(dir, 'job');
    const overrides = [...tinyOverrides(join(dir, 'digits')), 'train.evalEvery=2', 'train.keepCheckpoints=5', 'eval.finalSplits=[test]'];
    const before = Date.now() / 1000;
    await runTraining({ ...QUIET, config: DIGITS_CONFIG, overrides: [...overrides, 'train.steps=4'], jobDir });
    const { classes } = loadCheckpoint(join(jobDir, 'checkpoint-0000004')).meta;
    const [firstPath, ...none] = eventFiles(jobDir);
    expect(none).toEqual([]);
    const first = readEventFile(firstPath);
    expect(first[0]).toEqual({ wallTime: expect.any(Number), step: 0, fileVersion: 'brain.Event:2' });
    expect(first[1]).toMatchObject({ step: 1, sessionStatus: 1 });
    for (const event of first) {
      expect(event.wallTime).toBeGreaterThanOrEqual(Math.floor(before));
      expect(event.wallTime).toBeLessThanOrEqual(Date.now() / 1000);
    }

    // Every train record of metrics.jsonl is an event at its step with its numbers (as float32).
    const trainEvents = first.filter((e) => e.scalars && 'loss/total' in e.scalars);
    const trainRecords = readMetrics(jobDir).filter((r) => r.type === 'train');
    expect(trainEvents.map((e) => e.step)).toEqual([1, 2, 3, 4]);
    trainEvents.forEach(({ scalars }, i) => {
      const record = trainRecords[i] as Record<string, number>;
      expect(Object.keys(scalars ?? {}).sort()).toEqual(TRAIN_TAGS);
      expect(scalars).toEqual({
        ...Object.fromEntries(LOSS_NAMES.map((name) => [`loss/${name.replace(/^loss_/, '')}`, Math.fround(record[name])])),
        'loss/total': Math.fround(record.loss),
        lr: Math.fround(record.lr),
        grad_norm: Math.fround(record.gradNorm),
        steps_per_second: Math.fround(record.stepsPerSecond),
        images_per_second: Math.fround(record.imagesPerSecond),
      });
    });

    // Periodic evaluations at 2 and 4 (eval/…), the closing one on the test split at 4 (final/test/…).
    const evalRecords = readMetrics(jobDir).filter((r) => r.type === 'eval');
    expect(stepsWith(first, 'eval/mAP')).toEqual([2, 4]);
    expect(stepsWith(first, 'final/test/mAP')).toEqual([4]);
    for (const event of first.filter((e) => e.scalars && 'eval/mAP' in e.scalars)) {
      expectEvaluation(event.scalars ?? {}, 'eval', classes);
      const record = evalRecords.find((r) => r.step === event.step && !r.final);
      expect(event.scalars?.['eval/mAP']).toBe(Math.fround(record?.mAP as number));
    }
    expectEvaluation(first.find((e) => e.scalars && 'final/test/mAP' in e.scalars)?.scalars ?? {}, 'final/test', classes);

    // As if the process had died after logging steps 3 and 4 but before checkpoint 4 was written.
    rmSync(join(jobDir, 'checkpoint-0000004'), { recursive: true });
    await runTraining({ ...QUIET, config: DIGITS_CONFIG, overrides: ['train.steps=6'], jobDir, resume: true });
    const files = eventFiles(jobDir);
    expect(files).toHaveLength(2);
    expect(files[0]).toBe(firstPath);
    expect(readEventFile(firstPath)).toEqual(first);
    const second = readEventFile(files[1]);
    expect(second[0]).toMatchObject({ step: 0, fileVersion: 'brain.Event:2' });
    // Resumed from checkpoint 2: the run starts at step 3.
    expect(second[1]).toMatchObject({ step: 3, sessionStatus: 1 });
    expect(stepsWith(second, 'loss/total')).toEqual([3, 4, 5, 6]);
    expect(stepsWith(second, 'eval/mAP')).toEqual([4, 6]);
    expect(stepsWith(second, 'final/test/mAP')).toEqual([6]);

    const merged = mergedAsTensorBoard(jobDir);
    expect(stepsWith(merged, 'loss/total')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(stepsWith(merged, 'eval/mAP')).toEqual([2, 4, 6]);
    expect(stepsWith(merged, 'final/test/mAP')).toEqual([6]);
  });
});
