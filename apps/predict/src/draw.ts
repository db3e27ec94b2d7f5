import { basename, extname } from 'node:path';
import sharp from 'sharp';
import { isVideoPath } from './inputs';
import type { PredictedObject } from './objects';

/** Box colours, one per class in the checkpoint's order (wrapping around): Tableau 20's strong half and more. */
export const PALETTE = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#393b79', '#e7ba52', '#637939', '#ad494a', '#7b4173', '#3182bd', '#e6550d', '#31a354', '#756bb1', '#636363',
] as const;

/** The colour of a class: PALETTE by the class's position in `classes` (unknown names: the last colour). */
export function colourFor(label: string, classes: readonly string[]): string {
  const index = classes.indexOf(label);
  return PALETTE[(index < 0 ? PALETTE.length - 1 : index) % PALETTE.length];
}

/** Black or white, whichever reads better on `hex`. */
function textColourOn(hex: string): string {
  const v = Number.parseInt(hex.slice(1), 16);
  const luma = 0.299 * ((v >> 16) & 255) + 0.587 * ((v >> 8) & 255) + 0.114 * (v & 255);
  return luma > 150 ? '#000000' : '#ffffff';
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);

/** Sizes of strokes and tags for an image: they scale with its short side. */
export function drawingSizes(width: number, height: number): { line: number; font: number; pad: number } {
  const short = Math.min(width, height);
  const line = Math.max(2, Math.round(short / 250));
  const font = Math.max(10, Math.round(short / 40));
  return { line, font, pad: Math.max(2, Math.round(font / 4)) };
}

/**
 * An SVG of `width` x `height` with a rectangle per object (its class's colour) and a filled
 * tag "label 0.98" on its top edge (inside the box when there is no room above). The most
 * probable object is drawn last, on top.
 */
export function overlaySvg(width: number, height: number, objects: readonly PredictedObject[], classes: readonly string[]): string {
  const { line, font, pad } = drawingSizes(width, height);
  const parts: string[] = [];
  for (const object of [...objects].reverse()) {
    const [x1, y1, x2, y2] = object.bbox;
    const colour = colourFor(object.label, classes);
    const text = `${object.label} ${object.prob.toFixed(2)}`;
    const tagWidth = Math.ceil(text.length * font * 0.6) + 2 * pad;
    const tagHeight = font + 2 * pad;
    const tagX = Math.max(0, Math.min(x1, width - tagWidth));
    const tagY = y1 - tagHeight >= 0 ? y1 - tagHeight : Math.min(y1, Math.max(0, height - tagHeight));
    parts.push(
      `<rect x="${x1}" y="${y1}" width="${Math.max(0, x2 - x1)}" height="${Math.max(0, y2 - y1)}" fill="none" stroke="${colour}" stroke-width="${line}"/>`,
      `<rect x="${tagX}" y="${tagY}" width="${tagWidth}" height="${tagHeight}" fill="${colour}"/>`,
      `<text x="${tagX + pad}" y="${tagY + pad + font * 0.82}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="${font}" fill="${textColourOn(colour)}">${escapeXml(text)}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

export type MediaFormat = 'jpeg' | 'png' | 'mp4';

/**
 * The file name drawn media is saved under: the input's base name; .jpg/.jpeg stay JPEG,
 * videos become `<name>.mp4`, every other image becomes PNG.
 */
export function mediaName(file: string): { name: string; format: MediaFormat } {
  const base = basename(file);
  const ext = extname(base).toLowerCase();
  if (isVideoPath(base)) return { name: `${base.slice(0, base.length - ext.length)}.mp4`, format: 'mp4' };
  if (ext === '.jpg' || ext === '.jpeg' || ext === '.jpe') return { name: base, format: 'jpeg' };
  if (ext === '.png') return { name: base, format: 'png' };
  return { name: `${base.slice(0, base.length - ext.length)}.png`, format: 'png' };
}

/**
 * The image with its objects drawn on it: EXIF orientation applied (so boxes in displayed
 * pixels line up), the same size as displayed, an SVG overlay composited by sharp.
 */
export async function drawObjects(image: Buffer, objects: readonly PredictedObject[], classes: readonly string[], format: 'jpeg' | 'png'): Promise<Buffer> {
  const meta = await sharp(image).metadata();
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  const svg = Buffer.from(overlaySvg(width, height, objects, classes));
  const drawn = sharp(image).autoOrient().composite([{ input: svg, top: 0, left: 0 }]);
  return format === 'jpeg' ? drawn.jpeg({ quality: 92 }).toBuffer() : drawn.png().toBuffer();
}

/** A raw RGB24 video frame (`width` x `height`) with its objects drawn as drawObjects draws them, raw RGB24 again. */
export async function drawObjectsOnFrame(pixels: Buffer, width: number, height: number, objects: readonly PredictedObject[], classes: readonly string[]): Promise<Buffer> {
  const svg = Buffer.from(overlaySvg(width, height, objects, classes));
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .composite([{ input: svg, top: 0, left: 0 }])
    .removeAlpha()
    .raw()
    .toBuffer();
}
