// What `lumen predict` and `lumen server` do, without the argument parsing (cli.ts), so tests
// and embedding programs call them with plain options.
import { UserError } from '@lumen/core';
import { checkpointIdentity, loadDetector, type CheckpointIdentity, type LoadedDetector } from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import { basename, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { checkAddress } from './address';
import { expandInputs } from './inputs';
import { parseClassNames, parseNonNegativeInt, parsePositiveInt, parseProbability, parseSeconds, UsageError } from './objects';
import { checkOutputFile, closeOutput, fsReason, openOutput, prepareMediaFolder } from './output-paths';
import { OutputError, predictFiles, type Predictor } from './predict';
import { DEFAULT_QUEUE_NAME, displayUrl, parseQueueName, parseRedisUrl } from './redis-connection';
import { RemoteDetector } from './remote-detector';
import { createServer, megabytes } from './server';
import { DEFAULT_LOCK_SECONDS, startWorker } from './worker';

/** A byte count: "10485760", "10MB", "512kb", "1.5m" (binary units). */
export function parseBytes(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i.exec(value);
  if (match == null) throw new UsageError(`--max-bytes must be a size like 10485760, 512kb or 10mb, but got '${value}'`);
  const factor = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = Math.floor(Number(match[1]) * factor);
  if (bytes < 1) throw new UsageError(`--max-bytes must be at least 1 byte, but got '${value}'`);
  return bytes;
}

/** A TCP port from --port: 0-65535 (0 picks a free one). */
function parsePort(value: string): number {
  const port = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) throw new UsageError(`--port must be a port number (0-65535), but got '${value}'`);
  return port;
}

