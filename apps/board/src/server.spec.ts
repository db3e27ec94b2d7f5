// The board's server over real HTTP on 127.0.0.1 (port 0), reading jobs that `lumen train` wrote.
import { UserError } from '@lumen/core';
import { once } from 'node:events';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobSeries } from './metrics';
import { createBoardServer, type BoardServer, type JobSummary } from './server';
import { copyJobs, TINY_STEPS } from './testing/tiny-jobs';

type Records = Array<Record<string, unknown>>;
const records = (path: string): Records =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

async function get<T>(url: string): Promise<{ status: number; type: string; body: T }> {
  const response = await fetch(url);
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, type, body: (type.startsWith('application/json') ? await response.json() : await response.text()) as T };
}

describe('board server', () => {
  let root: string;
  let jobs: string;
  let server: BoardServer;
  let base: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lumen-board-server-'));
    jobs = join(root, 'jobs');
    copyJobs(jobs);
    server = await createBoardServer({ jobsDir: jobs });
    base = await server.listen({ port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('GET /api/jobs: every job with its last step', async () => {
    const { status, body } = await get<{ folder: string; jobs: JobSummary[] }>(`${base}/api/jobs`);
    expect(status).toBe(200);
    expect(body.folder).toBe(jobs);
    expect(body.jobs.map((job) => [job.name, job.dir, job.lastStep])).toEqual([
      ['digits-lr1', join(jobs, 'digits-lr1'), TINY_STEPS],
      ['digits-lr3', join(jobs, 'digits-lr3'), TINY_STEPS],
    ]);
    for (const job of body.jobs) expect(job.bytes).toBe(readFileSync(join(job.dir, 'metrics.jsonl')).length);
  });

  it("GET /api/jobs/:name: the job's losses, lr and mAP as metrics.jsonl has them", async () => {
    for (const name of ['digits-lr3', 'digits-lr1']) {
      const file = records(join(jobs, name, 'metrics.jsonl'));
      const train = file.filter((r) => r.type === 'train');
      const evals = file.filter((r) => r.type === 'eval' && r.final !== true);
      const { status, body } = await get<JobSeries & { name: string }>(`${base}/api/jobs/${name}`);
      expect(status).toBe(200);
      expect(body.name).toBe(name);
      expect(body.train.step).toEqual(train.map((r) => r.step));
      // Every loss term the trainer logged, the total, the learning rate, the rates.
      const lossTerms = Object.keys(train[0]).filter((key) => key.startsWith('loss'));
      expect(lossTerms.length).toBeGreaterThanOrEqual(5);
      for (const key of [...lossTerms, 'lr', 'gradNorm', 'stepsPerSecond', 'imagesPerSecond']) expect(body.train[key]).toEqual(train.map((r) => r[key]));
      expect(body.evals).toEqual({ step: evals.map((r) => r.step), mAP: evals.map((r) => r.mAP), split: 'val', metric: 'voc' });
      expect(body.finals.map((f) => f.split)).toEqual(['test', 'shift']);
      expect([body.warnings, body.skipped, body.damaged, body.partial]).toEqual([0, 0, 0, false]);
    }
    // logEvery 1 and 2; a val evaluation every 2 steps.
    expect((await get<JobSeries>(`${base}/api/jobs/digits-lr3`)).body.train.step).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await get<JobSeries>(`${base}/api/jobs/digits-lr1`)).body.train.step).toEqual([2, 4, 6]);
    expect((await get<JobSeries>(`${base}/api/jobs/digits-lr1`)).body.evals.step).toEqual([2, 4, 6]);
  });

  it('a line being written is skipped until its newline comes; a new job appears', async () => {
    const path = join(jobs, 'digits-lr3', 'metrics.jsonl');
    const next = JSON.stringify({ time: new Date().toISOString(), type: 'train', step: 7, loss: 1.5, lr: 0.003 }) + '\n';
    appendFileSync(path, next.slice(0, 30));
    let series = (await get<JobSeries>(`${base}/api/jobs/digits-lr3`)).body;
    expect(series.train.step.at(-1)).toBe(TINY_STEPS);
    expect(series.partial).toBe(true);
    appendFileSync(path, next.slice(30));
    series = (await get<JobSeries>(`${base}/api/jobs/digits-lr3`)).body;
    expect(series.train.step.at(-1)).toBe(7);
    expect(series.train.loss.at(-1)).toBe(1.5);
    expect(series.partial).toBe(false);

    mkdirSync(join(jobs, 'digits-new'));
    writeFileSync(join(jobs, 'digits-new', 'metrics.jsonl'), '');
    const listed = (await get<{ jobs: JobSummary[] }>(`${base}/api/jobs`)).body.jobs;
    expect(listed.map((job) => [job.name, job.lastStep])).toEqual([
      ['digits-lr1', TINY_STEPS],
      ['digits-lr3', 7],
      ['digits-new', null],
    ]);
  });

  it('serves the page and uPlot from node_modules (no CDN); unknown jobs and paths are 404 JSON', async () => {
    const page = await get<string>(base);
    expect(page.type).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<script src="/assets/uPlot.iife.min.js"></script>');
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    const script = await get<string>(`${base}/assets/uPlot.iife.min.js`);
    expect([script.status, script.type]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(script.body).toBe(readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'));
    expect((await get<string>(`${base}/assets/uPlot.min.css`)).type).toBe('text/css; charset=utf-8');

    expect(await get(`${base}/api/jobs/nope`)).toEqual({ status: 404, type: 'application/json; charset=utf-8', body: { error: `no job named 'nope' in ${jobs}` } });
    expect((await get(`${base}/api/jobs/..%2F..%2Fetc`)).status).toBe(404);
    expect(await get(`${base}/api/nothing`)).toEqual({ status: 404, type: 'application/json; charset=utf-8', body: { error: 'not found: GET /api/nothing' } });
  });

  it('a jobs folder removed while the board runs: 404 with the message', async () => {
    renameSync(jobs, `${jobs}-moved`);
    try {
      const { status, body } = await get<{ error: string }>(`${base}/api/jobs`);
      expect(status).toBe(404);
      expect(body.error).toMatch(new RegExp(`^no jobs folder at ${jobs}: train a model first`));
    } finally {
      renameSync(`${jobs}-moved`, jobs);
    }
  });

  it('listen: a port in use is a UserError naming host:port', async () => {
    const other = createNetServer().listen(0, '127.0.0.1');
    await once(other, 'listening');
    const port = (other.address() as { port: number }).port;
    const second = await createBoardServer({ jobsDir: jobs });
    try {
      await expect(second.listen({ port, host: '127.0.0.1' })).rejects.toStrictEqual(new UserError(`port ${port} on 127.0.0.1 is in use by another program: pick another with --port`));
    } finally {
      await second.close();
      other.close();
    }
  });
});
