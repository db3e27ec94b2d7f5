// The producer's side of the prediction queue (BullMQ on Redis): each image goes as a job with
// its bytes, its file name and the sha256 of the checkpoint's weights; `lumen worker`s decode
// and detect it, and the detection comes back through the queue's event stream.
import type { CheckpointIdentity, Detection } from '@lumen/detector';
import { Queue, QueueEvents } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { UsageError } from './objects';
import type { RemotePredictor } from './predict';
import { closeQueueObjects, connectRedis, DEFAULT_QUEUE_NAME, displayUrl, watchRedis } from './redis-connection';

export interface PredictJobData {
  /** The input's name, for the worker's messages. */
  file: string;
  /** The image file's bytes (or a video frame's PNG), base64: BullMQ stores job data as JSON. */
  image: string;
  /** The weights the producer means (CheckpointIdentity.weightsSha256); a worker with others refuses. */
  weightsSha256: string;
}

/** A worker's answer: the image's detection, or why it will not run this producer's jobs. */
export type PredictJobResult = { detection: Detection } | { refused: string };

/**
 * Tries a job gets. Each try ends in a result, a thrown error (retried, e.g. the model ran out
 * of memory), or its worker's death (the job's lock expires and another worker takes it). An
 * image that cannot be decoded fails at once, without retries.
 */
export const JOB_ATTEMPTS = 3;

export interface RemoteDetectorOptions {
  redis: string;
  queueName?: string;
  checkpoint: CheckpointIdentity;
  /** Jobs sent and not yet answered, at most (the caller keeps to it; predictFiles does). */
  inFlight: number;
}

interface Pending {
  resolve(result: PredictJobResult): void;
  reject(error: Error): void;
}

/** A detector whose model runs on `lumen worker`s: a RemotePredictor for predictFiles and the server. */
export class RemoteDetector implements RemotePredictor {
  readonly classes: readonly string[];
  readonly imageSize: CheckpointIdentity['imageSize'];
  readonly inFlight: number;
  private readonly pending = new Map<string, Pending>();
  private readonly runId = randomUUID();
  private next = 0;
  private lost: UsageError | null = null;
  /** Rejects the commands in progress when Redis is lost (they would wait for it to come back). */
  private readonly onLost = new Set<(error: Error) => void>();
  private stopWatching: () => void = () => undefined;

  private constructor(
    private readonly options: RemoteDetectorOptions,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly clients: Redis[],
  ) {
    this.classes = options.checkpoint.classes;
    this.imageSize = options.checkpoint.imageSize;
    this.inFlight = options.inFlight;
    this.stopWatching = watchRedis(clients, options.redis, (error) => {
      this.lost = error;
      for (const reject of this.onLost) reject(error);
      this.onLost.clear();
      for (const pending of this.pending.values()) pending.reject(error);
      this.pending.clear();
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      const result = typeof returnvalue === 'string' ? (JSON.parse(returnvalue) as PredictJobResult) : (returnvalue as unknown as PredictJobResult);
      this.settle(jobId)?.resolve(result);
    });
    events.on('failed', ({ jobId, failedReason }) => this.settle(jobId)?.reject(new Error(failedReason)));
    // Connection errors: watchRedis reports a Redis that stays away; BullMQ would print each retry.
    queue.on('error', () => undefined);
    events.on('error', () => undefined);
  }

  /** Connects (a clear error within seconds when Redis cannot be reached) and listens for answers. */
  static async open(options: RemoteDetectorOptions): Promise<RemoteDetector> {
    const name = options.queueName ?? DEFAULT_QUEUE_NAME;
    const jobsClient = await connectRedis(options.redis);
    let eventsClient: Redis;
    try {
      eventsClient = await connectRedis(options.redis);
    } catch (error) {
      jobsClient.disconnect();
      throw error;
    }
    // Events are read from this moment on Redis's clock, so none for our jobs can slip past
    // before the event reader's first read.
    const [seconds, micros] = await jobsClient.time();
    const lastEventId = `${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}-0`;
    const queue = new Queue(name, { connection: jobsClient });
    const events = new QueueEvents(name, { connection: eventsClient, lastEventId });
    await events.waitUntilReady();
    return new RemoteDetector(options, queue, events, [jobsClient, eventsClient]);
  }

  /** `lumen worker`s connected to the queue now. */
  workers(): Promise<number> {
    return this.queue.getWorkersCount();
  }

  get queueName(): string {
    return this.queue.name;
  }

  /** Whether Redis has been unreachable for LOST_SECONDS (the error says so). */
  get lostError(): UsageError | null {
    return this.lost;
  }

  async detectBytes(file: string, bytes: Buffer): Promise<Detection> {
    if (this.lost != null) throw this.lost;
    const jobId = `${this.runId}-${this.next++}`;
    const answer = new Promise<PredictJobResult>((resolve, reject) => this.pending.set(jobId, { resolve, reject }));
    answer.catch(() => undefined);
    const data: PredictJobData = { file, image: bytes.toString('base64'), weightsSha256: this.options.checkpoint.weightsSha256 };
    try {
      await this.untilLost(this.queue.add('predict', data, { jobId, attempts: JOB_ATTEMPTS, removeOnComplete: true, removeOnFail: true }));
    } catch (error) {
      this.pending.delete(jobId);
      throw this.lost ?? new UsageError(`cannot queue ${file} on Redis at ${displayUrl(this.options.redis)}: ${(error as Error).message}`);
    }
    // Losing Redis rejects every pending answer (see the constructor).
    const result = await answer;
    if ('refused' in result) throw new UsageError(result.refused);
    return result.detection;
  }

  /**
   * Stops listening; jobs still waiting (a run that ended early) are taken off the queue (when
   * Redis can still be reached).
   */
  async close(): Promise<void> {
    this.stopWatching();
    const unanswered = [...this.pending.keys()];
    this.pending.clear();
    if (this.lost == null && this.clients.every((client) => client.status === 'ready')) {
      await Promise.allSettled(unanswered.map((id) => this.queue.remove(id)));
    }
    await closeQueueObjects([this.events, this.queue], this.clients);
  }

  /**
   * `promise`, or the lost-Redis error if that comes first. (Not Promise.race with one
   * long-lived promise: each race would stay attached to it, and keep its result, until the end.)
   */
  private untilLost<T>(promise: Promise<T>): Promise<T> {
    if (this.lost != null) return Promise.reject(this.lost);
    return new Promise<T>((resolve, reject) => {
      this.onLost.add(reject);
      promise.then(resolve, reject).finally(() => this.onLost.delete(reject));
    });
  }

  private settle(jobId: string): Pending | undefined {
    const pending = this.pending.get(jobId);
    this.pending.delete(jobId);
    return pending;
  }
}
