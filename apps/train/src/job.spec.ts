import { loadConfig } from '@lumen/config';
import { UserError } from '@lumen/core';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimJobDir, latestJobDir, listCheckpoints, MetricsLog, newJobDir, pruneCheckpoints, setAsideCheckpoint } from './job';
import { DIGITS_CONFIG, QUIET, readMetrics, tinyOverrides, trainSteps, WORKSPACE } from './testing/tiny-run';
import { checkInputsExist, runTraining } from './train';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lumen-job-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `fn` with the working directory at `cwd`. */
function inFolder<T>(cwd: string, fn: () => T): T {
  const previous = process.cwd();
  process.chdir(cwd);
  try {
    return fn();
  } finally {
    process.chdir(previous);
  }
}

describe('relative paths', () => {
  it('put new job folders under the workspace, from any folder in it', () => {
    const stamp = new Date('2026-01-02T03:04:05Z');
    expect(inFolder(join(WORKSPACE, 'apps/train/src'), () => newJobDir('digits', stamp))).toBe(join(WORKSPACE, 'jobs', 'digits-20260102-030405'));
  });

  it('give two runs started in the same second folders of their own', () => {
    const jobs = mkdtempSync(join(tmpdir(), 'lumen-jobs-'));
    try {
      const stamp = new Date('2026-01-02T03:04:05Z');
      const claimed = [1, 2, 3].map(() => claimJobDir('digits', stamp, jobs));
      expect(claimed).toEqual(['digits-20260102-030405', 'digits-20260102-030405-2', 'digits-20260102-030405-3'].map((name) => join(jobs, name)));
      expect(claimed.every((dir) => statSync(dir).isDirectory())).toBe(true);
    } finally {
      rmSync(jobs, { recursive: true, force: true });
    }
  });

  it("find --resume's latest job under the workspace, from any folder in it", () => {
    const jobs = join(WORKSPACE, 'jobs');
    const madeJobs = !existsSync(jobs);
    const config = `spec-${process.pid}`;
    const job = join(jobs, `${config}-20260102-030405`);
    mkdirSync(join(job, 'checkpoint-0000001'), { recursive: true });
    try {
      expect(inFolder(join(WORKSPACE, 'apps'), () => latestJobDir(config))).toBe(job);
    } finally {
      rmSync(madeJobs ? jobs : job, { recursive: true, force: true });
    }
  });

  it('are checked, and reported, as the absolute path that was looked at', () => {
    const voc = loadConfig(join(WORKSPACE, 'configs/voc.yaml'), { overrides: ['data.dataset.dir=data/nowhere/VOC2007'] }).config;
    const check = () => inFolder(join(WORKSPACE, 'apps'), () => checkInputsExist(voc, 'voc'));
    expect(check).toThrow(UserError);
    expect(check).toThrow(`The 'voc' config reads its dataset from ${join(WORKSPACE, 'data/nowhere/VOC2007')}, which does not exist.`);
    const digits = loadConfig(DIGITS_CONFIG, { overrides: ['model.backbone.weights=weights/nowhere.safetensors'] }).config;
    expect(() => inFolder(join(WORKSPACE, 'apps'), () => checkInputsExist(digits, 'digits'))).toThrow(
      `pretrained resnet18 weights at ${join(WORKSPACE, 'weights/nowhere.safetensors')}, which do not exist`,
    );
  });
});

describe('checkpoint folders', () => {
  it('are the checkpoint-N folders only; pruning keeps the last ones and the protected ones', () => {
    const jobDir = join(dir, 'prune');
    for (const name of ['checkpoint-0000001', 'checkpoint-0000002', 'checkpoint-0000003', 'checkpoint-0000004', 'checkpoint-0000005.partial']) mkdirSync(join(jobDir, name), { recursive: true });
    expect(setAsideCheckpoint(join(jobDir, 'checkpoint-0000004'))).toBe(join(jobDir, 'checkpoint-0000004-diverged'));
    expect(listCheckpoints(jobDir)).toEqual([1, 2, 3].map((step) => join(jobDir, `checkpoint-000000${step}`)));
    expect(pruneCheckpoints(jobDir, 1, [null, join(jobDir, 'checkpoint-0000001')])).toEqual([join(jobDir, 'checkpoint-0000002')]);
    expect(listCheckpoints(jobDir)).toEqual([join(jobDir, 'checkpoint-0000001'), join(jobDir, 'checkpoint-0000003')]);
  });
});

describe('MetricsLog.keepUpTo', () => {
  it('keeps the records up to a step (and those without one), drops later and damaged lines, in place', () => {
    const metrics = new MetricsLog(join(dir, 'keep'));
    for (const step of [1, 2, 3]) metrics.write({ type: 'train', step });
    metrics.write({ type: 'note' });
    metrics.write({ type: 'checkpoint', step: 2 });
    writeFileSync(metrics.path, readFileSync(metrics.path, 'utf8') + '{"type":"tra');
    expect(metrics.keepUpTo(2)).toBe(2);
    expect(readMetrics(join(dir, 'keep')).map((r) => [r.type, r.step])).toEqual([['train', 1], ['train', 2], ['note', undefined], ['checkpoint', 2]]);
    expect(metrics.keepUpTo(2)).toBe(0);
    expect(new MetricsLog(join(dir, 'empty')).keepUpTo(5)).toBe(0);
  });
});

describe('a resumed run', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: () => undefined });
  });

  it("drops the records logged after its checkpoint, so metrics.jsonl has each step once", async () => {
    const jobDir = join(dir, 'resume');
    const overrides = [...tinyOverrides(join(dir, 'digits')), 'eval.finalSplits=[]', 'train.keepCheckpoints=5'];
    const tensors = tf.memory().numTensors;
    await runTraining({ ...QUIET, config: DIGITS_CONFIG, overrides: [...overrides, 'train.steps=4'], jobDir });
    // As if the process had died after logging steps 3 and 4 but before checkpoint 4 was written.
    rmSync(join(jobDir, 'checkpoint-0000004'), { recursive: true });
    const lines: string[] = [];
    await runTraining({ plain: true, log: (line) => lines.push(line), config: DIGITS_CONFIG, overrides: ['train.steps=6'], jobDir, resume: true });
    // train 3, train 4, the val evaluation at 4 and checkpoint 4.
    expect(lines).toContain('metrics.jsonl: dropped 4 record(s) logged after step 2; this run logs those steps again');
    expect(trainSteps(jobDir)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(readMetrics(jobDir).filter((r) => r.type === 'checkpoint').map((r) => r.step)).toEqual([2, 4, 6]);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
