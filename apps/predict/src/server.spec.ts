// The server over real HTTP on localhost (port 0), with a tiny checkpoint made here.
import { UserError } from '@lumen/core';
import { decodeImage } from '@lumen/data';
import { loadDetector, type LoadedDetector } from '@lumen/detector';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toObjects, type PredictedObject } from './objects';
import type { Predictor } from './predict';
import { createServer, DEFAULT_MAX_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_SECONDS, memoryBound, type LumenServer } from './server';
import { makeTinyCheckpoint, testImage, TINY_CLASSES } from './testing/tiny-checkpoint';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function form(fields: Record<string, string | { data: Buffer; type: string; name: string }>): FormData {
  const body = new FormData();
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value === 'string') body.append(key, value);
    else body.append(key, new Blob([new Uint8Array(value.data)], { type: value.type }), value.name);
  }
  return body;
}

async function post(url: string, body?: Buffer | Uint8Array | string | FormData, headers: Record<string, string> = {}) {
  const payload = Buffer.isBuffer(body) ? new Uint8Array(body) : body;
  const response = await fetch(url, { method: 'POST', body: payload as RequestInit['body'], headers });
  return { status: response.status, type: response.headers.get('content-type') ?? '', headers: response.headers, json: (await response.json()) as { objects?: PredictedObject[]; error?: string } };
}

/** A raw TCP client: what it received, and when the server closed it (ms after connecting). */
async function rawClient(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk) => (received += chunk));
  socket.on('error', () => undefined); // a reset shows as the close below
  const started = performance.now();
  const closed = once(socket, 'close').then(() => performance.now() - started);
  await once(socket, 'connect');
  return { socket, received: () => received, closed };
}

const connections = (server: LumenServer) => new Promise<number>((done, fail) => server.app.server.getConnections((error, n) => (error ? fail(error) : done(n))));

/** Waits until `check` holds (tries for 2 s). */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await sleep(10);
}

