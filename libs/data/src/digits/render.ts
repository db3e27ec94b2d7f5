import type { Rng } from '@lumen/core';
import { randomInt, uniform } from '../random';
import { clamp255, drawCanvas, luminance, NOISE_SIZE, noiseTable, randomColour, type CanvasKind, type Noise } from './canvas';
import { GLYPH_SIZE, type GlyphBank, type GlyphRange } from './mnist';

/** A glyph pixel belongs to the digit's box when its intensity (after scaling) is at least this. */
export const INK_THRESHOLD = 0.3;

export interface RenderOptions {
  /** Canvas side range, px (inclusive). */
  minSide: number;
  maxSide: number;
  /** Tight digit height range, px (log-uniform). */
  minDigitHeight: number;
  maxDigitHeight: number;
  /** Digits per image when not empty (uniform, inclusive). */
  maxDigits: number;
  /** Probability of an image with no digit. */
  emptyProb: number;
  /** The canvas kinds drawn from (uniformly); absent: gradients only. */
  canvases?: readonly CanvasKind[];
  /** Probability of a digit whose ink luminance differs from the canvas under it by only 20..110 (else >= 110). */
  lowContrastProb?: number;
  /** Probability of a digit whose ink has the luminance of the canvas under it (+-12) and another hue. */
  hueContrastProb?: number;
}

/** The val and test splits' images: textured gradients, ink contrasting in luminance. */
export const RENDER_DEFAULTS: RenderOptions = { minSide: 256, maxSide: 400, minDigitHeight: 16, maxDigitHeight: 120, maxDigits: 8, emptyProb: 0.05 };

/**
 * The train split's images: every canvas kind and inks down to hue-only contrast, so a model
 * sees more than the textured gradients it is tested on.
 */
export const TRAIN_RENDER: RenderOptions = {
  ...RENDER_DEFAULTS,
  canvases: ['gradient', 'gradient', 'flat', 'stripes', 'checks', 'blotches', 'shapes'],
  lowContrastProb: 0.3,
  hueContrastProb: 0.15,
};

export interface RenderedDigit {
  /** 0..9 */
  digit: number;
  /** Sample index within its class in the mnist package. */
  glyph: number;
  /** Tight box of the visible glyph pixels (>= INK_THRESHOLD): [x1, y1, x2, y2], width = x2 - x1. */
  box: [number, number, number, number];
}

export interface RenderedImage {
  width: number;
  height: number;
  /** RGB HWC. */
  pixels: Uint8Array;
  digits: RenderedDigit[];
  /** Per pixel: index into `digits` of the digit whose ink (>= INK_THRESHOLD) shows there, or -1. */
  owner: Int16Array;
}

/** Blends `colour` over the canvas pixels of rows y0..y1-1 where `inside(x, y)` (clipped to the canvas). */
function fill(
  canvas: Uint8ClampedArray,
  width: number,
  height: number,
  colour: number[],
  alpha: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  inside: ((x: number, y: number) => boolean) | null,
): void {
  const xa = Math.max(0, Math.floor(x0));
  const xb = Math.min(width, Math.ceil(x1));
  const ya = Math.max(0, Math.floor(y0));
  const yb = Math.min(height, Math.ceil(y1));
  const [r, g, b] = colour;
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      if (inside != null && !inside(x, y)) continue;
      const o = (y * width + x) * 3;
      canvas[o] += (r - canvas[o]) * alpha;
      canvas[o + 1] += (g - canvas[o + 1]) * alpha;
      canvas[o + 2] += (b - canvas[o + 2]) * alpha;
    }
  }
}

