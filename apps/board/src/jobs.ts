// The jobs the board shows: the folders of a jobs folder that hold a metrics.jsonl (or the
// folder itself, when --jobs names one job), each read again only when its file changed.
import { UserError } from '@lumen/core';
import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { parseMetrics, type JobSeries } from './metrics';

export const METRICS_FILE = 'metrics.jsonl';

export interface JobFile {
  /** The job folder's name (unique within the jobs folder). */
  name: string;
  dir: string;
  bytes: number;
  /** When metrics.jsonl last changed (ms since the epoch). */
  modified: number;
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code ?? String(error);

/** What `lumen train` writes, for messages that tell a user how to get jobs. */
const HOW_TO_MAKE_JOBS = 'lumen train writes jobs/<config>-<time>/metrics.jsonl (or --job-dir DIR/metrics.jsonl)';

/** --jobs must be an existing folder: a UserError saying how to get one otherwise. */
export function checkJobsFolder(dir: string): void {
  let stats: Stats;
  try {
    stats = statSync(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      throw new UserError(`no jobs folder at ${dir}: train a model first (${HOW_TO_MAKE_JOBS}), or point --jobs at the folder that holds your job folders`);
    }
    throw new UserError(`cannot read the jobs folder ${dir} (${errorCode(error)})`);
  }
  if (!stats.isDirectory()) throw new UserError(`--jobs ${dir} is a file: give the folder that holds the job folders (${HOW_TO_MAKE_JOBS})`);
}

/** metrics.jsonl of `dir` when there is one (a file that vanishes meanwhile is no job). */
function jobFile(name: string, dir: string): JobFile | null {
  try {
    const stats = statSync(join(dir, METRICS_FILE));
    return stats.isFile() ? { name, dir, bytes: stats.size, modified: stats.mtimeMs } : null;
  } catch {
    return null;
  }
}

/** The jobs under `jobsDir` sorted by name: its sub-folders with a metrics.jsonl, or `jobsDir` itself when it has one. */
export function listJobs(jobsDir: string): JobFile[] {
  checkJobsFolder(jobsDir);
  const self = jobFile(basename(jobsDir), jobsDir);
  if (self) return [self];
  return readdirSync(jobsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => jobFile(entry.name, join(jobsDir, entry.name)))
    .filter((job): job is JobFile => job != null)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Parsed metrics of each job, kept while the file's size and time stay the same. */
export class SeriesCache {
  private readonly entries = new Map<string, { version: string; series: JobSeries }>();

  series(job: JobFile): JobSeries {
    const version = `${job.bytes}:${job.modified}`;
    const cached = this.entries.get(job.dir);
    if (cached?.version === version) return cached.series;
    const series = parseMetrics(readFileSync(join(job.dir, METRICS_FILE), 'utf8'));
    this.entries.set(job.dir, { version, series });
    return series;
  }

  /** Forgets the jobs that are gone. */
  keepOnly(jobs: readonly JobFile[]): void {
    const dirs = new Set(jobs.map((job) => job.dir));
    for (const dir of this.entries.keys()) if (!dirs.has(dir)) this.entries.delete(dir);
  }
}
