// Prediction on workers through Debian's redis-server (BullMQ): each Redis is started here on a
// free port of 127.0.0.1 and stopped at the end. Where redis-server is missing the tests are
// skipped, saying so (.ci/run installs it).
import { checkpointIdentity, loadDetector, type CheckpointIdentity, type LoadedDetector } from '@lumen/detector';
import { QueueEvents } from 'bullmq';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { runPredictCommand, type PredictCliOptions } from './commands';
import { expandInputs } from './inputs';
import { UsageError, type PredictedObject } from './objects';
import { predictFiles, type Predictor } from './predict';
import { LOST_SECONDS } from './redis-connection';
import { RemoteDetector } from './remote-detector';
import { createServer, type LumenServer } from './server';
import { freePort, redisServerMissing, startRedis, type TestRedis } from './testing/redis-server';
import { makeTinyCheckpoint, testImage } from './testing/tiny-checkpoint';
import { startWorker, type PredictionWorker } from './worker';

const missing = redisServerMissing();
if (missing != null) console.warn(`SKIPPED the Redis queue tests: ${missing}`);
const withRedis = missing == null ? describe : describe.skip;

const ROOT = resolve(__dirname, '../../..');
const LUMEN = join(ROOT, 'apps/cli/bin/lumen.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quiet = () => undefined;

/** A Writable collecting the JSON Lines text. */
function collector() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

/** A `lumen` child process; `output()` is what it wrote to stderr so far. */
function lumen(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [LUMEN, ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  child.stdout?.resume();
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
  return { child, exited, stderr: () => stderr };
}

/** Waits until `check` holds, for at most `seconds`. */
async function until(check: () => boolean | Promise<boolean>, seconds: number, what: string): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await sleep(20);
  }
}

const lineCount = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

