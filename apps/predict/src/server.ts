import multipart from '@fastify/multipart';
import { listenError, UserError } from '@lumen/core';
import { decodeImage, type DecodedImage } from '@lumen/data';
import type { Detection } from '@lumen/detector';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { finished } from 'node:stream/promises';
import { DEFAULT_MIN_PROB, parseProbability, toObjects, UsageError } from './objects';
import { pageHtml } from './page';
import { isRemote, plainMessage, type Predictor, type RemotePredictor } from './predict';
import { ModelQueue, type QueueTicket } from './queue';

export const DEFAULT_PORT = 5000;
export const DEFAULT_HOST = '127.0.0.1';
/** Largest image accepted by default: 10 MB. */
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
/** Requests that may wait for the model by default (besides the one on it). */
export const DEFAULT_QUEUE = 8;
/**
 * Seconds a client has by default to send a whole request, headers and body: a 10 MB image
 * needs about 3 Mbit/s, a 3 MB phone photo 1 Mbit/s.
 */
export const DEFAULT_TIMEOUT_SECONDS = 30;
/**
 * Open connections by default: a few times the queue (requests beyond it get 503 anyway),
 * room for several browsers (6 connections each), and 32 x 10 MB = 320 MB of bodies at most.
 */
export const DEFAULT_MAX_CONNECTIONS = 32;
/** Node's own default; an idle keep-alive connection holds one of the connections. */
const KEEP_ALIVE_SECONDS = 5;

export interface ServerOptions {
  /** The model, or workers on a queue (RemoteDetector): then the server only admits and forwards. */
  predictor: Predictor | RemotePredictor;
  /** Largest image body or `image` upload, in bytes (413 above it). */
  maxBytes?: number;
  /** Requests that may wait for the model besides the one running (503 beyond them). */
  queue?: number;
  /** min_prob when a request gives none. */
  minProb?: number;
  maxDetections?: number;
  /** Seconds a client has to send a whole request, headers and body (then 408, connection closed). */
  timeoutSeconds?: number;
  /** Open connections at most; more are closed at once, unanswered. */
  maxConnections?: number;
  /** The page's title (e.g. the checkpoint's name). */
  title?: string;
  /** Fastify's request log (pino), off by default. */
  logger?: boolean;
}

/** The most memory, in bytes, that requests can hold in the server (besides the model's own). */
export interface MemoryBound {
  /** Bodies being received: maxConnections x maxBytes. */
  requestBodies: number;
  /**
   * Requests holding a place in the model queue (queue + 1), each with its body and its
   * decoded image (minSize x maxSize x 3 bytes at most); their clients may have gone already.
   */
  queuedRequests: number;
  total: number;
}

export function memoryBound(limits: { maxConnections: number; maxBytes: number; queue: number; imageSize: Predictor['imageSize'] | null }): MemoryBound {
  // torchvision's resize hands the model float32 pixels: four bytes a value. Workers on a queue decode elsewhere (null).
  const size = limits.imageSize;
  const decodedImage = size == null ? 0 : size.minSize * size.maxSize * 3 * (size.resize === 'torchvision' ? 4 : 1);
  const requestBodies = limits.maxConnections * limits.maxBytes;
  const queuedRequests = (limits.queue + 1) * (limits.maxBytes + decodedImage);
  return { requestBodies, queuedRequests, total: requestBodies + queuedRequests };
}

export interface LumenServer {
  app: FastifyInstance;
  queue: ModelQueue;
  memoryBound: MemoryBound;
  /** Starts listening; resolves to the base URL (port 0 picks a free port). */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  close(): Promise<void>;
}

/** A request's image on the server's own model, after the requests before it. */
async function detectHere(predictor: Predictor, image: Buffer, ticket: QueueTicket): Promise<Detection> {
  let decoded: DecodedImage;
  try {
    decoded = await decodeImage(image, predictor.imageSize);
  } catch (error) {
    throw new HttpError(400, `not an image: ${plainMessage(error).replace(/^cannot decode a buffer of \d+ bytes: /, '')}`);
  }
  const [detection] = await ticket.run(() => predictor.detect([decoded]));
  return detection;
}

/** The name a request's image has in a worker's messages. */
const UPLOAD_NAME = 'upload';

/**
 * A request's image on the workers, at once (they share the load; the admission bound is the
 * server's). Their decode errors are the client's (400), as when the server decodes itself; a
 * queue that cannot answer (Redis lost, workers on other weights) is 503.
 */
async function detectRemotely(remote: RemotePredictor, image: Buffer): Promise<Detection> {
  try {
    return await remote.detectBytes(UPLOAD_NAME, image);
  } catch (error) {
    if (error instanceof UserError) throw new HttpError(503, `the prediction queue cannot answer: ${error.message}`);
    const message = plainMessage(error);
    const notDecoded = `cannot decode '${UPLOAD_NAME}': `;
    if (message.startsWith(notDecoded)) throw new HttpError(400, `not an image: ${message.slice(notDecoded.length)}`);
    throw error;
  }
}

