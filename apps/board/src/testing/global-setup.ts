// Jest global setup of the board's specs: trains the tiny jobs once (in parallel, each with
// its own generated data) into a temporary folder the specs find through JOBS_ENV.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOBS_ENV, TINY_JOBS, trainTinyJob } from './tiny-jobs';

export default async function trainJobs(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'lumen-board-jobs-'));
  const started = Date.now();
  await Promise.all(Object.entries(TINY_JOBS).map(([name, extra]) => trainTinyJob(join(root, 'jobs', name), join(root, `data-${name}`), extra)));
  process.env[JOBS_ENV] = join(root, 'jobs');
  process.stderr.write(`\nboard specs: trained ${Object.keys(TINY_JOBS).length} tiny jobs into ${join(root, 'jobs')} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
