import { readFile } from 'node:fs/promises';
import sharp, { type Matrix3x3, type Metadata, type Sharp, type SharpOptions } from 'sharp';
import type { Window } from './boxes';
import { fail } from '@lumen/core';
import { addNoise, LUMA, mixMatrix, multiply, overlayPattern, recompress, type PatternPlan } from './effects';
import { interpolateBilinear } from './interpolate';
import type { ResizeMode } from './types';
import { rotationWindow } from './rotate';
import { truncation } from './truncation';
import { assertSizes } from './validate';

export { LUMA };

/** A decoded, resized RGB image. */
export interface DecodedImage<Pixels extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  /**
   * RGB, HWC, height*width*3: bytes when sharp resized it (`resize: 'sharp'`), float32 in
   * [0, 1] when torchvision's bilinear did (`resize: 'torchvision'`).
   */
  pixels: Pixels;
  width: number;
  height: number;
  /** The resize factor (docs/architecture.md §4); width = floor(originalWidth * scale) (of the crop, when cropped). */
  scale: number;
  /** As displayed: EXIF orientation applied. */
  originalWidth: number;
  originalHeight: number;
}

export interface ResizeRule {
  minSize: number;
  maxSize: number;
  /** Default 'sharp'. */
  resize?: ResizeMode;
}

/**
 * torchvision's `_resize_image_and_masks` scale, in float32 as it computes it:
 * `min_size / short` is `reciprocal(short) * min_size` (Python's float / tensor), so a
 * 500x375 image at 800 is scaled by 2.1333332, just below 800/375: 799 rows, not 800.
 */
export function torchvisionScale(width: number, height: number, minSize: number, maxSize: number): number {
  const short = Math.fround(Math.fround(1 / Math.min(width, height)) * minSize);
  const long = Math.fround(Math.fround(1 / Math.max(width, height)) * maxSize);
  return Math.min(short, long);
}

/**
 * The resize rule of docs/architecture.md §4, torchvision's `GeneralizedRCNNTransform`: the
 * short side becomes `minSize` unless the long side would exceed `maxSize`;
 * `scale = min(minSize / short, maxSize / long)`, size `floor(side * scale)` (at least 1).
 * 'sharp' computes the scale in double; 'torchvision' in float32 as torchvision does
 * (`torchvisionScale`), which can make a side one pixel shorter (375x500 at 800/1333:
 * 1066x799, not 1066x800).
 */
export function resizedSize(width: number, height: number, rule: ResizeRule): { width: number; height: number; scale: number } {
  const scale =
    rule.resize === 'torchvision'
      ? torchvisionScale(width, height, rule.minSize, rule.maxSize)
      : Math.min(rule.minSize / Math.min(width, height), rule.maxSize / Math.max(width, height));
  return { width: Math.max(1, Math.floor(width * scale)), height: Math.max(1, Math.floor(height * scale)), scale };
}

/** Colour changes applied to the decoded pixels (see augment.ts). */
export interface ColourPlan {
  /** 3x3 matrix applied to RGB (brightness, saturation, hue). */
  matrix: number[][];
  /** Contrast factor: blends with the mean grey of the image after the matrix. */
  contrast: number;
}

/** What renderImage does after crop, resize, flip and colour plan, in its order (see augment.ts). */
export interface RenderEffects {
  /** Degrees clockwise about the centre, the size kept; corners from outside take the image's mean colour. */
  rotate?: number;
  /** ITU-R 601 grey (LUMA) on every channel. */
  grayscale?: boolean;
  /** A channel permutation: output channel k is channel `channels[k]`. */
  channels?: readonly [number, number, number];
  /** 255 - v. */
  invert?: boolean;
  /** Gaussian blur sigma in pixels (sharp's `blur`: 0.3 to 1000). */
  blur?: number;
  /** Gaussian noise: sigma in byte units, and the seed of its stream. */
  noise?: { sigma: number; seed: number };
  /** JPEG re-compression quality, an integer 1..100. */
  jpeg?: number;
  /** Stripes or checks laid over the rendered image (before noise and JPEG). */
  pattern?: PatternPlan;
}

/** What to make of a decoded image. */
export interface RenderPlan extends RenderEffects {
  /** Size of the image as displayed (EXIF orientation applied). */
  source: ImageInfo;
  /** Window of the oriented image to keep. */
  crop?: Window;
  /** Output size. */
  width: number;
  height: number;
  flip: boolean;
  colour?: ColourPlan;
}

export interface ImageInfo {
  /** As displayed: EXIF orientation applied. */
  width: number;
  height: number;
  /** Bands and colour space as stored (3 and 'srgb' for an ordinary JPEG), when known. */
  channels?: number;
  space?: string;
}

const SHARP_OPTIONS: SharpOptions = { failOn: 'error' };

export function describeInput(input: string | Buffer): string {
  return typeof input === 'string' ? `'${input}'` : `a buffer of ${input.length} bytes`;
}

/** Reads a file (errors name it). */
export async function readImageFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new Error(`cannot read ${describeInput(path)}: ${(e as Error).message}`);
  }
}

/** An error's message as one line: libvips follows sharp's first line with its whole log. */
export function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0].trim();
}

