/**
 * The digits checkpoint and images the `lumen predict` benches run: `--checkpoint`, else the
 * newest trained one under jobs/, else the digits config with random weights (the table
 * says so); and the first digits test images.
 */
import { loadConfig, type Config } from '@lumen/config';
import { seededRandom } from '@lumen/core';
import { ensureDigits } from '@lumen/data';
import { buildDetector, disposeParams, initDetector, saveCheckpoint } from '@lumen/detector';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

type Log = (message: string) => void;

/** The newest jobs/digits-* /checkpoint-* folder (by modification time), or null. */
export function newestDigitsCheckpoint(jobs = resolve('jobs')): string | null {
  if (!existsSync(jobs)) return null;
  const found: Array<{ dir: string; mtime: number }> = [];
  for (const job of readdirSync(jobs).filter((d) => d.startsWith('digits-'))) {
    const jobDir = join(jobs, job);
    if (!statSync(jobDir).isDirectory()) continue;
    for (const c of readdirSync(jobDir).filter((d) => /^checkpoint-\d+$/.test(d))) {
      const dir = join(jobDir, c);
      if (existsSync(join(dir, 'meta.json'))) found.push({ dir, mtime: statSync(join(dir, 'meta.json')).mtimeMs });
    }
  }
  found.sort((a, b) => b.mtime - a.mtime || b.dir.localeCompare(a.dir));
  return found[0]?.dir ?? null;
}

/**
 * A digits-config checkpoint with random weights, for machines without a trained one
 * (`overrides` as `--set`, e.g. a smaller image size). Needs a tfjs backend.
 */
export async function randomDigitsCheckpoint(dir: string, overrides: readonly string[] = []): Promise<void> {
  const { config } = loadConfig('digits', { overrides });
  const classes = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
  const detector = buildDetector(config, classes);
  const params = initDetector(detector, seededRandom(0));
  await saveCheckpoint(dir, { params, config, classes, step: 0 });
  disposeParams(params);
}

/** The checkpoint a bench's digits rows run: `--checkpoint`, the newest trained one, else random weights. */
export interface DigitsCheckpoint {
  dir: string;
  trained: boolean;
  /** Removes the random-weights checkpoint (nothing for a trained one). */
  remove(): void;
}

/** `given` (a bench's --checkpoint), else the newest trained one, else random weights in a scratch folder named after `bench`. */
export async function digitsCheckpoint(given: string | undefined, bench: string, log: Log): Promise<DigitsCheckpoint> {
  const found = given ?? newestDigitsCheckpoint();
  if (found != null) return { dir: found, trained: true, remove: () => undefined };
  const scratch = mkdtempSync(join(tmpdir(), `lumen-bench-${bench}-`));
  const dir = join(scratch, 'checkpoint-random');
  log('no jobs/digits-*/checkpoint-* here (train one: npx nx run train:serve): using the digits config with RANDOM weights');
  await randomDigitsCheckpoint(dir);
  return { dir, trained: false, remove: () => rmSync(scratch, { recursive: true, force: true }) };
}

/** The first `count` digits test images of a checkpoint's dataset (`config`: its config; generated when missing). */
export async function digitsTestImages(config: Config, count: number, log: Log): Promise<string[]> {
  const { dataset } = config.data;
  await ensureDigits({ dataset: { ...dataset, classes: dataset.classes ?? undefined } }, { log });
  const dir = resolve(dataset.dir);
  const ids = readFileSync(join(dir, 'ImageSets', 'Main', `${dataset.splits.test}.txt`), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  return ids.slice(0, count).map((id) => join(dir, 'JPEGImages', `${id}.jpg`));
}