/** An HTTP error with a JSON body `{ "error": message }`. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_FIELDS = 10;

export const megabytes = (bytes: number) => `${Number((bytes / (1024 * 1024)).toFixed(2))} MB`;

const NO_IMAGE = "no image: send multipart/form-data with the file in a field named 'image', or the image itself as the body with an image/* content type";

/**
 * The prediction server (Luminoth's `lumi server web`): `POST /api/predict` runs the model
 * on one image, `GET /` serves the page, `GET /api/model` describes the model. Errors are
 * JSON `{ "error": "…" }` with a 4xx status: 400 no image / not an image / bad min_prob,
 * 413 larger than `maxBytes`, 415 a body that is neither multipart nor an image, 503 when
 * the queue in front of the model is full.
 *
 * Slow clients: a request not received whole within `timeoutSeconds` gets 408 and its
 * connection is closed (Node's headersTimeout and requestTimeout; the socket idle timeout is
 * left off, as it would also cut clients waiting for the model). At most `maxConnections`
 * are open (Node's maxConnections closes the next ones at once), which bounds the memory
 * bodies take: see memoryBound.
 */
export async function createServer(options: ServerOptions): Promise<LumenServer> {
  const { predictor } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const defaultMinProb = options.minProb ?? DEFAULT_MIN_PROB;
  const queue = new ModelQueue(options.queue ?? DEFAULT_QUEUE);
  const timeout = Math.max(1, Math.round((options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000));
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const remote = isRemote(predictor) ? predictor : null;
  const bound = memoryBound({ maxConnections, maxBytes, queue: queue.size, imageSize: remote != null ? null : predictor.imageSize });
  const tooLarge = `image too large: the limit is ${megabytes(maxBytes)} (${maxBytes} bytes)`;

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: maxBytes,
    requestTimeout: timeout,
    keepAliveTimeout: KEEP_ALIVE_SECONDS * 1000,
    // Node checks the timeouts every connectionsCheckingInterval (30 s by default): often
    // enough that a stalled client is cut within a second of its time.
    http: { headersTimeout: timeout, requestTimeout: timeout, connectionsCheckingInterval: Math.ceil(Math.min(1000, timeout / 4)) },
  });
  app.server.maxConnections = maxConnections;
  await app.register(multipart, { limits: { fileSize: maxBytes, fields: MAX_FIELDS, fieldSize: 1024, parts: MAX_FIELDS + 4 } });
  for (const type of [/^image\//, 'application/octet-stream']) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: maxBytes }, (_request, body, done) => done(null, body));
  }

  app.setErrorHandler((error: FastifyError, request, reply: FastifyReply) => {
    const status = error.statusCode ?? 500;
    if (status === 413 && /^FST_(PARTS|FILES|FIELDS)_LIMIT$/.test(error.code)) {
      return reply.code(413).send({ error: `too many form parts: send one 'image' file and at most ${MAX_FIELDS} fields` });
    }
    if (status === 413) return reply.code(413).send({ error: tooLarge });
    if (status === 415) {
      const type = request.headers['content-type'] ?? '(none)';
      return reply.code(415).send({ error: `not an image: expected multipart/form-data or an image/* body, but got content type '${type}'` });
    }
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message });
    request.log.error(error);
    return reply.code(500).send({ error: `internal error: ${error.message}` });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `not found: ${request.method} ${request.url.split('?')[0]}` }));

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(pageHtml(options.title)));
  app.get('/api/model', async () => ({
    classes: predictor.classes,
    imageSize: predictor.imageSize,
    queue: queue.stats(),
    maxBytes,
    maxConnections,
    timeoutSeconds: timeout / 1000,
    memoryBound: bound,
  }));

  app.post('/api/predict', async (request, reply) => {
    let image: Buffer | null = null;
    let minProbValue = (request.query as Record<string, unknown>).min_prob;
    if (request.isMultipart()) {
      for await (const part of request.parts()) {
        if (part.type === 'file' && part.fieldname === 'image' && image == null) {
          image = await part.toBuffer();
        } else if (part.type === 'file') {
          // Read and dropped (unread, the request stalls): one body in memory per request.
          part.file.resume();
          await finished(part.file);
        } else if (part.fieldname === 'min_prob') {
          minProbValue = part.value;
        }
      }
    } else if (Buffer.isBuffer(request.body)) {
      image = request.body;
    } else if (request.body != null) {
      throw new HttpError(415, `not an image: expected multipart/form-data or an image/* body, but got content type '${request.headers['content-type']}'`);
    }
    if (image == null || image.length === 0) throw new HttpError(400, NO_IMAGE);
    let minProb = defaultMinProb;
    try {
      if (minProbValue != null) minProb = parseProbability('min_prob', minProbValue);
    } catch (error) {
      throw new HttpError(400, (error as UsageError).message);
    }

    const ticket = queue.enter();
    if (ticket == null) {
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: `busy: the model has ${queue.size} request(s) waiting already; try again shortly` });
    }
    try {
      const detection = remote != null ? await detectRemotely(remote, image) : await detectHere(predictor as Predictor, image, ticket);
      return { objects: toObjects(detection, predictor.classes, { minProb, maxDetections: options.maxDetections }) };
    } finally {
      ticket.leave();
    }
  });

  return {
    app,
    queue,
    memoryBound: bound,
    async listen({ port = DEFAULT_PORT, host = DEFAULT_HOST } = {}) {
      try {
        await app.listen({ port, host });
      } catch (error) {
        throw listenError(error, host, port);
      }
      const address = app.server.address();
      const actualPort = typeof address === 'object' && address != null ? address.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    },
    close: () => app.close(),
  };
}