/** Size of an encoded image as displayed (EXIF orientation applied), from its header (errors are one line). */
export async function imageInfo(data: Buffer | string): Promise<ImageInfo> {
  let meta: Metadata;
  try {
    meta = await sharp(data, SHARP_OPTIONS).metadata();
  } catch (e) {
    throw new Error(firstLine(e));
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!(width > 0 && height > 0)) throw new Error(`image has no size (${meta.format ?? 'unknown format'})`);
  return { width, height, channels: meta.channels, space: meta.space };
}

/**
 * Why the pixels of an image did not decode, in one line (a header can read fine while the data
 * is cut short): the file's own truncation when its bytes show it, else sharp's first line.
 */
export function pixelError(error: unknown, data?: Uint8Array): string {
  const cut = data == null ? null : truncation(data);
  return cut != null ? `pixels do not decode: ${cut}` : `pixels do not decode (truncated or corrupt file): ${firstLine(error)}`;
}

/** decodeAllPixels' error: its message is pixelError's. */
export class PixelError extends Error {
  override name = 'PixelError';
}

/**
 * Decodes every pixel of an image without keeping them (sharp's stats, a streaming sink):
 * what finds a truncated JPEG or PNG, whose header reads fine. Throws a PixelError.
 */
export async function decodeAllPixels(input: string | Buffer): Promise<void> {
  const data = typeof input === 'string' ? await readImageFile(input) : input;
  try {
    await sharp(data, SHARP_OPTIONS).stats();
  } catch (e) {
    throw new PixelError(pixelError(e, data));
  }
}

/** Mean of every 16th pixel's RGB. */
function meanRgb(data: Uint8Array): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  for (let i = 0; i + 2 < data.length; i += 48) {
    sum[0] += data[i];
    sum[1] += data[i + 1];
    sum[2] += data[i + 2];
    n++;
  }
  return n === 0 ? [0, 0, 0] : [sum[0] / n, sum[1] / n, sum[2] / n];
}

const asBytes = (buffer: Buffer) => new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);

/**
 * A rotation about the centre that keeps the size: libvips' rotate (expanding the canvas,
 * corners filled with `fill`), then the image-sized window of rotationWindow, padded with
 * `fill` where the canvas is smaller. `image` must have a resize before it (a same-size one
 * is a no-op) so that sharp's extract comes after its rotate.
 */
function rotateKeepingSize(image: Sharp, width: number, height: number, degrees: number, fill: readonly number[]): Sharp {
  const { canvas, left, top } = rotationWindow(width, height, degrees);
  const background = { r: Math.round(fill[0]), g: Math.round(fill[1]), b: Math.round(fill[2]) };
  // A whole multiple of 90 would take libvips' exact quarter turn, whose geometry differs by a pixel.
  const angle = Number.isInteger(degrees) && degrees % 90 === 0 ? degrees + 1e-9 : degrees;
  const x0 = Math.max(0, left);
  const y0 = Math.max(0, top);
  const x1 = Math.min(canvas.width, left + width);
  const y1 = Math.min(canvas.height, top + height);
  let out = image.rotate(angle, { background }).extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 });
  if (x1 - x0 < width || y1 - y0 < height) out = out.extend({ left: x0 - left, right: left + width - x1, top: y0 - top, bottom: top + height - y1, background });
  return out;
}

/**
 * Decodes an encoded image (JPEG, PNG, WebP, GIF, TIFF, AVIF…) into RGB bytes following a
 * plan: EXIF orientation, crop, resize (bilinear), flip, rotation, colour (matrix, contrast,
 * grey, channel shuffle, invert), blur, then a pattern and noise (JS, on the bytes) and JPEG re-compression.
 * Alpha is dropped, grey and CMYK images become RGB, 16-bit images 8-bit. sharp runs its
 * operations in an order of its own: blur before recomb and linear, which commute with it
 * (linear maps; only clamping could tell them apart). Without colour changes or a rotation
 * one sharp pipeline does everything. With them the contrast and the rotation's fill need
 * the image's mean, so a first pipeline decodes (and applies the colour matrix to 3-band
 * sRGB images — at the source resolution when upscaling, the cheaper side) and a second
 * resizes, flips, rotates, blurs and applies the rest (the matrix too, for other images).
 */
export async function renderImage(data: Buffer, plan: RenderPlan): Promise<Uint8Array> {
  let pixels = await renderWithSharp(data, plan);
  if (plan.pattern != null) overlayPattern(pixels, plan.width, plan.height, plan.pattern);
  if (plan.noise != null) addNoise(pixels, plan.noise.sigma, plan.noise.seed);
  if (plan.jpeg != null) pixels = await recompress(pixels, plan.width, plan.height, plan.jpeg);
  return pixels;
}

