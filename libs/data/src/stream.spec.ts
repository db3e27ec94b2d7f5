import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BehaviorSubject, firstValueFrom, lastValueFrom, Subject, toArray } from 'rxjs';
import { openDataset, type Dataset } from './dataset';
import { generateDigits } from './digits/generate';
import { epochOrder, evalExamples, evalStream, trainingExamples, trainingStream } from './stream';
import { FIXTURES, tempDir, testConfig, truncatedJpeg } from './testing/helpers';
import type { DataConfig, DecodedExample } from './types';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fingerprint = (e: DecodedExample) =>
  `${e.id} ${e.width}x${e.height} ${Array.from(e.boxes).join(',')} ${createHash('sha1').update(e.pixels).digest('hex').slice(0, 12)}`;

const tmp = tempDir('lumen-stream-');
let config: DataConfig;
let dataset: Dataset;

beforeAll(async () => {
  const dir = join(tmp.dir, 'digits');
  await generateDigits(dir, { seed: 5, train: 16, val: 4, test: 4 });
  config = testConfig(
    { type: 'digits', dir, digits: { seed: 5, train: 16, val: 4, test: 4 } },
    {
      image: { minSize: 64, maxSize: 128 },
      augment: {
        flip: 0.5,
        scaleJitter: { prob: 0.5, minSizes: [48, 56, 64] },
        photometric: { prob: 0.5, brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.03 },
        crop: { prob: 0.5, minScale: 0.5, minBoxVisible: 0.6 },
      },
      loader: { concurrency: 2, prefetch: 3, shuffle: true },
    },
  );
  dataset = await openDataset(config, 'train', { log: () => undefined });
}, 60000);
afterAll(() => tmp.remove());

