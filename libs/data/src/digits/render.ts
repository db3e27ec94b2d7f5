import { seededRandom, type Rng } from '@lumen/core';
import { randomInt, uniform } from '../random';
import { bandsCanvas, blobsCanvas, fractalCanvas, plainCanvas, strokeClutter, type Rgb } from './canvas';
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
  /** Relative frequency of each canvas style (absent: the textured gradient only). */
  canvases?: Partial<Record<CanvasStyle, number>>;
  /** Share of digits inked faintly (luminance 22..60 from the canvas under them). */
  faintInk?: number;
  /** Share of digits inked in another hue at the canvas's luminance (within 8). */
  hueInk?: number;
  /** Stroke weight: glyph intensities raised to a power log-uniform in [1/w, w] (1: as drawn). */
  strokeWeight?: number;
  /** Stroke-like clutter (curves, arcs, zig-zags, loops) per image: up to this many, on 60% of images. */
  strokeClutter?: number;
}

/**
 * The canvas under the digits: a gradient with low-frequency texture, periodic bands
 * (stripes, grids, checks), fractal noise, a pile of filled shapes, or one flat colour.
 */
export type CanvasStyle = 'texture' | 'bands' | 'fractal' | 'blobs' | 'plain';

export const RENDER_DEFAULTS: RenderOptions = {
  minSide: 256,
  maxSide: 400,
  minDigitHeight: 14,
  maxDigitHeight: 120,
  maxDigits: 48,
  emptyProb: 0.05,
  canvases: { texture: 0.35, bands: 0.2, fractal: 0.2, blobs: 0.15, plain: 0.1 },
  faintInk: 0.25,
  hueInk: 0.1,
  strokeWeight: 2.2,
  strokeClutter: 6,
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

// A table of standard normal noise shared by all images (fixed seed), read at random offsets.
const NOISE_SIZE = 1 << 16;
const noiseTable = (() => {
  const random = seededRandom(0x6e6f697365);
  const table = new Float32Array(NOISE_SIZE);
  for (let i = 0; i < NOISE_SIZE; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const a = 2 * Math.PI * random();
    table[i] = r * Math.cos(a);
    table[i + 1] = r * Math.sin(a);
  }
  return table;
})();

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
const luminance = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;
const randomColour = (random: Rng): Rgb => [random() * 255, random() * 255, random() * 255];

/** Sensor-like noise: `sigma` times the shared table read from `offset` by `stride`. */
interface Noise {
  sigma: number;
  offset: number;
  stride: number;
}

/**
 * Gradient between two colours plus low-frequency texture and noise, as bytes (a clamped
 * array rounds and clamps on store).
 */
function background(random: Rng, width: number, height: number, noise: Noise): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 3);
  const { sigma, stride } = noise;
  const mask = NOISE_SIZE - 1;
  let j = noise.offset;
  const c0 = randomColour(random);
  const c1 = random() < 0.5 ? c0.map((v) => clamp255(v + uniform(random, -60, 60))) : randomColour(random);
  const angle = random() * 2 * Math.PI;
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const corners = [0, width * dx, height * dy, width * dx + height * dy];
  const lo = Math.min(...corners);
  const span = Math.max(...corners) - lo || 1;
  // Texture: a coarse grid of random values, bilinearly upsampled; its own amplitude per channel.
  const cells = randomInt(random, 3, 12);
  const gw = cells + 1;
  const gh = Math.ceil((cells * height) / width) + 1;
  const amplitude = random() < 0.3 ? 0 : uniform(random, 5, 45);
  const grid = new Float32Array(gw * gh * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = (random() * 2 - 1) * amplitude;
  // Separable bilinear upsampling: the grid is interpolated to each row, then along it.
  const cellW = width / (gw - 1);
  const cellH = height / (gh - 1);
  const colX0 = new Int32Array(width);
  const colFx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const gx = x / cellW;
    colX0[x] = Math.min(Math.floor(gx), gw - 2) * 3;
    colFx[x] = gx - colX0[x] / 3;
  }
  const row = new Float32Array(gw * 3);
  const tx = dx / span;
  for (let y = 0; y < height; y++) {
    const gy = y / cellH;
    const y0 = Math.min(Math.floor(gy), gh - 2);
    const fy = gy - y0;
    for (let i = 0; i < gw * 3; i++) row[i] = grid[y0 * gw * 3 + i] * (1 - fy) + grid[(y0 + 1) * gw * 3 + i] * fy;
    const t0 = (y * dy - lo) / span;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      const t = t0 + x * tx;
      const i = colX0[x];
      const fx = colFx[x];
      out[o] = c0[0] + (c1[0] - c0[0]) * t + row[i] + (row[i + 3] - row[i]) * fx + sigma * noiseTable[j];
      j = (j + stride) & mask;
      out[o + 1] = c0[1] + (c1[1] - c0[1]) * t + row[i + 1] + (row[i + 4] - row[i + 1]) * fx + sigma * noiseTable[j];
      j = (j + stride) & mask;
      out[o + 2] = c0[2] + (c1[2] - c0[2]) * t + row[i + 2] + (row[i + 5] - row[i + 2]) * fx + sigma * noiseTable[j];
      j = (j + stride) & mask;
    }
  }
  return out;
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
 * Renders one image of the digits dataset from `random`: a canvas of one style (see
 * CanvasStyle) with sensor-like noise and clutter (shapes, bars, rings, stroke-like curves),
 * then 1..maxDigits mnist digits (none with probability emptyProb) drawn from `ranges`
 * (per class), each scaled to a log-uniform tight height, its strokes thinned or thickened,
 * inked against the canvas under it (strongly, faintly or by hue alone) and alpha-blended
 * by its intensity, carrying the same noise. A
 * digit's box is the tight box of its pixels at >= INK_THRESHOLD intensity that no later
 * digit covers (the visible strokes). Placements overlapping an earlier digit's box by
 * more than MAX_OVERLAP of the smaller box are retried, then given up.
 */