/** Clutter that is not a digit: rectangles, rings and bars in random colours. */
function distractors(random: Rng, canvas: Uint8ClampedArray, width: number, height: number): void {
  const count = randomInt(random, 0, 5);
  for (let k = 0; k < count; k++) {
    const colour = randomColour(random);
    const alpha = uniform(random, 0.25, 0.9);
    const kind = randomInt(random, 0, 2);
    if (kind === 0) {
      const w = uniform(random, 8, width / 3);
      const h = uniform(random, 8, height / 3);
      const x = uniform(random, -w / 2, width - w / 2);
      const y = uniform(random, -h / 2, height - h / 2);
      fill(canvas, width, height, colour, alpha, x, y, x + w, y + h, null);
    } else if (kind === 1) {
      const r = uniform(random, 6, Math.min(width, height) / 5);
      const half = uniform(random, 0.75, 2.5);
      const cx = random() * width;
      const cy = random() * height;
      const lo = (r - half) * (r - half);
      const hi = (r + half) * (r + half);
      const ring = (x: number, y: number) => {
        const d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        return d >= lo && d <= hi;
      };
      fill(canvas, width, height, colour, alpha, cx - r - half, cy - r - half, cx + r + half + 1, cy + r + half + 1, ring);
    } else {
      // A thick segment: points within `half` of it.
      const x0 = random() * width;
      const y0 = random() * height;
      const angle = random() * Math.PI;
      const length = uniform(random, 20, Math.max(width, height) / 2);
      const half = uniform(random, 0.5, 2.5);
      const ux = Math.cos(angle);
      const uy = Math.sin(angle);
      const segment = (x: number, y: number) => {
        const along = (x - x0) * ux + (y - y0) * uy;
        const across = -(x - x0) * uy + (y - y0) * ux;
        return along >= 0 && along <= length && Math.abs(across) <= half;
      };
      const x1 = x0 + length * ux;
      const y1 = y0 + length * uy;
      fill(canvas, width, height, colour, alpha, Math.min(x0, x1) - half, Math.min(y0, y1) - half, Math.max(x0, x1) + half + 1, Math.max(y0, y1) + half + 1, segment);
    }
  }
}

/** Source index and weight of each output coordinate (bilinear, half-pixel centres) along a 28-px side. */
function taps(size: number): { index: Int32Array; weight: Float32Array } {
  const n = GLYPH_SIZE;
  const index = new Int32Array(size);
  const weight = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const g = Math.min(Math.max(((i + 0.5) * n) / size - 0.5, 0), n - 1);
    const i0 = Math.min(Math.floor(g), n - 2);
    index[i] = i0;
    weight[i] = g - i0;
  }
  return { index, weight };
}

/** A 28x28 glyph resampled to width x height (bilinear, half-pixel centres). */
export function scaleGlyph(glyph: Float32Array, width: number, height: number): Float32Array {
  const n = GLYPH_SIZE;
  const out = new Float32Array(width * height);
  const xs = taps(width);
  const ys = taps(height);
  for (let y = 0; y < height; y++) {
    const row = ys.index[y] * n;
    const fy = ys.weight[y];
    for (let x = 0; x < width; x++) {
      const i = row + xs.index[x];
      const fx = xs.weight[x];
      const top = glyph[i] + (glyph[i + 1] - glyph[i]) * fx;
      const bottom = glyph[i + n] + (glyph[i + n + 1] - glyph[i + n]) * fx;
      out[y * width + x] = top + (bottom - top) * fy;
    }
  }
  return out;
}

/** Rows and columns holding ink (>= INK_THRESHOLD): [c0, r0, c1, r1] inclusive, or null. */
export function inkBounds(values: Float32Array, width: number, height: number): [number, number, number, number] | null {
  let c0 = width;
  let r0 = height;
  let c1 = -1;
  let r1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (values[y * width + x] >= INK_THRESHOLD) {
        if (x < c0) c0 = x;
        if (x > c1) c1 = x;
        if (y < r0) r0 = y;
        if (y > r1) r1 = y;
      }
    }
  }
  return c1 < 0 ? null : [c0, r0, c1, r1];
}

/** Intersection over the smaller box's area. */
function overlap(a: number[], b: number[]): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const area = (r: number[]) => (r[2] - r[0]) * (r[3] - r[1]);
  return (w * h) / Math.min(area(a), area(b));
}

/** Overlap (over the smaller box) allowed between two digits' boxes. */
export const MAX_OVERLAP = 0.2;
const PLACEMENT_ATTEMPTS = 25;

/**
 * Renders one image of the digits dataset from `random`: a textured gradient background
 * with clutter, then 1..maxDigits mnist digits (none with probability emptyProb) drawn
 * from `ranges` (per class), each scaled to a log-uniform tight height, tinted to contrast
 * with the background and alpha-blended by its intensity; sensor-like noise last. A
 * digit's box is the tight box of its pixels at >= INK_THRESHOLD intensity that no later
 * digit covers (the visible strokes). Placements overlapping an earlier digit's box by
 * more than MAX_OVERLAP of the smaller box are retried, then given up.
 */
