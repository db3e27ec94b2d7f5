import { UserError } from '@lumen/core';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkJobsFolder, listJobs, SeriesCache } from './jobs';

const record = (step: number) => JSON.stringify({ type: 'train', step, loss: 1 / step }) + '\n';

describe('jobs folder', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'lumen-board-jobs-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('a missing folder or a file: a UserError saying how jobs are made', () => {
    const missing = join(root, 'jobs');
    expect(() => checkJobsFolder(missing)).toThrow(
      new UserError(`no jobs folder at ${missing}: train a model first (lumen train writes jobs/<config>-<time>/metrics.jsonl (or --job-dir DIR/metrics.jsonl)), or point --jobs at the folder that holds your job folders`),
    );
    const file = join(root, 'notes.txt');
    writeFileSync(file, 'x');
    expect(() => listJobs(file)).toThrow(UserError);
    expect(() => listJobs(file)).toThrow(/^--jobs .*notes\.txt is a file: give the folder that holds the job folders/);
  });

  it('lists the sub-folders with a metrics.jsonl by name; a folder with one is a job itself', () => {
    expect(listJobs(root)).toEqual([]);
    for (const name of ['voc-2', 'digits-1', 'empty']) mkdirSync(join(root, name));
    writeFileSync(join(root, 'voc-2', 'metrics.jsonl'), record(1));
    writeFileSync(join(root, 'digits-1', 'metrics.jsonl'), record(1) + record(2));
    writeFileSync(join(root, 'metrics.jsonl.bak'), 'not a job');
    const jobs = listJobs(root);
    expect(jobs.map((job) => [job.name, job.dir, job.bytes])).toEqual([
      ['digits-1', join(root, 'digits-1'), record(1).length + record(2).length],
      ['voc-2', join(root, 'voc-2'), record(1).length],
    ]);
    expect(listJobs(join(root, 'voc-2')).map((job) => job.name)).toEqual(['voc-2']);
  });

  it('SeriesCache reads a job again only when its file changed', () => {
    const dir = join(root, 'run');
    mkdirSync(dir);
    const path = join(dir, 'metrics.jsonl');
    writeFileSync(path, record(1));
    const cache = new SeriesCache();
    const first = cache.series(listJobs(root)[0]);
    expect(cache.series(listJobs(root)[0])).toBe(first);
    appendFileSync(path, record(2));
    expect(cache.series(listJobs(root)[0]).train.step).toEqual([1, 2]);
    // Same size, new time: read again.
    writeFileSync(path, record(1) + record(3));
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect(cache.series(listJobs(root)[0]).train.step).toEqual([1, 3]);
  });
});
