// Connections to the Redis that carries the prediction queue (BullMQ on ioredis): checked at
// start so a wrong address fails within seconds, and watched so a Redis that goes away mid-run
// is reported instead of waited for.
import { Redis } from 'ioredis';
import { UsageError } from './objects';

/** The BullMQ queue `lumen worker`, `predict --redis` and `server --redis` share by default. */
export const DEFAULT_QUEUE_NAME = 'lumen-predict';
/** Seconds a first connection may take. */
export const CONNECT_SECONDS = 3;
/** Seconds without Redis after which a producer gives up its run. */
export const LOST_SECONDS = 5;

/** A --redis value: redis://[user:password@]host[:port][/db] or rediss:// (TLS). */
export function parseRedisUrl(value: string): string {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // Reported below.
  }
  if (url == null || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new UsageError(`--redis must be a URL like redis://127.0.0.1:6379, but got '${value}'`);
  }
  return value;
}

/** The URL without its password, for messages. */
export function displayUrl(value: string): string {
  const url = new URL(value);
  if (url.password !== '') url.password = '***';
  return url.toString().replace(/\/$/, '');
}

/** A --queue-name value: BullMQ keys are `bull:<name>:…`, so no colons. */
export function parseQueueName(value: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(value)) throw new UsageError(`--queue-name must be 1-100 letters, digits, '.', '_' or '-', but got '${value}'`);
  return value;
}

/**
 * A connected client as BullMQ wants it (no per-command retry limit: its blocking reads wait
 * across reconnects). Fails within CONNECT_SECONDS with the address and the reason when
 * Redis cannot be reached; afterwards ioredis reconnects by itself, and `watchRedis` tells
 * whether it does.
 */
export async function connectRedis(url: string): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: CONNECT_SECONDS * 1000,
    retryStrategy: (times) => Math.min(100 * times, 1000),
  });
  const errors: Error[] = [];
  // ioredis prints errors nobody listens to; ours are reported through watchRedis and here.
  client.on('error', (error: Error) => errors.push(error));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_SECONDS} s`)), CONNECT_SECONDS * 1000);
      }),
    ]);
  } catch (error) {
    client.disconnect();
    const reason = (errors.at(-1) ?? (error as Error)).message;
    throw new UsageError(`cannot reach Redis at ${displayUrl(url)}: ${reason} (start it with 'redis-server', or check --redis)`);
  } finally {
    clearTimeout(timer);
  }
  errors.length = 0;
  return client;
}

/**
 * Calls `onLost` once when any of `clients` has been without a connection for LOST_SECONDS
 * (ioredis goes on trying meanwhile). Returns a function that stops watching.
 */
export function watchRedis(clients: readonly Redis[], url: string, onLost: (error: UsageError) => void): () => void {
  const since = new Map<Redis, number>();
  const reasons = new Map<Redis, string>();
  const listeners = clients.map((client) => {
    const onError = (error: Error) => reasons.set(client, error.message);
    client.on('error', onError);
    return () => client.off('error', onError);
  });
  let reported = false;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const client of clients) {
      if (client.status === 'ready') {
        since.delete(client);
        continue;
      }
      const from = since.get(client) ?? now;
      since.set(client, from);
      if (!reported && now - from >= LOST_SECONDS * 1000) {
        reported = true;
        const reason = reasons.get(client) ?? `connection ${client.status}`;
        onLost(new UsageError(`lost Redis at ${displayUrl(url)}: no connection for ${LOST_SECONDS} s (${reason})`));
      }
    }
  }, 250);
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const stop of listeners) stop();
  };
}

/** Seconds closing a queue object may take once Redis is gone, before its connections are dropped. */
const CLOSE_SECONDS = 2;

/** What BullMQ's Queue, QueueEvents and Worker have in common for closing. */
interface QueueObject {
  close(force?: boolean): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * Closes BullMQ objects, then drops `clients`. With Redis reachable, closing waits as long as
 * it takes (a worker finishing its jobs); without, everything is disconnected at once (BullMQ
 * would wait for Redis to come back, and its own connections would go on retrying).
 */
export async function closeQueueObjects(objects: readonly QueueObject[], clients: readonly Redis[]): Promise<void> {
  const reachable = clients.every((client) => client.status === 'ready');
  if (reachable) {
    await Promise.allSettled(objects.map((object) => object.close()));
  } else {
    for (const client of clients) client.disconnect();
    let timer: NodeJS.Timeout | undefined;
    const closing = Promise.allSettled(objects.flatMap((object) => [object.disconnect(), object.close(true)]));
    await Promise.race([closing, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_SECONDS * 1000)))]);
    clearTimeout(timer);
  }
  for (const client of clients) client.disconnect();
}
