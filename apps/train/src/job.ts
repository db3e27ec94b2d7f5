import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A problem the user can fix (missing data, weights, bad flags): printed without a stack trace. */
export class UserError extends Error {
  override name = 'UserError';
}

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