export function renderDigitsImage(random: Rng, bank: GlyphBank, ranges: GlyphRange[], options: RenderOptions = RENDER_DEFAULTS): RenderedImage {
  const width = randomInt(random, options.minSide, options.maxSide);
  const height = randomInt(random, options.minSide, options.maxSide);
  const noise = { sigma: random() < 0.2 ? 0 : uniform(random, 2, 14), offset: Math.floor(random() * NOISE_SIZE), stride: 2 * randomInt(random, 1, 1000) + 1 };
  const kinds = options.canvases ?? ['gradient'];
  const kind = kinds.length === 1 ? kinds[0] : kinds[randomInt(random, 0, kinds.length - 1)];
  const canvas = drawCanvas(kind, random, width, height, noise);
  distractors(random, canvas, width, height);
  const owner = new Int16Array(width * height).fill(-1);
  const count = random() < options.emptyProb ? 0 : randomInt(random, 1, options.maxDigits);
  const placed: Placed[] = [];
  const logMin = Math.log(options.minDigitHeight);
  const logMax = Math.log(options.maxDigitHeight);
  for (let k = 0; k < count; k++) {
    const digit = randomInt(random, 0, 9);
    const range = ranges[digit];
    const index = randomInt(random, range.start, range.end - 1);
    const glyph = bank.glyph(digit, index);
    const cell = inkBounds(glyph, GLYPH_SIZE, GLYPH_SIZE);
    const target = Math.exp(uniform(random, logMin, logMax));
    const aspect = uniform(random, 0.85, 1.2);
    const inkColour = randomColour(random);
    const opacity = uniform(random, 0.85, 1);
    const tries = Array.from({ length: PLACEMENT_ATTEMPTS }, () => [random(), random()]);
    if (cell == null) continue;
    const f = Math.min(target, height - 2) / (cell[3] - cell[1] + 1);
    const gh = Math.max(1, Math.round(GLYPH_SIZE * f));
    const gw = Math.max(1, Math.round(GLYPH_SIZE * f * aspect));
    const scaled = scaleGlyph(glyph, gw, gh);
    const ink = inkBounds(scaled, gw, gh);
    if (ink == null) continue;
    const spot = place(tries, placed, width, height, ink[2] - ink[0] + 1, ink[3] - ink[1] + 1);
    if (spot == null) continue;
    const colour = inkOver(random, inkColour, meanColour(canvas, width, spot), options);
    composite(canvas, owner, width, height, scaled, gw, gh, spot[0] - ink[0], spot[1] - ink[1], colour, opacity, placed.length, noise);
    placed.push({ digit, glyph: index, area: spot });
  }
  const pixels = new Uint8Array(canvas.buffer);
  const digits = visibleBoxes(owner, width, placed);
  return { width, height, pixels, digits, owner };
}

interface Placed {
  digit: number;
  glyph: number;
  /** The tight box where the digit's ink was placed. */
  area: number[];
}

/** The first of `tries` (uniform pairs) placing a bw x bh box inside the canvas without too much overlap, or null. */
function place(tries: number[][], placed: Placed[], width: number, height: number, bw: number, bh: number): number[] | null {
  if (bw > width || bh > height) return null;
  for (const [u, v] of tries) {
    const bx = Math.floor(u * (width - bw + 1));
    const by = Math.floor(v * (height - bh + 1));
    const area = [bx, by, bx + bw, by + bh];
    if (placed.every((p) => overlap(p.area, area) <= MAX_OVERLAP)) return area;
  }
  return null;
}

/** Mean colour of a box of the canvas (every third pixel each way). */
function meanColour(canvas: Uint8ClampedArray, width: number, box: number[]): number[] {
  const sum = [0, 0, 0];
  let n = 0;
  for (let y = box[1]; y < box[3]; y += 3) {
    for (let x = box[0]; x < box[2]; x += 3) {
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) sum[c] += canvas[o + c];
      n++;
    }
  }
  return sum.map((v) => v / Math.max(n, 1));
}

/** `colour` moved to luminance `want` (the same offset on each channel keeps its hue), clamped. */
const withLuminance = (colour: number[], want: number) => {
  const shift = want - luminance(colour[0], colour[1], colour[2]);
  return colour.map((c) => clamp255(c + shift));
};

