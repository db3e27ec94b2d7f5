// Real training jobs for the board's specs: `lumen train` run as a user runs it (a child
// process through the workspace's bin) on a tiny digits config, a few seconds each. The jest
// global setup trains them once per test run; specs copy them into folders of their own.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const WORKSPACE = resolve(__dirname, '../../../..');
export const LUMEN_BIN = join(WORKSPACE, 'apps/cli/bin/lumen.js');
/** The environment variable through which the global setup tells the specs where the jobs are. */
export const JOBS_ENV = 'LUMEN_BOARD_TEST_JOBS';

/** The jobs the global setup trains: names and the --set values that make them differ. */
export const TINY_JOBS: Record<string, string[]> = {
  'digits-lr3': ['train.optimizer.lr=0.003'],
  'digits-lr1': ['train.optimizer.lr=0.001', 'train.logEvery=2'],
};
/** Steps of every tiny job; a val evaluation every 2 of them, a checkpoint every 4, final test and shift evaluations. */
export const TINY_STEPS = 6;

/** --set values for a tiny digits run (as apps/train's specs use) with evaluations, so every kind of record is written. */
function tinyOverrides(dataDir: string): string[] {
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
    `train.steps=${TINY_STEPS}`,
    'train.logEvery=1',
    'train.evalEvery=2',
    'train.checkpointEvery=4',
    'eval.maxImages=2',
  ];
}

/** Runs `lumen train` into `jobDir` (its digits images generated into `dataDir`); rejects with its stderr on failure. */
export function trainTinyJob(jobDir: string, dataDir: string, extra: readonly string[] = []): Promise<void> {
  const sets = [...tinyOverrides(dataDir), ...extra].flatMap((value) => ['--set', value]);
  return new Promise((done, fail) => {
    execFile(process.execPath, [LUMEN_BIN, 'train', '--plain', '--job-dir', jobDir, ...sets], { cwd: WORKSPACE, timeout: 120000 }, (error, _stdout, stderr) =>
      error ? fail(new Error(`lumen train into ${jobDir} failed: ${error.message}\n${stderr}`)) : done(),
    );
  });
}

/** The folder of jobs the global setup trained. */
export function trainedJobs(): string {
  const dir = process.env[JOBS_ENV];
  if (!dir) throw new Error(`${JOBS_ENV} is not set: run the board's specs through apps/board/jest.config.js (its global setup trains the jobs)`);
  return dir;
}

/** Copies trained jobs (all by default) into `jobsDir` (metrics.jsonl only: the board reads nothing else). */
export function copyJobs(jobsDir: string, names: readonly string[] = Object.keys(TINY_JOBS)): void {
  for (const name of names) {
    mkdirSync(join(jobsDir, name), { recursive: true });
    cpSync(join(trainedJobs(), name, 'metrics.jsonl'), join(jobsDir, name, 'metrics.jsonl'));
  }
}
