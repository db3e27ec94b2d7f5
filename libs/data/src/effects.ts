import sharp from 'sharp';

// The pixel augmentations renderImage does past sharp's pipeline (noise, JPEG) and the matrix
// of the channel ones (grey, channel shuffle) that sharp's recomb applies.

/** ITU-R 601 luma, torchvision's `rgb_to_grayscale`. */
export const LUMA = [0.299, 0.587, 0.114] as const;

/** The five permutations of RGB other than the identity (channelShuffle picks one). */
export const CHANNEL_PERMUTATIONS: readonly (readonly [number, number, number])[] = [
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

/** The product of two 3x3 matrices. */
export const multiply = (a: readonly number[][], b: readonly number[][]): number[][] =>
  a.map((row) => [0, 1, 2].map((c) => row[0] * b[0][c] + row[1] * b[1][c] + row[2] * b[2][c]));

/**
 * The 3x3 RGB matrix of grey (ITU-R 601 luma on every channel) then a channel permutation
 * (output channel k is channel `channels[k]`), or null when neither applies. Its rows sum to 1:
 * it keeps greys, so it commutes with a contrast around a grey.
 */
export function mixMatrix(grayscale: boolean, channels?: readonly number[]): number[][] | null {
  if (!grayscale && channels == null) return null;
  const grey = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (grayscale ? LUMA[c] : r === c ? 1 : 0)));
  return channels == null ? grey : channels.map((k) => grey[k]);
}

/**
 * Standard normal quantiles at (i + ½) / 65536: a 16-bit uniform index gives a normal value
 * (the distribution in 65536 equal-probability steps, tails to ±4.3), a table lookup where
 * Box–Muller would take a log, a root and a cosine per pair of values.
 */
let normalTable: Float32Array | null = null;

/** Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

function normals(): Float32Array {
  if (normalTable == null) {
    normalTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) normalTable[i] = normalQuantile((i + 0.5) / 65536);
  }
  return normalTable;
}

/** One 32-bit output of mulberry32 (as @lumen/core's seededRandom, inline: a call per value would cost more than the rest). */
function mulberry32(state: number): number {
  let t = Math.imul(state ^ (state >>> 15), state | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return t ^ (t >>> 14);
}

/**
 * Adds N(0, sigma²) noise to every byte in place, rounded and clamped to [0, 255]: each value
 * takes 16 bits of a mulberry32 stream seeded by `seed` (two values per draw), so the same
 * seed gives the same bytes. The bytes are integers, so round(v + sigma·z) is v plus a
 * rounded table entry, clamped by a Uint8ClampedArray view: about 5 ms for 800x600 RGB.
 */
export function addNoise(pixels: Uint8Array, sigma: number, seed: number): void {
  const table = normals();
  const offsets = new Int16Array(65536);
  for (let i = 0; i < 65536; i++) offsets[i] = Math.round(sigma * table[i]);
  const out = new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  let state = seed | 0;
  for (let i = 0; i < pixels.length; i += 2) {
    state = (state + 0x6d2b79f5) | 0;
    const bits = mulberry32(state);
    out[i] = pixels[i] + offsets[bits & 0xffff];
    if (i + 1 < pixels.length) out[i + 1] = pixels[i + 1] + offsets[bits >>> 16];
  }
}

/** RGB bytes through a JPEG encode at `quality` (sharp's defaults otherwise: 4:2:0 chroma) and decoded again. */
export async function recompress(pixels: Uint8Array, width: number, height: number, quality: number): Promise<Uint8Array> {
  const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
  const out = await sharp(jpeg).raw().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Stripes or checks over an image (overlayPattern). */
export interface PatternPlan {
  kind: 'stripes' | 'checks';
  /** Width of one stripe and one gap (of one check), in pixels. */
  period: number;
  /** Angle of the stripes' normal (the checks' first axis) from the x axis, radians. */
  angle: number;
  /** Offset of the pattern along its two axes, in periods. */
  phase: readonly [number, number];
  /** RGB 0..255. */
  colour: readonly [number, number, number];
  /** Opacity 0..1. */
  alpha: number;
}

/**
 * Blends `colour` at `alpha` over the pixels the pattern covers, in place, rounded: with
 * u, v the pixel centre's coordinates along the pattern's axes in periods (plus the phase),
 * stripes cover frac(u) < 1/2 and checks the cells where floor(u) + floor(v) is odd. A blend
 * of two values in 0..255 stays in range.
 */
export function overlayPattern(pixels: Uint8Array, width: number, height: number, pattern: PatternPlan): void {
  const { kind, period, phase, colour, alpha } = pattern;
  const cos = Math.cos(pattern.angle) / period;
  const sin = Math.sin(pattern.angle) / period;
  for (let y = 0; y < height; y++) {
    const cy = y + 0.5;
    for (let x = 0; x < width; x++) {
      const cx = x + 0.5;
      const u = cx * cos + cy * sin + phase[0];
      const covered = kind === 'stripes' ? u - Math.floor(u) < 0.5 : ((Math.floor(u) + Math.floor(cy * cos - cx * sin + phase[1])) & 1) === 1;
      if (!covered) continue;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) pixels[o + c] = Math.round(pixels[o + c] + alpha * (colour[c] - pixels[o + c]));
    }
  }
}
