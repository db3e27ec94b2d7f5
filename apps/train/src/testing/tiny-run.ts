// What the train app's specs share: the digits config made tiny (a run of a few steps takes
// well under a second after start-up), and readers for what a run leaves in its job folder.
import { loadCheckpoint } from '@lumen/detector';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const WORKSPACE = resolve(__dirname, '../../../..');
export const DIGITS_CONFIG = join(WORKSPACE, 'configs/digits.yaml');
/** The single-map variant, for specs that give their own single-map anchors. */
export const DIGITS_C4_CONFIG = join(WORKSPACE, 'configs/digits-c4.yaml');
/** The `lumen` command, as a user runs it. */
export const LUMEN_BIN = join(WORKSPACE, 'apps/cli/bin/lumen.js');

/**
 * --set overrides for a tiny digits run: 6/2/2/2 train/val/test/shift images generated under `dataDir` (once; later
 * runs read them), 96-128 px, an eighth-width ResNet-18 with small heads, constant lr, a
 * checkpoint every 2 steps, a metrics line per step, no periodic evaluation.
 */
export function tinyOverrides(dataDir: string): string[] {
  return [
    `data.dataset.dir=${dataDir}`,
    'data.dataset.digits.train=6',
    'data.dataset.digits.val=2',
    'data.dataset.digits.test=2',
    'data.dataset.digits.shift=2',
    'data.image.minSize=96',
    'data.augment.scaleJitter.prob=0',
    'data.image.maxSize=128',
    'model.backbone.width=0.125',
    'model.rcnn.hidden=32',
    'model.rpn.batchSizePerImage=32',
    'model.rcnn.batchSizePerImage=16',
    'train.schedule.type=constant',
    'train.schedule.warmupSteps=0',
    'train.checkpointEvery=2',
    'train.evalEvery=0',
    'train.logEvery=1',
    'eval.maxImages=2',
  ];
}

/** runTraining options that keep a spec's output clean. */
export const QUIET = { log: () => undefined, plain: true } as const;

/** The records of a job's metrics.jsonl. */
export function readMetrics(jobDir: string): Array<Record<string, unknown>> {
  const path = join(jobDir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The steps of a job's `train` records, in file order. */
export function trainSteps(jobDir: string): number[] {
  return readMetrics(jobDir)
    .filter((record) => record.type === 'train')
    .map((record) => record.step as number);
}

/** Every folder of a job whose name starts with `checkpoint-` (set-aside ones too), sorted. */
export function checkpointFolders(jobDir: string): string[] {
  return readdirSync(jobDir)
    .filter((name) => name.startsWith('checkpoint-'))
    .sort();
}

/** A run's checkpoint, which a spec expects it to have written. */
export function checkpointOf(result: { checkpoint: string | null }): string {
  if (result.checkpoint == null) throw new Error('the run wrote no checkpoint');
  return result.checkpoint;
}

/** How many weights of a checkpoint are NaN or infinite. */
export function nonFiniteWeights(dir: string): number {
  let count = 0;
  for (const { data } of Object.values(loadCheckpoint(dir).weights)) for (const value of data) if (!Number.isFinite(value)) count++;
  return count;
}
