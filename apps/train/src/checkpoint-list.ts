// `lumen checkpoint list`: every checkpoint under a jobs folder (jobs/<run>/checkpoint-N, or a
// checkpoint folder put there directly), one table row each.
import { describeBackbone, loadConfig } from '@lumen/config';
import { UserError } from '@lumen/core';
import { CONFIG_FILE, META_FILE, readCheckpointMeta } from '@lumen/detector';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { describeClasses, formatDate, validationMap } from './checkpoint-summary';

/** How deep under the jobs folder checkpoints are looked for (jobs/<run>/checkpoint-N is 2). */
const MAX_DEPTH = 4;

export interface ListedCheckpoint {
  dir: string;
  /** The job folder relative to the jobs folder (the checkpoint's own path when its name is not checkpoint-<step>). */
  job: string;
  step: number;
  valMap: number | null;
  backbone: string;
  classes: string[];
  createdAt: string;
}

export interface CheckpointListing {
  root: string;
  checkpoints: ListedCheckpoint[];
  /** Folders with a meta.json that could not be read as checkpoints, and why. */
  skipped: Array<{ dir: string; reason: string }>;
}

/** Folders holding a meta.json under `root` (root too), not descending into them; half-written `.partial` ones left out. */
export function findCheckpointFolders(root: string, depth = MAX_DEPTH): string[] {
  if (existsSync(join(root, META_FILE))) return [root];
  if (depth === 0) return [];
  const found: string[] = [];
  for (const name of readdirSync(root).sort()) {
    if (name.endsWith('.partial') || name.startsWith('.')) continue;
    const path = join(root, name);
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      // a dangling link: nothing to list
    }
    if (isDir) found.push(...findCheckpointFolders(path, depth - 1));
  }
  return found;
}

/** The checkpoints under a jobs folder, sorted by job and step. */
export function listCheckpointsUnder(root: string): CheckpointListing {
  if (!existsSync(root)) throw new UserError(`jobs folder ${root} does not exist: \`lumen train\` writes its jobs there; give another folder with --jobs`);
  if (!statSync(root).isDirectory()) throw new UserError(`--jobs ${root} is a file: give the folder holding the job folders`);
  const checkpoints: ListedCheckpoint[] = [];
  const skipped: CheckpointListing['skipped'] = [];
  for (const dir of findCheckpointFolders(root)) {
    try {
      const meta = readCheckpointMeta(dir);
      const config = loadConfig(join(dir, CONFIG_FILE)).config;
      const canonical = basename(dir) === `checkpoint-${String(meta.step).padStart(7, '0')}`;
      const job = (canonical ? relative(root, dirname(dir)) : relative(root, dir)) || (canonical ? '.' : basename(dir));
      checkpoints.push({
        dir,
        job,
        step: meta.step,
        valMap: validationMap(dir, meta.step, meta.metrics ?? {}),
        backbone: describeBackbone(config),
        classes: meta.classes,
        createdAt: meta.createdAt,
      });
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      skipped.push({ dir, reason: error.message });
    }
  }
  checkpoints.sort((a, b) => a.job.localeCompare(b.job) || a.step - b.step);
  return { root, checkpoints, skipped };
}

/** The listing as a table, or the sentence saying there is none. */
export function formatCheckpointList(listing: CheckpointListing): string {
  const { root, checkpoints } = listing;
  if (checkpoints.length === 0) return `no checkpoints in ${root} (\`lumen train\` writes them to jobs/<run>/checkpoint-NNNNNNN)`;
  const header = ['job', 'step', 'val mAP', 'backbone', 'classes', 'date'];
  const rows = checkpoints.map((c) => [c.job, String(c.step), c.valMap == null ? '-' : c.valMap.toFixed(4), c.backbone, describeClasses(c.classes), formatDate(c.createdAt)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = new Set([1, 2]);
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const count = `${checkpoints.length} checkpoint${checkpoints.length === 1 ? '' : 's'} in ${root}`;
  return [line(header), ...rows.map(line), '', count].join('\n');
}
