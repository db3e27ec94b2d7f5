import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { assertString, fail, fromWorkspace } from '@lumen/core';
import type { DataConfig, DigitsOptions, Log } from '../types';
import { isDirectory, mapOrdered } from '../util';
import { assertDigitsOptions } from '../validate';
import { glyphRanges, loadMnist, type GlyphRange } from './mnist';
import type { RenderWorkerReply } from './render-worker';
import { writeDigitsImage, type DigitsImageJob } from './write-image';

export { JPEG_QUALITY, vocXml } from './write-image';

export const DIGIT_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Counts sized for a detector trained from scratch on a 2-core CPU in under 30 minutes. */
export const DEFAULT_DIGITS: DigitsOptions = { seed: 2024, train: 3000, val: 300, test: 300, shift: 300 };

/**
 * Bumped when the generator's output changes, so ensureDigits regenerates old datasets.
 * 2: the `shift` split; 3: training canvases of five styles, faint and hue-only ink, stroke weights;
 * 4: up to 48 digits an image.
 */
export const DIGITS_VERSION = 4;
export const MANIFEST = 'digits.json';

/**
 * The splits generated, in seed order (image i of split s is rendered from mixSeed(seed, s, i)):
 * train/val/test by renderDigitsImage, `shift` — for evaluation only — by the independent
 * renderShiftImage (shift-render.ts).
 */
export const DIGITS_SPLITS = ['train', 'val', 'test', 'shift'] as const;
export type DigitsSplit = (typeof DIGITS_SPLITS)[number];
type PerSplit<T> = Record<DigitsSplit, T>;

/** The image count of a split (`shift` absent: none). */
const countOf = (options: DigitsOptions, split: DigitsSplit) => (split === 'shift' ? (options.shift ?? 0) : options[split]);
/** The splits worth naming in a message: shift only when it has images. */
const named = (counts: Partial<Record<DigitsSplit, number>>) => DIGITS_SPLITS.filter((split) => split !== 'shift' || (counts.shift ?? 0) > 0);

export interface DigitsSummary {
  generator: 'lumen-digits';
  version: number;
  seed: number;
  /** Images per split. */
  images: PerSplit<number>;
  /** Boxes per split. */
  boxes: PerSplit<number>;
  /** Images without a digit, per split. */
  empty: PerSplit<number>;
  /** Boxes per class over all splits. */
  perClass: Record<string, number>;
  /** The mnist sample ranges (per class, [start, end)) each split drew from (shift: test's). */
  glyphs: PerSplit<GlyphRange[]>;
  classes: string[];
  seconds: number;
}

async function readManifest(dir: string): Promise<DigitsSummary | null> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as DigitsSummary;
    return manifest?.generator === 'lumen-digits' ? manifest : null;
  } catch {
    return null;
  }
}

/** Empty or missing. */
async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch {
    return true;
  }
}

/** Fewer images than this per worker thread are not worth a thread's start-up (~1 s). */
const MIN_IMAGES_PER_WORKER = 100;

/**
 * Writes `jobs` on `count` worker threads (render-worker.ts), two jobs queued on each so a
 * worker renders its next image while sharp encodes the last; `done` hears of each image
 * as it is written. Rejects on the first image that fails, naming it.
 */