export function renderDigitsImage(random: Rng, bank: GlyphBank, ranges: GlyphRange[], options: RenderOptions = RENDER_DEFAULTS): RenderedImage {
  const width = randomInt(random, options.minSide, options.maxSide);
  const height = randomInt(random, options.minSide, options.maxSide);
  const noise = { sigma: random() < 0.2 ? 0 : uniform(random, 2, 14), offset: Math.floor(random() * NOISE_SIZE), stride: 2 * randomInt(random, 1, 1000) + 1 };
  const canvas = drawCanvas(random, width, height, noise, options.canvases);
  distractors(random, canvas, width, height);
  const clutter = options.strokeClutter ?? 0;
  if (clutter > 0 && random() < 0.6) strokeClutter(random, canvas, width, height, randomInt(random, 1, clutter));
  const owner = new Int16Array(width * height).fill(-1);
  const count = random() < options.emptyProb ? 0 : randomInt(random, 1, options.maxDigits);
  const placed: Placed[] = [];
  const logMin = Math.log(options.minDigitHeight);
  const logMax = Math.log(options.maxDigitHeight);
  const logWeight = Math.log(options.strokeWeight ?? 1);
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
    const power = logWeight > 0 ? Math.exp(uniform(random, -logWeight, logWeight)) : 1;
    const inkDraws = [random(), random(), random()];
    if (cell == null) continue;
    const f = Math.min(target, height - 2) / (cell[3] - cell[1] + 1);
    const gh = Math.max(1, Math.round(GLYPH_SIZE * f));
    const gw = Math.max(1, Math.round(GLYPH_SIZE * f * aspect));
    const scaled = scaleGlyph(glyph, gw, gh);
    if (power !== 1) for (let i = 0; i < scaled.length; i++) scaled[i] = scaled[i] > 0 ? scaled[i] ** power : 0;
    const ink = inkBounds(scaled, gw, gh);
    if (ink == null) continue;
    const spot = place(tries, placed, width, height, ink[2] - ink[0] + 1, ink[3] - ink[1] + 1);
    if (spot == null) continue;
    const colour = chooseInk(inkDraws, meanColour(canvas, width, spot), inkColour, options);
    composite(canvas, owner, width, height, scaled, gw, gh, spot[0] - ink[0], spot[1] - ink[1], colour, opacity, placed.length, noise);
    placed.push({ digit, glyph: index, area: spot });
  }
  const pixels = new Uint8Array(canvas.buffer);
  const digits = visibleBoxes(owner, width, placed);
  return { width, height, pixels, digits, owner };
}

const STYLES: readonly CanvasStyle[] = ['texture', 'bands', 'fractal', 'blobs', 'plain'];