/**
 * The ink colour of a digit drawn over canvas colour `under`: `picked`'s hue at a luminance
 * that contrasts with it by >= 110, or (options) by 20..110, or by hue alone.
 */
function inkOver(random: Rng, picked: number[], under: number[], options: RenderOptions): number[] {
  const bgLum = luminance(under[0], under[1], under[2]);
  const low = options.lowContrastProb ?? 0;
  const hue = options.hueContrastProb ?? 0;
  const mode = low + hue > 0 ? random() : 1;
  if (mode < low) {
    const delta = uniform(random, 20, 110);
    const up = bgLum + delta <= 255 && (bgLum - delta < 0 || random() < 0.5);
    return withLuminance(picked, up ? bgLum + delta : bgLum - delta);
  }
  if (mode < low + hue) {
    // The most different of a few colours at the canvas's luminance.
    let best = withLuminance(picked, bgLum + uniform(random, -12, 12));
    const distance = (c: number[]) => Math.hypot(c[0] - under[0], c[1] - under[1], c[2] - under[2]);
    for (let k = 0; k < 4 && distance(best) < 90; k++) {
      const other = withLuminance(randomColour(random), bgLum + uniform(random, -12, 12));
      if (distance(other) > distance(best)) best = other;
    }
    return best;
  }
  const want = bgLum >= 128 ? uniform(random, 0, Math.max(0, bgLum - 110)) : uniform(random, Math.min(255, bgLum + 110), 255);
  return withLuminance(picked, want);
}

/**
 * Blends a scaled glyph at (ox, oy) by its intensity, in ink carrying the image's noise;
 * marks its ink pixels (>= INK_THRESHOLD) as `id`'s.
 */
function composite(
  canvas: Uint8ClampedArray,
  owner: Int16Array,
  width: number,
  height: number,
  glyph: Float32Array,
  gw: number,
  gh: number,
  ox: number,
  oy: number,
  colour: number[],
  opacity: number,
  id: number,
  noise: Noise,
): void {
  const [r, g, b] = colour;
  const { sigma, stride } = noise;
  const mask = NOISE_SIZE - 1;
  for (let y = Math.max(0, -oy); y < gh && y + oy < height; y++) {
    for (let x = Math.max(0, -ox); x < gw && x + ox < width; x++) {
      const value = glyph[y * gw + x];
      if (value <= 0) continue;
      const p = (y + oy) * width + (x + ox);
      const a = value * opacity;
      const o = p * 3;
      const j = (noise.offset + o * stride) & mask;
      canvas[o] += (r + sigma * noiseTable[j] - canvas[o]) * a;
      canvas[o + 1] += (g + sigma * noiseTable[(j + stride) & mask] - canvas[o + 1]) * a;
      canvas[o + 2] += (b + sigma * noiseTable[(j + 2 * stride) & mask] - canvas[o + 2]) * a;
      if (value >= INK_THRESHOLD) owner[p] = id;
    }
  }
}

/**
 * The tight box of each placed digit's visible ink (owner map) — a digit covered entirely
 * by later ones gets none — with `owner` renumbered to the returned digits.
 */
function visibleBoxes(owner: Int16Array, width: number, placed: Placed[]): RenderedDigit[] {
  const digits: RenderedDigit[] = [];
  const renumber = new Int16Array(placed.length).fill(-1);
  placed.forEach((p, id) => {
    let c0 = Infinity;
    let r0 = Infinity;
    let c1 = -1;
    let r1 = -1;
    // A digit's ink lies within its placement area.
    for (let y = p.area[1]; y < p.area[3]; y++) {
      for (let x = p.area[0]; x < p.area[2]; x++) {
        if (owner[y * width + x] === id) {
          if (x < c0) c0 = x;
          if (x > c1) c1 = x;
          if (y < r0) r0 = y;
          if (y > r1) r1 = y;
        }
      }
    }
    if (c1 < 0) return;
    renumber[id] = digits.length;
    digits.push({ digit: p.digit, glyph: p.glyph, box: [c0, r0, c1 + 1, r1 + 1] });
  });
  for (let i = 0; i < owner.length; i++) if (owner[i] >= 0) owner[i] = renumber[owner[i]];
  return digits;
}
