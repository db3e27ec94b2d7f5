import { decodeImage, type DecodedImage } from '@lumen/data';
import { loadDetector, type LoadedDetector } from '@lumen/detector';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { toObjects } from './objects';
import { OutputError, predictFiles, type PredictLine, type PredictOptions, type Predictor } from './predict';
import { makeTinyCheckpoint, testImage, TINY_CLASSES } from './testing/tiny-checkpoint';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Writable collecting JSON lines. */
function collector() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as PredictLine), text: () => text };
}

describe('predictFiles', () => {
  let dir: string;
  let detector: LoadedDetector;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-predict-'));
    await makeTinyCheckpoint(join(dir, 'checkpoint'));
    detector = loadDetector(join(dir, 'checkpoint'));
    mkdirSync(join(dir, 'images', 'other'), { recursive: true });
    const write = async (name: string, data: Buffer | Promise<Buffer>) => {
      files[name] = join(dir, 'images', name);
      writeFileSync(files[name], await data);
    };
    await write('a.png', testImage(120, 90, 'png', 1));
    await write('b.jpg', testImage(160, 120, 'jpeg', 2));
    await write('c.png', testImage(90, 140, 'png', 3));
    await write('other/a.png', testImage(100, 100, 'png', 4));
    await write('bad.png', Promise.resolve(Buffer.from('this is not an image')));
    files.missing = join(dir, 'images', 'missing.jpg');
  });
  afterAll(() => {
    detector.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (options: Partial<PredictOptions> & { files: string[] }) => {
    const out = collector();
    const messages: string[] = [];
    const summary = await predictFiles({ predictor: detector, output: out.stream, progress: false, log: (m) => messages.push(m), ...options });
    return { summary, lines: out.lines(), messages, text: out.text() };
  };

  it('writes one JSON line per file in input order, Luminoth-shaped, and goes on past unreadable files', async () => {
    const order = [files['c.png'], files['a.png'], files['bad.png'], files['b.jpg'], files.missing, files['other/a.png']];
    // Early files decode slowest: results arrive out of order and must be put back.
    const decode = async (file: string, rule: Predictor['imageSize']) => {
      await sleep(40 - 8 * order.indexOf(file));
      return decodeImage(file, rule);
    };
    const tensors = tf.memory().numTensors;
    const { summary, lines, messages, text } = await run({ files: order, decode, concurrency: 3, minProb: 0 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(text.endsWith('\n')).toBe(true);
    expect(lines.map((l) => l.file)).toEqual(order);
    expect(summary).toMatchObject({ images: 6, failed: 2 });
    for (const line of [lines[0], lines[1], lines[3], lines[5]]) {
      expect(Object.keys(line)).toEqual(['file', 'objects']);
      expect(line.objects.length).toBeGreaterThan(0);
      const probs = line.objects.map((o) => o.prob);
      expect(probs).toEqual([...probs].sort((a, b) => b - a));
      for (const object of line.objects) {
        expect(Object.keys(object)).toEqual(['bbox', 'label', 'prob']);
        expect(TINY_CLASSES).toContain(object.label);
        expect(object.bbox).toHaveLength(4);
        expect(object.bbox[0]).toBeLessThanOrEqual(object.bbox[2]);
        expect(object.bbox[1]).toBeLessThanOrEqual(object.bbox[3]);
      }
    }
    // bbox in original pixels: c.png is 90x140.
    expect(Math.max(...lines[0].objects.map((o) => o.bbox[2]))).toBeLessThanOrEqual(90);
    expect(Math.max(...lines[0].objects.map((o) => o.bbox[3]))).toBeLessThanOrEqual(140);
    expect(Math.max(...lines[0].objects.map((o) => o.bbox[3]))).toBeGreaterThan(96);
    expect(lines[2]).toEqual({ file: files['bad.png'], objects: [], error: `cannot decode '${files['bad.png']}': Input buffer contains unsupported image format` });
    expect(lines[4]).toEqual({ file: files.missing, objects: [], error: expect.stringMatching(/^cannot read '.*missing\.jpg': ENOENT/) });
    expect(messages).toEqual([`lumen predict: ${files['bad.png']}: ${lines[2].error}`, `lumen predict: ${files.missing}: ${lines[4].error}`]);
  });

  it("gives the detector's own answer, through toObjects", async () => {
    const image = await decodeImage(files['b.jpg'], detector.imageSize);
    const [detection] = await detector.detect([image]);
    const { lines } = await run({ files: [files['b.jpg']], minProb: 0 });
    expect(lines[0].objects).toEqual(toObjects(detection, detector.classes, { minProb: 0 }));
  });

  it('min-prob, max-detections and class filters cut the same detections', async () => {
    const all = (await run({ files: [files['a.png'], files['c.png']], minProb: 0 })).lines;
    const labels = new Set(all.flatMap((l) => l.objects.map((o) => o.label)));
    expect(labels.size).toBeGreaterThan(1); // the tiny model's classes vary, so the filters have work
    const cut = (p: (o: PredictLine['objects'][number]) => boolean) => all.map((l) => ({ file: l.file, objects: l.objects.filter(p) }));
    // Between two reported probs (the raw scores are compared, the written ones are rounded).
    const middle = Math.floor(all[0].objects.length / 2);
    const threshold = (all[0].objects[middle - 1].prob + all[0].objects[middle].prob) / 2;
    expect(all[0].objects[middle - 1].prob).toBeGreaterThan(all[0].objects[middle].prob);
    expect((await run({ files: [files['a.png'], files['c.png']], minProb: threshold })).lines).toEqual(cut((o) => o.prob >= threshold));
    expect((await run({ files: [files['a.png'], files['c.png']], minProb: 0, onlyClasses: ['dog'] })).lines).toEqual(cut((o) => o.label === 'dog'));
    expect((await run({ files: [files['a.png'], files['c.png']], minProb: 0, ignoreClasses: ['dog'] })).lines).toEqual(cut((o) => o.label !== 'dog'));
    const top3 = (await run({ files: [files['a.png']], minProb: 0, maxDetections: 3 })).lines;
    expect(top3[0].objects).toEqual(all[0].objects.slice(0, 3));
  });

  it('decodes ahead of the model by at most `prefetch` images', async () => {
    const many = Array.from({ length: 12 }, (_, i) => [files['a.png'], files['b.jpg'], files['c.png']][i % 3]);
    let decoded = 0;
    let written = 0;
    let mostAhead = 0;
    const image: DecodedImage = await decodeImage(files['a.png'], detector.imageSize);
    const slow: Predictor = {
      classes: detector.classes,
      imageSize: detector.imageSize,
      detect: async () => {
        await sleep(15);
        return [{ boxes: [[1, 2, 3, 4]], scores: [0.9], labels: [1] }];
      },
    };
    const out = new Writable({
      write(_chunk, _encoding, done) {
        written++;
        done();
      },
    });
    await predictFiles({
      predictor: slow,
      files: many,
      output: out,
      progress: false,
      concurrency: 2,
      prefetch: 3,
      decode: async () => {
        decoded++;
        mostAhead = Math.max(mostAhead, decoded - written);
        return image;
      },
    });
    expect(decoded).toBe(12);
    expect(written).toBe(12);
    expect(mostAhead).toBe(3);
  });

  it('saves drawn images under their base names, the same size, changed where the boxes are', async () => {
    const media = join(dir, 'media');
    const { lines, summary } = await run({ files: [files['a.png'], files['b.jpg'], files['other/a.png']], saveMedia: media, minProb: 0.3, maxDetections: 3 });
    expect(summary.failed).toBe(0);
    expect(readdirSync(media).sort()).toEqual(['a-2.png', 'a.png', 'b.jpg']);
    const meta = await sharp(join(media, 'b.jpg')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 160, 120]);
    const other = await sharp(join(media, 'a-2.png')).metadata();
    expect([other.width, other.height]).toEqual([100, 100]);

    const raw = async (data: Buffer | string) => (await sharp(data).removeAlpha().raw().toBuffer({ resolveWithObject: true })).data;
    const before = await raw(readFileSync(files['a.png']));
    const after = await raw(join(media, 'a.png'));
    expect(after.length).toBe(before.length);
    const changed = (x: number, y: number) => [0, 1, 2].some((c) => after[(y * 120 + x) * 3 + c] !== before[(y * 120 + x) * 3 + c]);
    const [x1, y1, x2, y2] = lines[0].objects[0].bbox.map(Math.round);
    const midY = Math.min(89, Math.max(0, Math.round((y1 + y2) / 2)));
    expect(changed(Math.min(119, x1 + 1), midY) || changed(Math.max(0, x2 - 1), midY)).toBe(true);
    let unchanged = 0;
    for (let y = 0; y < 90; y++) for (let x = 0; x < 120; x++) if (!changed(x, y)) unchanged++;
    expect(unchanged).toBeGreaterThan(0);
    expect(unchanged).toBeLessThan(120 * 90);
  });

  it("stops with the stream's error when the output fails (at once, or while waiting for it to drain), no stray error event", async () => {
    const many = Array.from({ length: 12 }, () => files['a.png']);
    const full = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    for (const highWaterMark of [1 << 16, 1]) {
      let lines = 0;
      let decoded = 0;
      let mostErrorListeners = 0;
      const failing: Writable = new Writable({
        highWaterMark,
        write(_chunk, _encoding, done) {
          lines++;
          setTimeout(() => {
            // Counted while the run may wait for 'drain'. stdout has one per worker thread
            // already: the run adds a single one (Node warns past 10).
            mostErrorListeners = Math.max(mostErrorListeners, failing.listenerCount('error'));
            done(lines === 2 ? full() : null);
          }, 5);
        },
      });
      const decode = (file: string, rule: Predictor['imageSize']) => {
        decoded++;
        return decodeImage(file, rule);
      };
      const error = await predictFiles({ predictor: detector, files: many, output: failing, progress: false, prefetch: 2, decode }).catch((e: unknown) => e);
      expect(error).toStrictEqual(new OutputError(full()));
      expect((error as OutputError).cause).toBe(failing.errored);
      expect([mostErrorListeners, failing.listenerCount('error')]).toEqual([1, 0]);
      expect({ highWaterMark, stoppedEarly: decoded < many.length }).toEqual({ highWaterMark, stoppedEarly: true });
    }
  });

  it('never overwrites an input with its drawn image', async () => {
    const folder = join(dir, 'images');
    await run({ files: [files['c.png']], saveMedia: folder });
    expect(existsSync(join(folder, 'c-2.png'))).toBe(true);
    expect(readFileSync(files['c.png'])).toEqual(await testImage(90, 140, 'png', 3));
  });
});