withRedis('prediction on workers through Redis (BullMQ)', () => {
  jest.setTimeout(120000);
  let dir: string;
  let checkpoint: string;
  let otherCheckpoint: string;
  let detector: LoadedDetector;
  let identity: CheckpointIdentity;
  let redis: TestRedis;
  /** Images (and one broken file), in the order a run lists them. */
  let files: string[];
  let localText: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-redis-spec-'));
    checkpoint = join(dir, 'checkpoint');
    otherCheckpoint = join(dir, 'other-checkpoint');
    await makeTinyCheckpoint(checkpoint);
    await makeTinyCheckpoint(otherCheckpoint, undefined, 4);
    mkdirSync(join(dir, 'images'));
    for (let i = 0; i < 160; i++) writeFileSync(join(dir, 'images', `${i}.${i % 3 === 0 ? 'png' : 'jpg'}`), await testImage(200 + (i % 7) * 20, 150 + (i % 5) * 20, i % 3 === 0 ? 'png' : 'jpeg', 100 + i));
    writeFileSync(join(dir, 'images', '77-broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00, 1, 2, 3]));
    files = await expandInputs([join(dir, 'images')], quiet);
    detector = loadDetector(checkpoint);
    identity = await checkpointIdentity(checkpoint);
    const out = collector();
    await predictFiles({ predictor: detector, files, output: out.stream, minProb: 0, progress: false, log: quiet });
    localText = out.text();
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.kill();
    detector?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('queued predict writes what a local run writes, in input order, and leaves no job on Redis', async () => {
    const workers = await Promise.all([1, 2].map(() => startWorker({ redis: redis.url, queueName: 'same', predictor: detector, checkpoint: identity, log: quiet })));
    const remote = await RemoteDetector.open({ redis: redis.url, queueName: 'same', checkpoint: identity, inFlight: 8 });
    try {
      expect(await remote.workers()).toBe(2);
      const out = collector();
      const summary = await predictFiles({ predictor: remote, files, output: out.stream, minProb: 0, progress: false, log: quiet });
      expect(out.text()).toBe(localText);
      expect(summary).toMatchObject({ images: files.length, failed: 1 });
      expect(out.text()).toContain(`"error":"cannot decode '${join(dir, 'images', '77-broken.jpg')}': `);
      // Both workers took jobs; every readable image was answered once.
      expect(workers.map((w) => w.done).every((n) => n > 0)).toBe(true);
      expect(workers[0].done + workers[1].done).toBe(files.length - 1);
    } finally {
      await remote.close();
      await Promise.all(workers.map((w) => w.close()));
    }
    const { Queue } = await import('bullmq');
    const queue = new Queue('same', { connection: { host: '127.0.0.1', port: redis.port } });
    const counts = await queue.getJobCounts();
    await queue.close();
    expect(Object.values(counts).every((n) => n === 0)).toBe(true);
  });

  it('kill -9 one of two worker processes mid-run: the output is still complete and in order; SIGTERM stops the other cleanly', async () => {
    const args = ['worker', '--redis', redis.url, '--checkpoint', checkpoint, '--queue-name', 'kill', '--lock-seconds', '1', '--concurrency', '2'];
    const [a, b] = [lumen(args), lumen(args)];
    const events = new QueueEvents('kill', { connection: { host: '127.0.0.1', port: redis.port } });
    let stalled = 0;
    events.on('stalled', () => stalled++);
    try {
      await events.waitUntilReady();
      await until(() => /serving queue kill/.test(a.stderr()) && /serving queue kill/.test(b.stderr()), 60, 'two workers to start');
      const output = join(dir, 'killed.jsonl');
      const localOutput = join(dir, 'local.jsonl');
      // The reference is a local run through the CLI too: the same backend as the workers'.
      const localRun = lumen(['predict', '--checkpoint', checkpoint, '--input', join(dir, 'images'), '--output', localOutput, '--min-prob', '0']);
      const producer = lumen(['predict', '--redis', redis.url, '--queue-name', 'kill', '--checkpoint', checkpoint, '--input', join(dir, 'images'), '--output', output, '--min-prob', '0', '--in-flight', '8']);
      await until(() => lineCount(output) >= 10, 60, 'the first lines');
      a.child.kill('SIGKILL');
      expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const done = await producer.exited;
      expect(done.code).toBe(1); // the broken image's line, as in a local run
      expect(lineCount(output)).toBe(files.length);
      expect((await localRun.exited).code).toBe(1);
      // Line by line, so a failure shows the lines that differ and not two whole files.
      const local = readFileSync(localOutput, 'utf8').split('\n');
      const differing = readFileSync(output, 'utf8').split('\n').flatMap((line, i) => (line === local[i] ? [] : [{ line: i + 1, queued: line, local: local[i] }]));
      expect(differing).toEqual([]);
      // The killed worker held jobs (the producer keeps 8 in flight): their locks expired and the other worker took them.
      expect(stalled).toBeGreaterThan(0);
      b.child.kill('SIGTERM');
      expect(await b.exited).toEqual({ code: 0, signal: null });
      expect(b.stderr()).toMatch(/lumen worker: stopped; \d+ image\(s\) done/);
    } finally {
      for (const worker of [a, b]) if (worker.child.exitCode == null && worker.child.signalCode == null) worker.child.kill('SIGKILL');
      await events.close();
    }
  });

  it('a worker with other weights refuses the job, and the run stops with an error naming both', async () => {
    const other = loadDetector(otherCheckpoint);
    const worker = await startWorker({ redis: redis.url, queueName: 'mismatch', predictor: other, checkpoint: await checkpointIdentity(otherCheckpoint), log: quiet });
    const output = join(dir, 'mismatch.jsonl');
    try {
      const opts: PredictCliOptions = {
        checkpoint, input: [join(dir, 'images', '1.jpg')], output, redis: redis.url, queueName: 'mismatch',
        minProb: '0.5', maxDetections: '100', onlyClass: [], ignoreClass: [], concurrency: '2', prefetch: '4', progress: false,
      };
      const error = await runPredictCommand([], opts).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(
        new RegExp(`^worker .+ runs checkpoint ${otherCheckpoint} with weights sha256 [0-9a-f]{12}…, but the job is for weights sha256 ${identity.weightsSha256.slice(0, 12)}…: start the workers and the producer with the same checkpoint`),
      );
      expect(worker.done).toBe(0);
    } finally {
      await worker.close();
      other.dispose();
    }
  });

  it('Redis unreachable: a clear error within seconds; a bad --redis is a usage error', async () => {
    const port = await freePort();
    const opts: PredictCliOptions = {
      checkpoint, input: [join(dir, 'images')], redis: `redis://127.0.0.1:${port}`, minProb: '0.5', maxDetections: '100', onlyClass: [], ignoreClass: [], concurrency: '2', prefetch: '4', progress: false,
    };
    const started = Date.now();
    await expect(runPredictCommand([], opts)).rejects.toStrictEqual(
      new UsageError(`cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (start it with 'redis-server', or check --redis)`),
    );
    expect(Date.now() - started).toBeLessThan(4000);
    await expect(runPredictCommand([], { ...opts, redis: 'localhost:6379' })).rejects.toStrictEqual(new UsageError("--redis must be a URL like redis://127.0.0.1:6379, but got 'localhost:6379'"));
    await expect(runPredictCommand([], { ...opts, queueName: 'a:b' })).rejects.toStrictEqual(new UsageError("--queue-name must be 1-100 letters, digits, '.', '_' or '-', but got 'a:b'"));
  });

  it('Redis stopped mid-run: the producer stops with an error naming it within seconds', async () => {
    const doomed = await startRedis();
    const worker = await startWorker({ redis: doomed.url, queueName: 'lost', predictor: detector, checkpoint: identity, log: quiet });
    const output = join(dir, 'lost.jsonl');
    try {
      const opts: PredictCliOptions = {
        checkpoint, input: [join(dir, 'images')], output, redis: doomed.url, queueName: 'lost', minProb: '0', maxDetections: '100', onlyClass: [], ignoreClass: [], concurrency: '2', prefetch: '4', inFlight: '2', progress: false,
      };
      const run = runPredictCommand([], opts).catch((e: unknown) => e);
      await until(() => lineCount(output) >= 3, 60, 'the first lines');
      const stopped = Date.now();
      await doomed.kill();
      const error = await run;
      const seconds = (Date.now() - stopped) / 1000;
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(new RegExp(`^lost Redis at ${doomed.url}: no connection for ${LOST_SECONDS} s \\(.+\\)$`));
      expect(seconds).toBeGreaterThanOrEqual(LOST_SECONDS - 0.5);
      expect(seconds).toBeLessThan(LOST_SECONDS + 3);
      // What was written stays, in order: the first lines of the local run.
      expect(localText.startsWith(readFileSync(output, 'utf8'))).toBe(true);
    } finally {
      await worker.close();
    }
  });

  describe('lumen server --redis', () => {
    let local: LumenServer;
    let queued: LumenServer;
    let remote: RemoteDetector;
    let worker: PredictionWorker;
    let localUrl: string;
    let queuedUrl: string;
    beforeAll(async () => {
      worker = await startWorker({ redis: redis.url, queueName: 'server', predictor: detector, checkpoint: identity, log: quiet });
      remote = await RemoteDetector.open({ redis: redis.url, queueName: 'server', checkpoint: identity, inFlight: 9 });
      local = await createServer({ predictor: detector as Predictor });
      queued = await createServer({ predictor: remote });
      localUrl = await local.listen({ port: 0, host: '127.0.0.1' });
      queuedUrl = await queued.listen({ port: 0, host: '127.0.0.1' });
    });
    afterAll(async () => {
      await Promise.all([local?.close(), queued?.close()]);
      await remote?.close();
      await worker?.close();
    });

    const post = async (url: string, body: Buffer | FormData, type?: string) => {
      const response = await fetch(`${url}/api/predict?min_prob=0.1`, { method: 'POST', body: Buffer.isBuffer(body) ? new Uint8Array(body) : body, headers: type != null ? { 'content-type': type } : {} });
      return { status: response.status, json: (await response.json()) as { objects?: PredictedObject[]; error?: string } };
    };

    it('answers as the server with the model does: objects, multipart, and a body that is not an image', async () => {
      const image = readFileSync(files[1]);
      const form = () => {
        const body = new FormData();
        body.append('image', new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'a.jpg');
        return body;
      };
      const broken = Buffer.from([0xff, 0xd8, 0xff, 0x00, 9, 9]);
      for (const [body, type] of [[image, 'image/jpeg'], [form(), undefined], [broken, 'image/jpeg']] as const) {
        const [a, b] = await Promise.all([post(localUrl, body instanceof FormData ? form() : body, type), post(queuedUrl, body, type)]);
        expect(b).toEqual(a);
      }
      const answers = await Promise.all([post(localUrl, broken, 'image/jpeg'), post(queuedUrl, broken, 'image/jpeg')]);
      expect(answers[1].status).toBe(400);
      expect(answers[1].json.error).toMatch(/^not an image: /);
      const model = (await (await fetch(`${queuedUrl}/api/model`)).json()) as { classes: string[] };
      expect(model.classes).toEqual(detector.classes);
    });

    it('503 when more than --queue requests wait, as in local mode; the waiting one is answered once a worker comes', async () => {
      const idle = await RemoteDetector.open({ redis: redis.url, queueName: 'server-idle', checkpoint: identity, inFlight: 1 });
      const [busyLocal, busyQueued] = await Promise.all([createServer({ predictor: detector as Predictor, queue: 0 }), createServer({ predictor: idle, queue: 0 })]);
      const urls = await Promise.all([busyLocal.listen({ port: 0, host: '127.0.0.1' }), busyQueued.listen({ port: 0, host: '127.0.0.1' })]);
      let late: PredictionWorker | null = null;
      try {
        const image = readFileSync(files[2]);
        // No worker on this queue: the first request waits, the second finds the queue full.
        const first = post(urls[1], image, 'image/png');
        await until(() => busyQueued.queue.stats().admitted === 1, 10, 'the first request to be admitted');
        const second = await post(urls[1], image, 'image/png');
        expect(second.status).toBe(503);
        expect(second.json).toEqual({ error: 'busy: the model has 0 request(s) waiting already; try again shortly' });
        late = await startWorker({ redis: redis.url, queueName: 'server-idle', predictor: detector, checkpoint: identity, log: quiet });
        expect(await first).toEqual(await post(urls[0], image, 'image/png'));
      } finally {
        await Promise.all([busyLocal.close(), busyQueued.close()]);
        await idle.close();
        await late?.close();
      }
    });
  });
});