describe('prediction server', () => {
  let dir: string;
  let detector: LoadedDetector;
  let server: LumenServer;
  let base: string;
  const images: Buffer[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-server-'));
    await makeTinyCheckpoint(join(dir, 'checkpoint'));
    detector = loadDetector(join(dir, 'checkpoint'));
    for (let i = 0; i < 4; i++) images.push(await testImage(80 + 20 * i, 120 - 10 * i, i % 2 === 0 ? 'png' : 'jpeg', 10 + i));
    server = await createServer({ predictor: detector, maxBytes: 64 * 1024 });
    base = await server.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await server?.close();
    detector?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const expected = async (image: Buffer, minProb = 0.5) => {
    const [detection] = await detector.detect([await decodeImage(image, detector.imageSize)]);
    return toObjects(detection, detector.classes, { minProb });
  };

  it('serves the page: self-contained HTML (no external scripts or styles)', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toContain('<canvas id="view"');
    expect(html).toContain('<input type="range" id="threshold"');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);
  });

  it('describes the model', async () => {
    const response = await fetch(`${base}/api/model`);
    expect(await response.json()).toEqual({
      classes: TINY_CLASSES,
      imageSize: detector.imageSize,
      queue: { admitted: 0, running: 0, size: 8 },
      maxBytes: 64 * 1024,
      maxConnections: 32,
      timeoutSeconds: 30,
      memoryBound: memoryBound({ maxConnections: 32, maxBytes: 64 * 1024, queue: 8, imageSize: detector.imageSize }),
    });
  });

  it("POST /api/predict: multipart 'image' or a raw image body, min_prob from the query or a field", async () => {
    const multipart = await post(`${base}/api/predict`, form({ image: { data: images[0], type: 'image/png', name: 'a.png' } }));
    expect(multipart.status).toBe(200);
    expect(multipart.type).toMatch(/^application\/json/);
    expect(Object.keys(multipart.json)).toEqual(['objects']);
    expect(multipart.json.objects).toEqual(await expected(images[0]));

    const all = await expected(images[0], 0);
    expect(all.length).toBeGreaterThan(multipart.json.objects?.length ?? 0);
    const raw = await post(`${base}/api/predict?min_prob=0`, images[0], { 'content-type': 'image/png' });
    expect(raw.status).toBe(200);
    expect(raw.json.objects).toEqual(all);
    const field = await post(`${base}/api/predict`, form({ image: { data: images[1], type: 'image/jpeg', name: 'b.jpg' }, min_prob: '0.2' }));
    expect(field.json.objects).toEqual(await expected(images[1], 0.2));
    const octets = await post(`${base}/api/predict?min_prob=0.9`, images[1], { 'content-type': 'application/octet-stream' });
    expect(octets.json.objects).toEqual(await expected(images[1], 0.9));
    const withOtherFile = await post(`${base}/api/predict`, form({ notes: { data: Buffer.alloc(1000, 7), type: 'text/plain', name: 'n.txt' }, image: { data: images[2], type: 'image/png', name: 'c.png' } }));
    expect(withOtherFile.json.objects).toEqual(await expected(images[2]));
  });

  it('answers bad requests with 4xx JSON errors', async () => {
    const url = `${base}/api/predict`;
    const cases: Array<[string, Promise<Awaited<ReturnType<typeof post>>>, number, RegExp]> = [
      ['no body', post(url), 400, /^no image: send multipart\/form-data with the file in a field named 'image'/],
      ['multipart without an image', post(url, form({ min_prob: '0.5' })), 400, /^no image/],
      ['a file under another name', post(url, form({ file: { data: images[0], type: 'image/png', name: 'a.png' } })), 400, /^no image/],
      ['an empty image body', post(url, new Uint8Array(0), { 'content-type': 'image/png' }), 400, /^no image/],
      ['garbage as image/png', post(url, Buffer.from('definitely not a png'), { 'content-type': 'image/png' }), 400, /^not an image: Input buffer contains unsupported image format/],
      ['garbage in the image field', post(url, form({ image: { data: Buffer.from('nope'), type: 'image/jpeg', name: 'x.jpg' } })), 400, /^not an image/],
      ['JSON', post(url, JSON.stringify({ image: 'x' }), { 'content-type': 'application/json' }), 415, /^not an image: expected multipart\/form-data or an image\/\* body, but got content type 'application\/json'/],
      ['text', post(url, 'hello', { 'content-type': 'text/plain' }), 415, /^not an image/],
      ['an unknown type', post(url, 'x', { 'content-type': 'application/x-foo' }), 415, /^not an image/],
      ['a bad min_prob', post(`${url}?min_prob=2`, images[0], { 'content-type': 'image/png' }), 400, /^min_prob must be a number from 0 to 1, but got '2'/],
      ['too large, raw', post(url, Buffer.alloc(64 * 1024 + 1), { 'content-type': 'image/jpeg' }), 413, /^image too large: the limit is 0.06 MB \(65536 bytes\)/],
      ['too many fields', post(url, form(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, 'x'])))), 413, /^too many form parts/],
      ['too large, multipart', post(url, form({ image: { data: Buffer.alloc(64 * 1024 + 1), type: 'image/png', name: 'big.png' } })), 413, /^image too large/],
      ['too large, in another field', post(url, form({ other: { data: Buffer.alloc(64 * 1024 + 1), type: 'image/png', name: 'big.png' }, image: { data: images[0], type: 'image/png', name: 'a.png' } })), 413, /^image too large/],
    ];
    for (const [name, pending, status, message] of cases) {
      const response = await pending;
      expect({ name, status: response.status, type: response.type.split(';')[0] }).toEqual({ name, status, type: 'application/json' });
      expect(Object.keys(response.json)).toEqual(['error']);
      expect(response.json.error).toMatch(message);
    }
    const notFound = await fetch(`${base}/api/nothing`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ error: 'not found: GET /api/nothing' });
    // The server still works after all that.
    expect((await post(url, images[2], { 'content-type': 'image/png' })).status).toBe(200);
  });

  it('serves concurrent requests, each with its own answer', async () => {
    const order = [0, 1, 2, 3, 2, 1, 0, 3];
    const responses = await Promise.all(order.map((i) => post(`${base}/api/predict?min_prob=0.1`, form({ image: { data: images[i], type: 'image/png', name: `${i}.png` } }))));
    for (const [k, i] of order.entries()) {
      expect(responses[k].status).toBe(200);
      expect(responses[k].json.objects).toEqual(await expected(images[i], 0.1));
    }
    expect(server.queue.stats()).toEqual({ admitted: 0, running: 0, size: 8 });
  });

  it('answers 503 when the queue in front of the model is full, and serves the queued requests', async () => {
    let opened: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (opened = resolve));
    let calls = 0;
    const gated: Predictor = {
      classes: detector.classes,
      imageSize: detector.imageSize,
      detect: async (inputs) => {
        calls++;
        await gate;
        return detector.detect(inputs);
      },
    };
    const small = await createServer({ predictor: gated, queue: 1 });
    expect(small.queue.size).toBe(1);
    const url = `${await small.listen({ port: 0 })}/api/predict`;
    try {
      const first = post(url, images[0], { 'content-type': 'image/png' });
      for (let i = 0; i < 200 && calls < 1; i++) await sleep(10);
      const second = post(url, images[1], { 'content-type': 'image/jpeg' });
      for (let i = 0; i < 200 && small.queue.stats().admitted < 2; i++) await sleep(10);
      expect(small.queue.stats()).toEqual({ admitted: 2, running: 1, size: 1 });
      const third = await post(url, images[2], { 'content-type': 'image/png' });
      expect(third.status).toBe(503);
      expect(third.headers.get('retry-after')).toBe('1');
      expect(third.json).toEqual({ error: 'busy: the model has 1 request(s) waiting already; try again shortly' });
      opened();
      const [a, b] = await Promise.all([first, second]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(b.json.objects).toEqual(await expected(images[1]));
      expect((await post(url, images[2], { 'content-type': 'image/png' })).status).toBe(200);
    } finally {
      opened();
      await small.close();
    }
  });

  it('defaults: 10 MB images, 8 waiting, 30 s to send a request, 32 connections', () => {
    expect(DEFAULT_MAX_BYTES).toBe(10 * 1024 * 1024);
    expect(server.queue.size).toBe(8);
    expect([DEFAULT_TIMEOUT_SECONDS, DEFAULT_MAX_CONNECTIONS]).toEqual([30, 32]);
    expect(server.app.server.maxConnections).toBe(32);
    expect([server.app.server.requestTimeout, server.app.server.headersTimeout, server.app.server.keepAliveTimeout]).toEqual([30000, 30000, 5000]);
  });

  it('memory bound: bodies of every connection, plus body and decoded image of every request in the model queue', () => {
    const bound = memoryBound({ maxConnections: 32, maxBytes: 10 * 1024 * 1024, queue: 8, imageSize: { minSize: 600, maxSize: 1000 } });
    expect(bound).toEqual({ requestBodies: 32 * 10 * 1024 * 1024, queuedRequests: 9 * (10 * 1024 * 1024 + 600 * 1000 * 3), total: 335544320 + 110571840 });
  });

  it('cuts off a client that stalls or trickles mid-body after the timeout (408, socket closed); others are served', async () => {
    const strict = await createServer({ predictor: detector, timeoutSeconds: 0.5 });
    const url = await strict.listen({ port: 0 });
    try {
      const head = `POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${images[0].length}\r\n\r\n`;
      const stalled = await rawClient(url);
      stalled.socket.write(Buffer.concat([Buffer.from(head), images[0].subarray(0, 100)]));
      // A byte every 100 ms: never idle, still never done.
      const trickling = await rawClient(url);
      trickling.socket.write(head);
      let sent = 0;
      const drip = setInterval(() => trickling.socket.write(images[0].subarray(sent, ++sent)), 100);
      // Served meanwhile, on a connection that ends with its answer (so that the count below is theirs).
      const served = await rawClient(url);
      served.socket.write(Buffer.concat([Buffer.from(head.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')), images[0]]));
      await served.closed;
      expect(served.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);

      const [stalledAfter, tricklingAfter] = await Promise.all([stalled.closed, trickling.closed]);
      clearInterval(drip);
      for (const [client, after] of [[stalled, stalledAfter], [trickling, tricklingAfter]] as const) {
        expect(client.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
        expect(after).toBeGreaterThan(450);
        expect(after).toBeLessThan(2000);
      }
      expect(sent).toBeGreaterThan(3);
      // The server let go of both (and of their bodies with them).
      await until(async () => (await connections(strict)) === 0);
      expect(await connections(strict)).toBe(0);
      expect((await post(`${url}/api/predict`, images[1], { 'content-type': 'image/jpeg' })).status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('does not time out a request that waits for the model longer than the timeout', async () => {
    let opened: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (opened = resolve));
    const gated: Predictor = { ...detector, classes: detector.classes, imageSize: detector.imageSize, detect: async (inputs) => gate.then(() => detector.detect(inputs)) };
    const strict = await createServer({ predictor: gated, timeoutSeconds: 0.3 });
    const url = await strict.listen({ port: 0 });
    try {
      const waiting = post(`${url}/api/predict`, images[0], { 'content-type': 'image/png' });
      await sleep(1000);
      opened();
      const response = await waiting;
      expect(response.status).toBe(200);
      expect(response.json.objects).toEqual(await expected(images[0]));
    } finally {
      opened();
      await strict.close();
    }
  });

  it('closes connections beyond maxConnections at once, unanswered, and serves again when one goes', async () => {
    const small = await createServer({ predictor: detector, maxConnections: 2 });
    const url = await small.listen({ port: 0 });
    try {
      const first = await rawClient(url);
      const second = await rawClient(url);
      await until(async () => (await connections(small)) === 2);
      const third = await rawClient(url);
      third.socket.write('GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(await third.closed).toBeLessThan(1000);
      expect(third.received()).toBe('');
      await expect(fetch(`${url}/api/model`)).rejects.toThrow();

      first.socket.destroy();
      await until(async () => (await connections(small)) === 1);
      second.socket.write('GET /api/model HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await second.closed;
      expect(second.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      const response = await fetch(`${url}/api/model`);
      expect((await response.json()).maxConnections).toBe(2);
    } finally {
      await small.close();
    }
  });

  it('listen: a port in use is a UserError naming host:port', async () => {
    const other = createNetServer().listen(0, '127.0.0.1');
    await once(other, 'listening');
    const port = (other.address() as { port: number }).port;
    const second = await createServer({ predictor: detector });
    try {
      await expect(second.listen({ port, host: '127.0.0.1' })).rejects.toStrictEqual(new UserError(`port ${port} on 127.0.0.1 is in use by another program: pick another with --port`));
    } finally {
      await second.close();
      other.close();
    }
  });
});
