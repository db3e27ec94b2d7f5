import { loadConfig, type LoadedConfig } from '@lumen/config';
import { fromWorkspace, UserError } from '@lumen/core';
import { assignParams, loadCheckpoint, restoreOptimizer, type DetectorParams, type LoadedCheckpoint, type OptimizerState } from '@lumen/detector';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const CHECKPOINT_PREFIX = 'checkpoint-';
/** A checkpoint folder's name; `<name>.partial` (being written) and `<name>-diverged` (set aside) are not checkpoints. */
const CHECKPOINT_NAME = /^checkpoint-\d+$/;

/** `jobs/<config>-<YYYYMMDD-HHMMSS>` under the workspace root: a new folder per run unless --job-dir names one. */
export function newJobDir(configName: string, now = new Date(), jobs = fromWorkspace('jobs')): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return join(jobs, `${configName}-${stamp}`);
}

/**
 * Creates and returns a new job folder: newJobDir's, or with `-2`, `-3`… when a run started in
 * the same second already has it (two runs must never share checkpoints). `mkdir` without
 * `recursive` fails on an existing folder, so two processes cannot both claim one.
 */
export function claimJobDir(configName: string, now = new Date(), jobs = fromWorkspace('jobs')): string {
  const base = newJobDir(configName, now, jobs);
  mkdirSync(jobs, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    try {
      mkdirSync(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** The most recent `jobs/<config>-*` folder that holds a checkpoint (for --resume without --job-dir). */
export function latestJobDir(configName: string): string | null {
  const jobs = fromWorkspace('jobs');
  if (!existsSync(jobs)) return null;
  const candidates = readdirSync(jobs)
    .filter((name) => name.startsWith(`${configName}-`))
    .map((name) => join(jobs, name))
    .filter((dir) => listCheckpoints(dir).length > 0)
    .sort();
  return candidates.at(-1) ?? null;
}

export function checkpointDir(jobDir: string, step: number): string {
  return join(jobDir, `${CHECKPOINT_PREFIX}${String(step).padStart(7, '0')}`);
}

/** Checkpoint folders of a job, oldest first (by step). */
export function listCheckpoints(jobDir: string): string[] {
  if (!existsSync(jobDir)) return [];
  return readdirSync(jobDir)
    .filter((name) => CHECKPOINT_NAME.test(name))
    .filter((name) => statSync(join(jobDir, name)).isDirectory())
    .sort()
    .map((name) => join(jobDir, name));
}

/**
 * Keeps the last `keep` checkpoints and those in `protect` (the best by the metric the caller
 * tracks, the last one known good); deletes the others.
 */
export function pruneCheckpoints(jobDir: string, keep: number, protect: ReadonlyArray<string | null>): string[] {
  const all = listCheckpoints(jobDir).map((dir) => resolve(dir));
  const keepSet = new Set(all.slice(-keep));
  for (const dir of protect) if (dir) keepSet.add(resolve(dir));
  const removed = all.filter((dir) => !keepSet.has(dir));
  for (const dir of removed) rmSync(dir, { recursive: true, force: true });
  return removed;
}

/**
 * Renames a checkpoint whose weights a diverged run wrote to `<dir>-diverged`, out of --resume's
 * way (kept for a look, never pruned). Returns the new path.
 */
export function setAsideCheckpoint(dir: string): string {
  const aside = `${dir}-diverged`;
  rmSync(aside, { recursive: true, force: true });
  renameSync(dir, aside);
  return aside;
}

/** metrics.jsonl: one JSON object per line (training logs and evaluations). */
export class MetricsLog {
  readonly path: string;
  constructor(jobDir: string) {
    mkdirSync(jobDir, { recursive: true });
    this.path = join(jobDir, 'metrics.jsonl');
  }
  write(record: Record<string, unknown>): void {
    appendFileSync(this.path, JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
  }

  /**
   * Keeps the records up to `step` (the checkpoint a run resumes from) and drops the later
   * ones, which the resumed run logs again, and any line a crash left half written. Rewritten
   * through a temporary file and a rename, so a crash leaves the old file or the new one.
   * Returns how many records were dropped.
   */
  keepUpTo(step: number): number {
    if (!existsSync(this.path)) return 0;
    const lines = readFileSync(this.path, 'utf8').split('\n').filter((line) => line.trim() !== '');
    const kept = lines.filter((line) => recordStep(line) <= step);
    const dropped = lines.length - kept.length;
    if (dropped > 0) {
      const temporary = `${this.path}.tmp`;
      writeFileSync(temporary, kept.map((line) => line + '\n').join(''));
      renameSync(temporary, this.path);
    }
    return dropped;
  }
}

/** A metrics.jsonl line's step: -Infinity for a record without one, NaN for a damaged line. */
function recordStep(line: string): number {
  try {
    const record = JSON.parse(line) as { step?: unknown };
    return typeof record.step === 'number' ? record.step : -Infinity;
  } catch {
    return NaN;
  }
}

/** A training run's folder, config and, when resuming, the checkpoint it continues from. */
export interface Job {
  dir: string;
  /** The config's name (`digits`, or a file's stem): new job folders are `jobs/<name>-<time>`. */
  configName: string;
  loaded: LoadedConfig;
  checkpoint: LoadedCheckpoint | null;
}

export interface JobOptions {
  /** Config name or path. */
  config: string;
  overrides?: string[];
  jobDir?: string;
  resume?: boolean;
}

/**
 * A new job (a fresh folder, or --job-dir when it holds no checkpoint), or with `resume` the
 * last checkpoint of --job-dir or of the config's latest job, continued with the config it was
 * started with (--set still applies, e.g. more steps).
 */
export function openJob(options: JobOptions): Job {
  const loaded = loadConfig(options.config, { overrides: options.overrides });
  const configName = loaded.name;
  if (!options.resume) {
    const dir = options.jobDir ?? claimJobDir(configName);
    if (listCheckpoints(dir).length > 0) {
      throw new UserError(`${dir} already holds checkpoints: pass --resume to continue that run, or another --job-dir`);
    }
    return { dir, configName, loaded, checkpoint: null };
  }
  const dir = options.jobDir ?? latestJobDir(configName);
  const last = dir ? listCheckpoints(dir).at(-1) : undefined;
  if (!dir || !last) throw new UserError(`--resume: no checkpoint found in ${dir ?? join(fromWorkspace('jobs'), `${configName}-*`)}; start a run without --resume first`);
  return { dir, configName, loaded: loadConfig(`${last}/config.yaml`, { overrides: options.overrides }), checkpoint: loadCheckpoint(last) };
}

/**
 * Puts a resumed run back where its checkpoint left it: weights, optimizer slots and step;
 * returns the data position (epoch, offset) to continue from, so the run takes the steps an
 * uninterrupted one would.
 */
export function restoreRun(checkpoint: LoadedCheckpoint, params: DetectorParams, optimizer: OptimizerState): { epoch: number; offset: number } {
  assignParams(params, checkpoint.weights, `${checkpoint.dir}/weights.safetensors`);
  if (checkpoint.optimizer) restoreOptimizer(optimizer, checkpoint.optimizer, `${checkpoint.dir}/optimizer.safetensors`);
  const { resume } = checkpoint.meta;
  optimizer.step = resume?.optimizerStep ?? checkpoint.meta.step;
  return resume ? { epoch: resume.epoch, offset: resume.offset } : { epoch: 0, offset: 0 };
}