async function writeOnWorkers(jobs: DigitsImageJob[], count: number, done: (splitIndex: number, digits: number[]) => void): Promise<void> {
  const workers = Array.from({ length: count }, () => new Worker(join(__dirname, 'render-worker-entry.js')));
  let next = 0;
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            let queued = 0;
            const send = () => {
              if (next < jobs.length) {
                worker.postMessage(jobs[next++]);
                queued++;
              } else if (queued === 0) {
                resolve();
              }
            };
            worker.on('message', (reply: RenderWorkerReply) => {
              queued--;
              if ('error' in reply) return reject(new Error(`digits: rendering ${reply.id} failed: ${reply.error}`));
              done(reply.splitIndex, reply.digits);
              send();
            });
            worker.on('error', (e) => reject(new Error(`digits: a render worker failed: ${e.stack ?? e.message}`)));
            worker.on('exit', (code) => reject(new Error(`digits: a render worker exited (code ${code}) with images still to write`)));
            send();
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/**
 * Generates the digits dataset in Pascal VOC layout under `dir`: `JPEGImages/<id>.jpg`
 * (quality 90; shift images 60..95), `Annotations/<id>.xml` (classes "0".."9"; each object
 * also records its mnist sample as `<glyph>`), `ImageSets/Main/{train,val,test,shift}.txt`,
 * and `digits.json` (this summary). Train, val and test images are rendered by
 * renderDigitsImage, `shift` images (evaluation only: other canvases, inks, poses, blur,
 * noise and compression) by renderShiftImage; image i of split s (DIGITS_SPLITS order) from
 * the seed mixSeed(seed, s, i): the same options give the same files. Train digits come
 * from the first 80% of each class's mnist samples, val and test from the last 20%
 * (halves), shift from the test half.
 * Images are rendered on `extra.workers` worker threads (default: one per core, up to 4;
 * datasets under 200 images on this thread), each from its own seed, so the thread count
 * does not change a byte.
 * Written to a sibling folder first and moved into place, so an interrupted run leaves no
 * half dataset; refuses to replace a non-empty `dir` that is not a generated dataset. A
 * relative `dir` is under the workspace root (fromWorkspace), not the working directory.
 */
export async function generateDigits(dir: string, options: DigitsOptions, extra: { log?: Log; workers?: number } = {}): Promise<DigitsSummary> {
  assertString('generateDigits', 'dir', dir);
  assertDigitsOptions('generateDigits', 'options', options);
  const target = fromWorkspace(dir);
  const old = await readManifest(target);
  if (old == null && !(await isEmptyDir(target))) {
    fail('generateDigits', `'dir' ${target} exists, is not empty and has no ${MANIFEST}: not replacing it (remove it or choose another data.dataset.dir).`);
  }
  const started = performance.now();
  const bank = loadMnist();
  const work = join(dirname(target), `.${basename(target)}.partial-${process.pid}-${Date.now()}`);
  const folders = { images: join(work, 'JPEGImages'), annotations: join(work, 'Annotations'), lists: join(work, 'ImageSets', 'Main') };
  await Promise.all(Object.values(folders).map((f) => mkdir(f, { recursive: true })));
  const summary: DigitsSummary = {
    generator: 'lumen-digits',
    version: DIGITS_VERSION,
    seed: options.seed,
    images: { train: options.train, val: options.val, test: options.test, shift: countOf(options, 'shift') },
    boxes: { train: 0, val: 0, test: 0, shift: 0 },
    empty: { train: 0, val: 0, test: 0, shift: 0 },
    perClass: Object.fromEntries(DIGIT_CLASSES.map((c) => [c, 0])),
    glyphs: { train: glyphRanges(bank, 'train'), val: glyphRanges(bank, 'val'), test: glyphRanges(bank, 'test'), shift: glyphRanges(bank, 'test') },
    classes: [...DIGIT_CLASSES],
    seconds: 0,
  };
  try {
    const jobs: DigitsImageJob[] = [];
    for (const [s, split] of DIGITS_SPLITS.entries()) {
      const ids = Array.from({ length: countOf(options, split) }, (_, i) => `${split}_${String(i).padStart(5, '0')}`);
      ids.forEach((id, index) =>
        jobs.push({ id, seed: options.seed, splitIndex: s, index, shift: split === 'shift', ranges: summary.glyphs[split], imagesDir: folders.images, annotationsDir: folders.annotations }),
      );
      await writeFile(join(folders.lists, `${split}.txt`), ids.map((id) => `${id}\n`).join(''));
    }
    const count = (splitIndex: number, digits: number[]) => {
      const split = DIGITS_SPLITS[splitIndex];
      summary.boxes[split] += digits.length;
      if (digits.length === 0) summary.empty[split]++;
      for (const d of digits) summary.perClass[String(d)]++;
    };
    const workers = extra.workers ?? (jobs.length >= 2 * MIN_IMAGES_PER_WORKER ? Math.min(4, availableParallelism()) : 1);
    if (workers >= 2) {
      await writeOnWorkers(jobs, workers, count);
    } else {
      // Rendering is JS on this thread; encoding and writing overlap it on libuv's pool.
      for await (const _ of mapOrdered(jobs, 4, async (job) => count(job.splitIndex, await writeDigitsImage(job)))) void _;
    }
    summary.seconds = Math.round((performance.now() - started) / 100) / 10;
    await writeFile(join(work, MANIFEST), `${JSON.stringify(summary, null, 2)}\n`);
    await mkdir(dirname(target), { recursive: true });
    if (old != null) {
      const trash = `${work}.old`;
      await rename(target, trash);
      await rename(work, target);
      await rm(trash, { recursive: true, force: true });
    } else {
      await rm(target, { recursive: true, force: true }); // empty or missing
      await rename(work, target);
    }
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
  const boxes = DIGITS_SPLITS.reduce((n, split) => n + summary.boxes[split], 0);
  const counts = named(summary.images).map((split) => summary.images[split]);
  extra.log?.(`digits: generated ${counts.join('/')} images (${boxes} digits) in ${target} in ${summary.seconds} s`);
  return summary;
}

/** Why ensureDigits generates: `configured` is the dir as the config writes it. */
async function generationReason(configured: string, dir: string, manifest: DigitsSummary | null): Promise<string> {
  if (manifest == null) return (await isDirectory(dir)) ? `${configured} holds no digits dataset (no ${MANIFEST})` : `${configured} is missing`;
  if (manifest.version !== DIGITS_VERSION) return `${configured} was made by generator version ${manifest.version}, not ${DIGITS_VERSION}`;
  const counts: Partial<DigitsSummary['images']> = manifest.images ?? {};
  return `${configured} holds another digits dataset (seed ${manifest.seed}, ${named(counts).map((split) => `${counts[split] ?? '?'} ${split}`).join(', ')})`;
}

const describeCounts = (o: DigitsOptions) => {
  const counts = Object.fromEntries(DIGITS_SPLITS.map((split) => [split, countOf(o, split)]));
  return `${DIGITS_SPLITS.reduce((n, split) => n + counts[split], 0)} images (${named(counts).map((split) => `${counts[split]} ${split}`).join(', ')}, seed ${o.seed})`;
};

/**
 * For a `digits` config: generates `config.dataset.dir` when it holds no generated dataset,
 * or one made with other options (seed, counts, generator version); otherwise leaves it.
 * Returns the dataset's summary and whether it was generated now. No-op (null) for
 * other dataset types. openDataset calls it.
 */
export async function ensureDigits(config: Pick<DataConfig, 'dataset'>, extra: { log?: Log } = {}): Promise<{ generated: boolean; summary: DigitsSummary } | null> {
  if (config?.dataset?.type !== 'digits') return null;
  const options = config.dataset.digits ?? DEFAULT_DIGITS;
  assertDigitsOptions('ensureDigits', 'config.dataset.digits', options);
  const dir = fromWorkspace(config.dataset.dir);
  const manifest = await readManifest(dir);
  const same =
    manifest != null &&
    manifest.version === DIGITS_VERSION &&
    manifest.seed === options.seed &&
    DIGITS_SPLITS.every((split) => manifest.images?.[split] === countOf(options, split));
  if (same) return { generated: false, summary: manifest };
  const log = extra.log ?? ((message: string) => console.warn(message));
  log(`digits: ${await generationReason(config.dataset.dir, dir, manifest)}: generating ${describeCounts(options)} into ${dir}`);
  return { generated: true, summary: await generateDigits(dir, options, { log }) };
}