/** renderImage's sharp pipelines: everything but pattern, noise and JPEG. */
async function renderWithSharp(data: Buffer, plan: RenderPlan): Promise<Uint8Array> {
  let first = sharp(data, SHARP_OPTIONS).autoOrient();
  if (plan.crop != null) first = first.extract(plan.crop);
  const source = plan.crop ?? plan.source;
  const upscale = plan.width * plan.height > source.width * source.height;
  const resize = (s: Sharp) => s.resize(plan.width, plan.height, { fit: 'fill', kernel: 'linear' });
  const blur = (s: Sharp) => (plan.blur != null ? s.blur(plan.blur) : s);
  // recomb needs 3 bands; grey, alpha and CMYK images get the matrices in the second pipeline.
  const early = plan.source.channels === 3 && plan.source.space === 'srgb';
  const mix = mixMatrix(plan.grayscale === true, plan.channels);
  const rotate = plan.rotate != null && plan.rotate !== 0;
  if (plan.colour == null && !rotate && (early || (mix == null && plan.invert !== true))) {
    first = blur(resize(first));
    if (plan.flip) first = first.flop();
    if (mix != null) first = first.recomb(mix as Matrix3x3);
    if (plan.invert === true) first = first.linear(-1, 255);
    return asBytes(await first.removeAlpha().toColourspace('srgb').raw().toBuffer());
  }
  if (!upscale) first = resize(first);
  const colour = plan.colour;
  if (early && colour != null) first = first.recomb(colour.matrix as Matrix3x3);
  const { data: rgb, info } = await first.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const mean = meanRgb(rgb);
  let second = sharp(rgb, { raw: { width: info.width, height: info.height, channels: 3 } });
  if (upscale || rotate) second = resize(second);
  if (plan.flip) second = second.flop();
  // The fill is the mean of the pixels entering this pipeline: the changes after it change both alike.
  if (rotate) second = rotateKeepingSize(second, plan.width, plan.height, plan.rotate as number, mean);
  second = blur(second);
  const matrix = colour == null || early ? mix : mix == null ? colour.matrix : multiply(mix, colour.matrix);
  if (matrix != null) second = second.recomb(matrix as Matrix3x3);
  // Contrast (c x + (1 - c) grey), then invert (255 - that): one linear. The mix keeps greys, so the order with it is free.
  let scale = 1;
  let offset = 0;
  if (colour != null) {
    // The contrast pivot: the grey mean after the matrix (linear: the matrix of the mean).
    const m = colour.matrix;
    const grey = early ? LUMA[0] * mean[0] + LUMA[1] * mean[1] + LUMA[2] * mean[2] : LUMA.reduce((acc, w, row) => acc + w * m[row].reduce((s, v, col) => s + v * mean[col], 0), 0);
    scale = colour.contrast;
    offset = (1 - colour.contrast) * grey;
  }
  if (plan.invert === true) {
    scale = -scale;
    offset = 255 - offset;
  }
  if (colour != null || plan.invert === true) second = second.linear(scale, offset);
  return asBytes(await second.raw().toBuffer());
}

/**
 * renderImage to `size` by the resize `mode` names: sharp's, inside the render (bytes), or
 * torchvision's (`interpolateBilinear`, float32 in [0, 1]) after rendering the crop (or the
 * whole image) at its own size — sharp's same-size resize is a copy.
 */
export async function renderResized(
  data: Buffer,
  plan: Omit<RenderPlan, 'width' | 'height'>,
  size: { width: number; height: number },
  mode: ResizeMode = 'sharp',
): Promise<Uint8Array | Float32Array> {
  if (mode === 'sharp') return renderImage(data, { ...plan, width: size.width, height: size.height });
  const area = plan.crop ?? plan.source;
  const rendered = await renderImage(data, { ...plan, width: area.width, height: area.height });
  return interpolateBilinear(rendered, area.width, area.height, size.width, size.height);
}

/**
 * Decodes an image file or buffer, EXIF orientation applied, and resizes it by the rule of
 * docs/architecture.md §4 (bilinear, by sharp or as torchvision: `rule.resize`). Errors name
 * the file.
 */
export function decodeImage(input: string | Buffer, rule: ResizeRule & { resize?: 'sharp' }): Promise<DecodedImage<Uint8Array>>;
export function decodeImage(input: string | Buffer, rule: ResizeRule & { resize: 'torchvision' }): Promise<DecodedImage<Float32Array>>;
export function decodeImage(input: string | Buffer, rule: ResizeRule): Promise<DecodedImage>;
export async function decodeImage(input: string | Buffer, rule: ResizeRule): Promise<DecodedImage> {
  if (typeof input !== 'string' && !Buffer.isBuffer(input)) fail('decodeImage', `'input' must be a file path or a Buffer, but got ${typeof input}.`);
  assertSizes('decodeImage', 'options', rule);
  let data: Buffer;
  try {
    data = typeof input === 'string' ? await readImageFile(input) : input;
  } catch (e) {
    fail('decodeImage', (e as Error).message);
  }
  try {
    const original = await imageInfo(data);
    const size = resizedSize(original.width, original.height, rule);
    const pixels = await renderResized(data, { source: original, flip: false }, size, rule.resize);
    return { pixels, width: size.width, height: size.height, scale: size.scale, originalWidth: original.width, originalHeight: original.height };
  } catch (e) {
    fail('decodeImage', `cannot decode ${describeInput(input)}: ${truncation(data) ?? (e as Error).message}`);
  }
}