async function openDetector(checkpoint: string): Promise<LoadedDetector> {
  await initBackend();
  try {
    return loadDetector(checkpoint);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Images on the workers at once by default (predict --redis): enough to keep several busy. */
export const DEFAULT_IN_FLIGHT = '16';

/** What a producer on the queue knows of its checkpoint (it does not load the model). */
async function identify(checkpoint: string): Promise<CheckpointIdentity> {
  try {
    return await checkpointIdentity(checkpoint);
  } catch (error) {
    throw error instanceof UserError ? new UsageError(error.message) : error;
  }
}

/** The queue options of `predict` and `server`. */
export interface QueueCliOptions {
  /** Run the model on `lumen worker`s through Redis at this URL. */
  redis?: string;
  /** Default: DEFAULT_QUEUE_NAME. */
  queueName?: string;
}

/** Workers on the queue, for a producer's first message (jobs wait when there are none). */
async function workersMessage(remote: RemoteDetector): Promise<string> {
  const workers = await remote.workers();
  return workers > 0
    ? `${workers} worker(s) on queue ${remote.queueName}`
    : `no worker on queue ${remote.queueName} yet: jobs wait until one starts (lumen worker --redis … --checkpoint …)`;
}

export interface PredictCliOptions extends QueueCliOptions {
  checkpoint: string;
  input: string[];
  output?: string;
  saveMedia?: string;
  minProb: string;
  maxDetections?: string;
  onlyClass: string[];
  ignoreClass: string[];
  concurrency: string;
  prefetch: string;
  /** Images on the workers at once (with --redis; default 16). */
  inFlight?: string;
  progress: boolean;
}

/** Where the JSON Lines went, for messages. */
const outputName = (opts: PredictCliOptions) => opts.output ?? 'stdout';

/** A failed output stream as one line: what could not be written and what is left. */
function outputFailure(opts: PredictCliOptions, error: unknown): UsageError {
  const left = opts.output != null ? 'the file holds only the lines written before it' : 'the lines before it were written';
  return new UsageError(`cannot write the predictions to ${outputName(opts)}: ${fsReason(error)}; ${left}`);
}

/** `lumen predict`: returns the exit code (0 every image and video read, 1 some failed). */
export async function runPredictCommand(positional: string[], opts: PredictCliOptions): Promise<number> {
  const inputs = [...opts.input, ...positional];
  if (inputs.length === 0) throw new UsageError('no input: give image or video files, folders or globs with --input=PATH (repeatable)');
  const minProb = parseProbability('--min-prob', opts.minProb);
  const maxDetections = opts.maxDetections != null ? parsePositiveInt('--max-detections', opts.maxDetections) : undefined;
  const concurrency = parsePositiveInt('--concurrency', opts.concurrency);
  const prefetch = parsePositiveInt('--prefetch', opts.prefetch);
  const redis = opts.redis != null ? parseRedisUrl(opts.redis) : null;
  const queueName = parseQueueName(opts.queueName ?? DEFAULT_QUEUE_NAME);
  const inFlight = parsePositiveInt('--in-flight', opts.inFlight ?? DEFAULT_IN_FLIGHT);
  if (opts.output != null) checkOutputFile(opts.output);
  if (opts.saveMedia != null) prepareMediaFolder(opts.saveMedia);
  const files = await expandInputs(inputs, (message) => process.stderr.write(`lumen predict: ${message}\n`));
  if (files.length === 0) throw new UsageError(`no images or videos found in ${inputs.join(', ')}`);

  let predictor: LoadedDetector | RemoteDetector;
  if (redis != null) {
    predictor = await RemoteDetector.open({ redis, queueName, checkpoint: await identify(opts.checkpoint), inFlight });
    process.stderr.write(`lumen predict: ${await workersMessage(predictor)}\n`);
  } else {
    predictor = await openDetector(opts.checkpoint);
  }
  let output: Writable = process.stdout;
  try {
    const onlyClasses = parseClassNames('--only-class', opts.onlyClass, predictor.classes);
    const ignoreClasses = parseClassNames('--ignore-class', opts.ignoreClass, predictor.classes);
    if (opts.output != null) output = await openOutput(opts.output);
    const summary = await predictFiles({
      predictor,
      files,
      output,
      saveMedia: opts.saveMedia,
      minProb,
      maxDetections,
      onlyClasses,
      ignoreClasses,
      concurrency,
      prefetch,
      // A bar on the terminal, unless the JSON lines stream to the same terminal.
      progress: opts.progress && Boolean(process.stderr.isTTY) && !(opts.output == null && process.stdout.isTTY),
    });
    if (output !== process.stdout) await closeOutput(output);
    const videos = summary.videos > 0 ? `, ${summary.videos} video(s) (${summary.frames} frames)` : '';
    const rate = summary.videos > 0 ? 'frames/s' : 'images/s';
    process.stderr.write(
      `lumen predict: ${summary.images} image(s)${videos}, ${summary.objects} object(s), ${summary.failed} failed, ` +
        `${summary.seconds.toFixed(1)} s (${summary.imagesPerSecond.toFixed(2)} ${rate})` +
        `${opts.output != null ? ` -> ${opts.output}` : ''}${opts.saveMedia != null ? `, drawn media in ${opts.saveMedia}` : ''}\n`,
    );
    return summary.failed > 0 ? 1 : 0;
  } catch (error) {
    throw error instanceof OutputError ? outputFailure(opts, error.cause) : error;
  } finally {
    if (output !== process.stdout) output.destroy();
    if (predictor instanceof RemoteDetector) await predictor.close();
    else predictor.dispose();
  }
}

export interface ServerCliOptions extends QueueCliOptions {
  checkpoint: string;
  port: string;
  host: string;
  maxBytes: string;
  queue: string;
  timeout: string;
  maxConnections: string;
  minProb: string;
  maxDetections?: string;
}

/** `lumen server`: runs until SIGINT/SIGTERM. */
export async function runServerCommand(opts: ServerCliOptions): Promise<void> {
  const port = parsePort(opts.port);
  const queue = parseNonNegativeInt('--queue', opts.queue);
  const maxBytes = parseBytes(opts.maxBytes);
  const timeoutSeconds = parseSeconds('--timeout', opts.timeout);
  const maxConnections = parsePositiveInt('--max-connections', opts.maxConnections);
  const minProb = parseProbability('--min-prob', opts.minProb);
  const maxDetections = opts.maxDetections != null ? parsePositiveInt('--max-detections', opts.maxDetections) : undefined;
  const redis = opts.redis != null ? parseRedisUrl(opts.redis) : null;
  const queueName = parseQueueName(opts.queueName ?? DEFAULT_QUEUE_NAME);
  await checkAddress(opts.host, port);
  // On a queue, requests admitted (queue + 1) are all on the workers at once.
  const predictor = redis != null ? await RemoteDetector.open({ redis, queueName, checkpoint: await identify(opts.checkpoint), inFlight: queue + 1 }) : await openDetector(opts.checkpoint);
  const release = async () => {
    if (predictor instanceof RemoteDetector) await predictor.close();
    else predictor.dispose();
  };
  const server = await createServer({
    predictor,
    maxBytes,
    queue,
    timeoutSeconds,
    maxConnections,
    minProb,
    maxDetections,
    title: `Lumen — ${basename(resolve(opts.checkpoint))}`,
  });
  let url: string;
  try {
    url = await server.listen({ port, host: opts.host });
  } catch (error) {
    await server.close();
    await release();
    throw error;
  }
  const bound = server.memoryBound;
  process.stderr.write(
    `lumen server: ${url} (checkpoint ${opts.checkpoint}, ${predictor.classes.length} classes; POST ${url}/api/predict; ` +
      `images up to ${maxBytes} bytes, ${queue} waiting at most)\n` +
      `lumen server: at most ${maxConnections} connections, each with ${timeoutSeconds} s to send its request; ` +
      `request memory at most ${megabytes(bound.total)} (${megabytes(bound.requestBodies)} of bodies being received + ` +
      `${megabytes(bound.queuedRequests)} held by the ${queue + 1} requests in the model queue)\n`,
  );
  if (predictor instanceof RemoteDetector) process.stderr.write(`lumen server: the model runs on the workers: ${await workersMessage(predictor)}\n`);
  const stop = () => {
    process.stderr.write('lumen server: stopping\n');
    void server
      .close()
      .then(release)
      .finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export interface WorkerCliOptions {
  redis: string;
  queueName?: string;
  checkpoint: string;
  concurrency?: string;
  lockSeconds?: string;
}

/**
 * `lumen worker`: serves the queue until SIGINT/SIGTERM, then finishes the jobs it holds and
 * exits 0 (a second signal exits at once; BullMQ gives its jobs to other workers).
 */
export async function runWorkerCommand(opts: WorkerCliOptions): Promise<void> {
  const redis = parseRedisUrl(opts.redis);
  const queueName = parseQueueName(opts.queueName ?? DEFAULT_QUEUE_NAME);
  const concurrency = parsePositiveInt('--concurrency', opts.concurrency ?? '2');
  const lockSeconds = parseSeconds('--lock-seconds', opts.lockSeconds ?? String(DEFAULT_LOCK_SECONDS));
  const checkpoint = await identify(opts.checkpoint);
  const detector = await openDetector(opts.checkpoint);
  let worker;
  try {
    worker = await startWorker({ redis, queueName, predictor: detector as Predictor, checkpoint, concurrency, lockSeconds });
  } catch (error) {
    detector.dispose();
    throw error;
  }
  process.stderr.write(
    `lumen worker: serving queue ${queueName} on ${displayUrl(redis)} with checkpoint ${opts.checkpoint} ` +
      `(weights sha256 ${checkpoint.weightsSha256.slice(0, 12)}…, ${detector.classes.length} classes), ${concurrency} job(s) at once, ` +
      `lock ${lockSeconds} s\n`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write('lumen worker: stopping after the job(s) in hand\n');
    void worker
      .close()
      .then(() => {
        process.stderr.write(`lumen worker: stopped; ${worker.done} image(s) done\n`);
        detector.dispose();
      })
      .finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
