// Jest global teardown of the board's specs: removes what the global setup trained.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { JOBS_ENV } from './tiny-jobs';

export default function removeJobs(): void {
  const jobs = process.env[JOBS_ENV];
  if (jobs) rmSync(dirname(jobs), { recursive: true, force: true });
}
