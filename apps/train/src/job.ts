import { loadConfig, type LoadedConfig } from '@lumen/config';
import { UserError } from '@lumen/core';
import { assignParams, loadCheckpoint, restoreOptimizer, type DetectorParams, type LoadedCheckpoint, type OptimizerState } from '@lumen/detector';
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const CHECKPOINT_PREFIX = 'checkpoint-';

/** `jobs/<config>-<YYYYMMDD-HHMMSS>`: a new folder per run unless --job-dir names one. */
export function newJobDir(configName: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return resolve('jobs', `${configName}-${stamp}`);
}

/** The most recent `jobs/<config>-*` folder that holds a checkpoint (for --resume without --job-dir). */
export function latestJobDir(configName: string): string | null {
  const jobs = resolve('jobs');
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
    .filter((name) => name.startsWith(CHECKPOINT_PREFIX) && !name.endsWith('.partial'))
    .filter((name) => statSync(join(jobDir, name)).isDirectory())
    .sort()
    .map((name) => join(jobDir, name));
}

/**
 * Keeps the last `keep` checkpoints and the best one (by the metric the caller tracks);
 * deletes the others.
 */
export function pruneCheckpoints(jobDir: string, keep: number, best: string | null): string[] {
  const all = listCheckpoints(jobDir).map((dir) => resolve(dir));
  const keepSet = new Set(all.slice(-keep));
  if (best) keepSet.add(resolve(best));
  const removed = all.filter((dir) => !keepSet.has(dir));
  for (const dir of removed) rmSync(dir, { recursive: true, force: true });
  return removed;
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
    const dir = options.jobDir ?? newJobDir(configName);
    if (listCheckpoints(dir).length > 0) {
      throw new UserError(`${dir} already holds checkpoints: pass --resume to continue that run, or another --job-dir`);
    }
    return { dir, configName, loaded, checkpoint: null };
  }
  const dir = options.jobDir ?? latestJobDir(configName);
  const last = dir ? listCheckpoints(dir).at(-1) : undefined;
  if (!dir || !last) throw new UserError(`--resume: no checkpoint found in ${dir ?? `jobs/${configName}-*`}; start a run without --resume first`);
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