describe('epochOrder', () => {
  it('is a permutation fixed by (seed, epoch), the identity without shuffle', () => {
    const a = epochOrder(50, 1, 0);
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
    expect(Array.from(epochOrder(50, 1, 0))).toEqual(Array.from(a));
    expect(Array.from(epochOrder(50, 1, 1))).not.toEqual(Array.from(a));
    expect(Array.from(epochOrder(50, 2, 0))).not.toEqual(Array.from(a));
    expect(Array.from(epochOrder(5, 1, 0, false))).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('trainingStream', () => {
  it('gives the same examples, order and augmentations for the same (seed, epoch)', async () => {
    const run = () => lastValueFrom(trainingStream(dataset, config, { seed: 3, epoch: 1 }).pipe(toArray()));
    const a = await run();
    const b = await run();
    expect(a).toHaveLength(16);
    expect(a.map(fingerprint)).toEqual(b.map(fingerprint));
    expect(a.map((e) => e.index)).toEqual(Array.from(epochOrder(16, 3, 1)));
    const other = await lastValueFrom(trainingStream(dataset, config, { seed: 3, epoch: 2 }).pipe(toArray()));
    expect(other.map((e) => e.id)).not.toEqual(a.map((e) => e.id));
  });

  it('does not depend on concurrency, and resumes mid-epoch with the same tail', async () => {
    const serial = { ...config, loader: { concurrency: 1, prefetch: 1, shuffle: true } };
    const all = await lastValueFrom(trainingStream(dataset, serial, { seed: 9, epoch: 0 }).pipe(toArray()));
    const wide = await lastValueFrom(trainingStream(dataset, { ...config, loader: { concurrency: 4, prefetch: 8, shuffle: true } }, { seed: 9, epoch: 0 }).pipe(toArray()));
    expect(wide.map(fingerprint)).toEqual(all.map(fingerprint));
    const tail = await lastValueFrom(trainingStream(dataset, config, { seed: 9, epoch: 0, start: 10 }).pipe(toArray()));
    expect(tail.map(fingerprint)).toEqual(all.slice(10).map(fingerprint));
  });

  it('emits only what `demand` requests, and a slow consumer holds at most `prefetch` decoded examples', async () => {
    // Count loads started: each starts with dataset.at().
    let started = 0;
    const counted: Dataset = { ...dataset, at: (i) => (started++, dataset.at(i)) };
    const demand = new BehaviorSubject<number>(1);
    const received: DecodedExample[] = [];
    let worst = 0;
    const done = new Promise<void>((resolve, reject) => {
      trainingStream(counted, config, { seed: 1, epoch: 0, demand }).subscribe({
        next: (example) => {
          received.push(example);
          worst = Math.max(worst, started - received.length);
        },
        complete: resolve,
        error: reject,
      });
    });
    await sleep(300);
    // One requested: one emitted; the stream decoded ahead no further than prefetch.
    expect(received).toHaveLength(1);
    expect(started - received.length).toBeLessThanOrEqual(config.loader.prefetch);
    expect(started - received.length).toBe(config.loader.prefetch);
    for (let k = 0; k < 15; k++) {
      await sleep(20); // a slow training step
      worst = Math.max(worst, started - received.length);
      demand.next(1);
    }
    await done;
    expect(received).toHaveLength(16);
    expect(worst).toBeLessThanOrEqual(config.loader.prefetch);
  });

  it('pulls a batch at a time through a numeric demand', async () => {
    const demand = new Subject<number>();
    const seen: number[] = [];
    const subscription = trainingStream(dataset, config, { seed: 1, epoch: 0, demand }).subscribe(() => seen.push(1));
    await sleep(100);
    expect(seen).toHaveLength(0);
    demand.next(4);
    await sleep(300);
    expect(seen).toHaveLength(4);
    subscription.unsubscribe();
  });

  it('refuses a dataset with no usable example and bad options, at the call', async () => {
    const empty = await openDataset(testConfig({ type: 'voc', dir: join(FIXTURES, 'voc') }), 'test', { log: () => undefined });
    expect(() => trainingStream(empty, config, { seed: 1, epoch: 0 })).toThrow(/^Error in trainingStream: the test split \(test\) of .* has no usable example: no split list/);
    expect(() => trainingStream(dataset, config, { seed: 1.5, epoch: 0 })).toThrow("Error in trainingStream: 'options.seed' must be an integer, but got 1.5.");
    expect(() => trainingStream(dataset, config, { seed: 1, epoch: 0, start: 17 })).toThrow("Error in trainingStream: 'options.start' must be an integer in [0, 16], but got 17.");
    expect(() => trainingStream(dataset, { ...config, loader: { ...config.loader, prefetch: 0 } }, { seed: 1, epoch: 0 })).toThrow(
      "Error in trainingStream: 'config.loader.prefetch' must be a positive integer, but got 0.",
    );
  });

  it('is also a pull iterator', async () => {
    const iterator = trainingExamples(dataset, config, { seed: 3, epoch: 1 });
    const first = await iterator.next();
    const stream = await firstValueFrom(trainingStream(dataset, config, { seed: 3, epoch: 1 }));
    expect(fingerprint(first.value as DecodedExample)).toBe(fingerprint(stream));
    iterator.close();
  });
});

describe('evalStream', () => {
  it('decodes in dataset order without augmentation', async () => {
    const examples = await lastValueFrom(evalStream(dataset, config).pipe(toArray()));
    expect(examples.map((e) => e.index)).toEqual([...Array(16).keys()]);
    for (const e of examples) {
      const source = dataset.at(e.index);
      expect(Math.min(e.width, e.height)).toBe(64);
      expect(Array.from(e.boxes)).toEqual(Array.from(source.boxes).map((v, i) => Math.fround(v * (i % 2 === 0 ? e.width / source.width : e.height / source.height))));
      expect(Array.from(e.labels)).toEqual(Array.from(source.labels));
    }
  });

  it('skips images it cannot use and adds them to the dataset report once', async () => {
    const lines: string[] = [];
    const voc = await openDataset(testConfig({ type: 'voc', dir: join(FIXTURES, 'voc') }), 'train', { log: (line) => lines.push(line) });
    expect(voc.size).toBe(7);
    const before = voc.report();
    const ids = (await collect(evalExamples(voc, testConfig({ type: 'voc', dir: '.' })))).map((e) => e.id);
    expect(ids).toEqual(['000001', '000002', '000003', '000006', '000009']);
    await collect(evalExamples(voc, testConfig({ type: 'voc', dir: '.' })));
    const after = voc.report();
    expect(after.examples).toBe(before.examples - 2);
    expect(after.skippedExamples).toMatchObject({ 'undecodable-image': 1, 'bad-image-size': 1 });
    expect(lines.filter((l) => l.includes('000004.jpg'))).toHaveLength(1);
  });
});

describe('a truncated image in training', () => {
  it('is skipped with a warning naming the file, once, and the epochs go on without it', async () => {
    const dir = join(tmp.dir, 'truncated');
    mkdirSync(dir);
    const jpeg = await truncatedJpeg();
    for (const name of ['a.jpg', 'c.jpg']) writeFileSync(join(dir, name), jpeg.whole);
    writeFileSync(join(dir, 'b.jpg'), jpeg.cut);
    writeFileSync(join(dir, 'train.csv'), 'a.jpg,10,10,200,200,cat\nb.jpg,10,10,200,200,cat\nc.jpg,300,200,600,400,cat\n');
    const lines: string[] = [];
    const cut = await openDataset(testConfig({ type: 'csv', dir }), 'train', { log: (line) => lines.push(line) });
    expect(cut.size).toBe(3); // the header reads: only decoding finds the cut
    const every = { ...config.augment, flip: 0.5, photometric: { ...config.augment.photometric, prob: 1 }, crop: { prob: 1, minScale: 0.3, minBoxVisible: 0.1 } };
    const augmented = { ...config, augment: every };
    for (const epoch of [0, 1, 2]) {
      const ids = (await lastValueFrom(trainingStream(cut, augmented, { seed: 1, epoch }).pipe(toArray()))).map((e) => e.id);
      expect(ids.sort()).toEqual(['a.jpg', 'c.jpg']);
    }
    expect(lines).toEqual([`warning: ${join(dir, 'b.jpg')}: pixels do not decode: the JPEG is truncated: its ${jpeg.cut.length} bytes end before an end-of-image marker (image skipped)`]);
    expect(cut.report()).toMatchObject({ examples: 2, skippedExamples: { 'undecodable-image': 1 } });
  });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
