// `lumen worker`: one model, loaded once, serving the prediction queue. Jobs are BullMQ's:
// each is locked by the worker that took it, the lock renewed while the job runs; a worker
// that dies (SIGKILL, a lost machine) stops renewing, and the other workers' stalled-job check
// puts the job back in the queue for one of them.
import { decodeImage } from '@lumen/data';
import type { CheckpointIdentity, Detection } from '@lumen/detector';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { plainMessage } from './errors';
import type { Predictor } from './predict';
import { ModelQueue } from './queue';
import { closeQueueObjects, connectRedis, DEFAULT_QUEUE_NAME, displayUrl } from './redis-connection';
import type { PredictJobData, PredictJobResult } from './remote-detector';

/**
 * Seconds a job's lock lasts by default. The lock is renewed every half of it while the job
 * runs, so a worker must not block its event loop that long (one image on a large model takes
 * a few seconds); a dead worker's job goes back to the queue within 1.5x of it.
 */
export const DEFAULT_LOCK_SECONDS = 10;
/** Times a job may lose its worker before it fails (its error line says so). */
export const MAX_STALLS = 2;
/** How often the worker logs its throughput, when it did any work. */
const REPORT_SECONDS = 10;

export interface WorkerOptions {
  redis: string;
  queueName?: string;
  predictor: Predictor;
  checkpoint: CheckpointIdentity;
  /** Jobs held at once: decoding overlaps the model, which takes one image at a time (default 2). */
  concurrency?: number;
  lockSeconds?: number;
  log?: (message: string) => void;
}

export interface PredictionWorker {
  /** Images answered so far (refusals and failures not counted). */
  readonly done: number;
  /** Stops taking jobs, finishes the ones it holds, disconnects (at once when Redis is gone). */
  close(): Promise<void>;
}

/** The message of a job whose weights are not this worker's. */
function refusal(checkpoint: CheckpointIdentity, wanted: string): string {
  return (
    `worker ${hostname()} (pid ${process.pid}) runs checkpoint ${checkpoint.dir} with weights sha256 ${checkpoint.weightsSha256.slice(0, 12)}…, ` +
    `but the job is for weights sha256 ${wanted.slice(0, 12)}…: start the workers and the producer with the same checkpoint ` +
    `(or give each checkpoint its own --queue-name)`
  );
}

/** Starts a worker on the queue (Redis must answer within seconds); it runs until closed. */
export async function startWorker(options: WorkerOptions): Promise<PredictionWorker> {
  const { predictor, checkpoint } = options;
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const lockMs = Math.round((options.lockSeconds ?? DEFAULT_LOCK_SECONDS) * 1000);
  const connection: Redis = await connectRedis(options.redis);
  // Jobs beyond the one on the model wait here after decoding (never more than concurrency).
  const model = new ModelQueue(Number.MAX_SAFE_INTEGER);
  let done = 0;
  let reported = 0;
  let reportedAt = performance.now();

  const processor = async (job: Job<PredictJobData, PredictJobResult>): Promise<PredictJobResult> => {
    const { file, image, weightsSha256 } = job.data;
    if (weightsSha256 !== checkpoint.weightsSha256) {
      const message = refusal(checkpoint, weightsSha256);
      log(`lumen worker: refused ${file}: ${message}`);
      return { refused: message };
    }
    const bytes = Buffer.from(image, 'base64');
    let decoded;
    try {
      decoded = await decodeImage(bytes, predictor.imageSize);
    } catch (error) {
      // The producer's file name in place of the buffer's size, as a local run words it.
      throw new UnrecoverableError(plainMessage(error).replace(`a buffer of ${bytes.length} bytes`, `'${file}'`));
    }
    const ticket = model.enter() as NonNullable<ReturnType<ModelQueue['enter']>>;
    let detection: Detection;
    try {
      [detection] = await ticket.run(() => predictor.detect([decoded]));
    } finally {
      ticket.leave();
    }
    done++;
    return { detection };
  };

  const worker = new Worker<PredictJobData, PredictJobResult>(options.queueName ?? DEFAULT_QUEUE_NAME, processor, {
    connection,
    concurrency: options.concurrency ?? 2,
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.round(lockMs / 2)),
    maxStalledCount: MAX_STALLS,
  });
  let connected = true;
  worker.on('error', (error) => {
    if (connection.status === 'ready') {
      log(`lumen worker: ${error.message}`);
      return;
    }
    if (connected) log(`lumen worker: lost Redis at ${displayUrl(options.redis)}: ${error.message} (reconnecting)`);
    connected = false;
  });
  connection.on('ready', () => {
    if (!connected) log(`lumen worker: connected to Redis at ${displayUrl(options.redis)} again`);
    connected = true;
  });
  worker.on('failed', (job, error) => {
    if (job != null) log(`lumen worker: ${job.data.file}: ${error.message}`);
  });
  await worker.waitUntilReady();

  const report = setInterval(() => {
    if (done === reported) return;
    const seconds = (performance.now() - reportedAt) / 1000;
    log(`lumen worker: ${done} image(s) so far, ${((done - reported) / seconds).toFixed(2)} images/s over the last ${seconds.toFixed(0)} s`);
    reported = done;
    reportedAt = performance.now();
  }, REPORT_SECONDS * 1000);
  report.unref();

  return {
    get done() {
      return done;
    },
    async close() {
      clearInterval(report);
      await closeQueueObjects([worker], [connection]);
    },
  };
}