/** The canvas of one style drawn by its relative frequency in `weights` (none: the textured gradient), with sensor noise. */
function drawCanvas(random: Rng, width: number, height: number, noise: Noise, weights: RenderOptions['canvases']): Uint8ClampedArray {
  let style: CanvasStyle = 'texture';
  if (weights != null) {
    const total = STYLES.reduce((sum, s) => sum + (weights[s] ?? 0), 0);
    let r = random() * total;
    style = STYLES.find((s) => (r -= weights[s] ?? 0) < 0) ?? 'texture';
  }
  if (style === 'texture') return background(random, width, height, noise);
  const canvas = new Uint8ClampedArray(width * height * 3);
  if (style === 'bands') bandsCanvas(random, canvas, width, height);
  else if (style === 'fractal') fractalCanvas(random, canvas, width, height);
  else if (style === 'blobs') blobsCanvas(random, canvas, width, height);
  else plainCanvas(random, canvas);
  const mask = NOISE_SIZE - 1;
  for (let i = 0, j = noise.offset; i < canvas.length; i++, j = (j + noise.stride) & mask) canvas[i] += noise.sigma * noiseTable[j];
  return canvas;
}

/** `c` moved to luminance `target` keeping its hue: scaled toward black, or mixed toward white. */
export function withLuminance(c: Rgb, target: number): Rgb {
  const l = luminance(c[0], c[1], c[2]);
  if (l >= target) {
    const k = l > 0 ? target / l : 0;
    return [c[0] * k, c[1] * k, c[2] * k];
  }
  const t = (target - l) / (255 - l);
  return [c[0] + (255 - c[0]) * t, c[1] + (255 - c[1]) * t, c[2] + (255 - c[2]) * t];
}

/** Hue in turns [0, 1) of an RGB colour (0 for greys). */
function hueOf(c: Rgb): number {
  const max = Math.max(...c);
  const min = Math.min(...c);
  if (max - min < 1e-6) return 0;
  const d = max - min;
  const h = max === c[0] ? (c[1] - c[2]) / d : max === c[1] ? 2 + (c[2] - c[0]) / d : 4 + (c[0] - c[1]) / d;
  return (((h / 6) % 1) + 1) % 1;
}

/** A fully saturated colour of hue `h` (turns) at `saturation`, value 255. */
function ofHue(h: number, saturation: number): Rgb {
  const channel = (offset: number) => {
    const k = (offset + h * 6) % 6;
    return 255 * (1 - saturation * Math.max(0, Math.min(k, 4 - k, 1)));
  };
  return [channel(5), channel(3), channel(1)];
}

/**
 * The ink of a digit over canvas colour `under`, from three uniform draws: in another hue at
 * the same luminance (options.hueInk of digits), faint (options.faintInk: 22..60 darker or
 * lighter), else `colour` moved 110+ away in luminance, as the room above or below allows.
 */
function chooseInk(draws: number[], under: Rgb, colour: Rgb, options: RenderOptions): Rgb {
  const base = luminance(under[0], under[1], under[2]);
  const hue = options.hueInk ?? 0;
  const faint = options.faintInk ?? 0;
  if (draws[0] < hue) {
    const target = Math.min(235, Math.max(20, base + (draws[1] * 2 - 1) * 8));
    return withLuminance(ofHue(hueOf(under) + 0.3 + 0.4 * draws[2], 0.6 + 0.4 * draws[1]), target);
  }
  if (draws[0] < hue + faint) {
    const delta = 22 + 38 * draws[1];
    const darker = base - delta >= 0 && (base + delta > 255 || draws[2] < 0.5);
    return withLuminance(colour, darker ? base - delta : base + delta);
  }
  const want = base >= 128 ? draws[1] * Math.max(0, base - 110) : Math.min(255, base + 110) + draws[1] * Math.max(0, 255 - base - 110);
  return withLuminance(colour, want);
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
function meanColour(canvas: Uint8ClampedArray, width: number, box: number[]): Rgb {
  const sum: Rgb = [0, 0, 0];
  let n = 0;
  for (let y = box[1]; y < box[3]; y += 3) {
    for (let x = box[0]; x < box[2]; x += 3) {
      const o = (y * width + x) * 3;
      sum[0] += canvas[o];
      sum[1] += canvas[o + 1];
      sum[2] += canvas[o + 2];
      n++;
    }
  }
  n = Math.max(n, 1);
  return [sum[0] / n, sum[1] / n, sum[2] / n];
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
