import type { Rng } from '@lumen/core';
import { randomInt, uniform } from '../random';
import { GLYPH_SIZE, type GlyphBank, type GlyphRange } from './mnist';
import { INK_THRESHOLD, type RenderedDigit, type RenderedImage } from './render';

// The digits dataset's second generator (the `shift` split, for evaluation only), written
// apart from render.ts: other canvases (value noise, stripes and checks, shapes, flat colours,
// gradients with clutter), ink of any colour down to low contrast, outlines and shadows,
// rotated and sheared glyphs (bicubic), whole-image blur, sensor noise and a JPEG quality
// per image. What it shares with the first generator is the glyph bank and the box rule: a
// digit's box is the tight box of its visible glyph pixels at >= INK_THRESHOLD intensity.

export interface ShiftOptions {
  /** Canvas side range, px (inclusive; width and height drawn apart). */
  minSide: number;
  maxSide: number;
  /** Digit box height range, px (the tight box of the rotated ink; log-uniform target). */
  minDigitHeight: number;
  maxDigitHeight: number;
  /** Digits per image (uniform, inclusive). */
  minDigits: number;
  maxDigits: number;
  /** Largest rotation of a digit, degrees (uniform in [-maxRotation, maxRotation]). */
  maxRotation: number;
  /** JPEG quality range (uniform integer, inclusive). */
  minQuality: number;
  maxQuality: number;
}

export const SHIFT_DEFAULTS: ShiftOptions = {
  minSide: 240,
  maxSide: 480,
  minDigitHeight: 14,
  maxDigitHeight: 100,
  minDigits: 1,
  maxDigits: 8,
  maxRotation: 15,
  minQuality: 60,
  maxQuality: 95,
};

/** How a digit's ink differs from the canvas under it. */
export type InkContrast = 'darker' | 'lighter' | 'hue';

export interface ShiftDigit extends RenderedDigit {
  /** How its glyph was drawn (poseGlyph): scale, aspect, shear, rotation (degrees), stroke weight. */
  pose: GlyphPose;
  /** Ink colour, RGB 0..255. */
  ink: [number, number, number];
  contrast: InkContrast;
  /** Ink luminance minus the mean luminance of the canvas under the ink, when drawn (before blur and noise). */
  lumaDelta: number;
  outline: boolean;
  shadow: boolean;
}

export type CanvasFamily = 'noise' | 'stripes' | 'checks' | 'shapes' | 'flat' | 'gradient';

export interface ShiftImage extends RenderedImage {
  digits: ShiftDigit[];
  /** JPEG quality to encode it with. */
  quality: number;
  family: CanvasFamily;
  /** Clutter strokes and shapes drawn on the canvas before the digits. */
  clutter: number;
  /** Gaussian blur sigma of the whole image (0: none). */
  blur: number;
  /** Sensor noise sigma (0: none). */
  noise: number;
}

type Rgb = [number, number, number];

const luma = (c: ArrayLike<number>) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
const anyColour = (random: Rng): Rgb => [random() * 255, random() * 255, random() * 255];

/** HSV (hue in turns) to RGB 0..255. */
function hsv(h: number, s: number, v: number): Rgb {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return v * (1 - s * Math.max(0, Math.min(k, 4 - k, 1))) * 255;
  };
  return [f(5), f(3), f(1)];
}

/**
 * A colour of hue `h` and saturation `s` whose luminance is `target` (as near as the hue
 * allows): value raised from black, then mixed toward white past full value. Luminance
 * grows with the parameter, so bisection finds it.
 */
function colourOfLuma(h: number, s: number, target: number): Rgb {
  const at = (t: number): Rgb => {
    if (t <= 1) return hsv(h, s, t);
    const full = hsv(h, s, 1);
    return full.map((c) => lerp(c, 255, t - 1)) as Rgb;
  };
  let lo = 0;
  let hi = 2;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (luma(at(mid)) < target) lo = mid;
    else hi = mid;
  }
  return at((lo + hi) / 2);
}

/** Hue (turns) and saturation of an RGB colour. */
function hueOf(c: ArrayLike<number>): { h: number; s: number } {
  const [r, g, b] = [c[0] / 255, c[1] / 255, c[2] / 255];
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  if (d === 0) return { h: 0, s: 0 };
  const h = max === r ? ((g - b) / d + 6) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return { h: h / 6, s: max === 0 ? 0 : d / max };
}

// ---------------------------------------------------------------------------------------------
// Painting on a float RGB canvas.

interface Canvas {
  width: number;
  height: number;
  /** RGB, HWC, 0..255 (unclamped while drawing). */
  rgb: Float32Array;
}

/**
 * Blends `colour` at alpha * coverage(px, py) (pixel centres) over the pixels of the box
 * [x0, x1) x [y0, y1), clipped to the canvas.
 */
function paint(canvas: Canvas, box: number[], coverage: (px: number, py: number) => number, colour: ArrayLike<number>, alpha: number): void {
  const { width, height, rgb } = canvas;
  const xa = Math.max(0, Math.floor(box[0]));
  const ya = Math.max(0, Math.floor(box[1]));
  const xb = Math.min(width, Math.ceil(box[2]));
  const yb = Math.min(height, Math.ceil(box[3]));
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      const a = coverage(x + 0.5, y + 0.5) * alpha;
      if (a <= 0) continue;
      const o = (y * width + x) * 3;
      rgb[o] += (colour[0] - rgb[o]) * a;
      rgb[o + 1] += (colour[1] - rgb[o + 1]) * a;
      rgb[o + 2] += (colour[2] - rgb[o + 2]) * a;
    }
  }
}

/** Distance from (px, py) to the segment (ax, ay)-(bx, by). */
function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : clamp01(((px - ax) * dx + (py - ay) * dy) / len2);
  const ex = px - (ax + t * dx);
  const ey = py - (ay + t * dy);
  return Math.sqrt(ex * ex + ey * ey);
}

/** A polyline `width` px wide, anti-aliased: each segment's coverage kept at its max per pixel, then blended once. */
function strokePath(canvas: Canvas, points: number[][], width: number, colour: Rgb, alpha: number): void {
  const half = width / 2;
  const x0 = Math.max(0, Math.floor(Math.min(...points.map((p) => p[0])) - half - 1));
  const y0 = Math.max(0, Math.floor(Math.min(...points.map((p) => p[1])) - half - 1));
  const x1 = Math.min(canvas.width, Math.ceil(Math.max(...points.map((p) => p[0])) + half + 1));
  const y1 = Math.min(canvas.height, Math.ceil(Math.max(...points.map((p) => p[1])) + half + 1));
  if (x1 <= x0 || y1 <= y0) return;
  const mw = x1 - x0;
  const mask = new Float32Array(mw * (y1 - y0));
  for (let i = 1; i < points.length; i++) {
    const [ax, ay] = points[i - 1];
    const [bx, by] = points[i];
    const xa = Math.max(x0, Math.floor(Math.min(ax, bx) - half - 1));
    const ya = Math.max(y0, Math.floor(Math.min(ay, by) - half - 1));
    const xb = Math.min(x1, Math.ceil(Math.max(ax, bx) + half + 1));
    const yb = Math.min(y1, Math.ceil(Math.max(ay, by) + half + 1));
    for (let y = ya; y < yb; y++) {
      for (let x = xa; x < xb; x++) {
        const c = clamp01(half + 0.5 - segmentDistance(x + 0.5, y + 0.5, ax, ay, bx, by));
        const m = (y - y0) * mw + (x - x0);
        if (c > mask[m]) mask[m] = c;
      }
    }
  }
  paint(canvas, [x0, y0, x1, y1], (px, py) => mask[(Math.floor(py) - y0) * mw + (Math.floor(px) - x0)], colour, alpha);
}

/** A cubic Bezier curve as `n` + 1 points. */
function bezier(p0: number[], p1: number[], p2: number[], p3: number[], n = 18): number[][] {
  return Array.from({ length: n + 1 }, (_, i) => {
    const t = i / n;
    const u = 1 - t;
    const a = u * u * u;
    const b = 3 * u * u * t;
    const c = 3 * u * t * t;
    const d = t * t * t;
    return [a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]];
  });
}

/** Even-odd test of a point against a closed polygon. */
function insidePolygon(px: number, py: number, points: number[][]): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i];
    const [xj, yj] = points[j];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** One filled shape: an ellipse, a rotated rectangle or a star-shaped polygon. */
function fillShape(random: Rng, canvas: Canvas, cx: number, cy: number, size: number, colour: Rgb, alpha: number): void {
  const kind = randomInt(random, 0, 2);
  const angle = random() * Math.PI;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const a = size * uniform(random, 0.4, 1);
  const b = size * uniform(random, 0.4, 1);
  const reach = Math.max(a, b) + 2;
  const box = [cx - reach, cy - reach, cx + reach, cy + reach];
  if (kind === 0) {
    // Ellipse: the distance to its edge, approximated in the unit-circle frame.
    paint(
      canvas,
      box,
      (px, py) => {
        const u = (px - cx) * cos + (py - cy) * sin;
        const v = -(px - cx) * sin + (py - cy) * cos;
        const d = (Math.sqrt((u * u) / (a * a) + (v * v) / (b * b)) - 1) * Math.min(a, b);
        return clamp01(0.5 - d);
      },
      colour,
      alpha,
    );
  } else if (kind === 1) {
    // Rotated rectangle: a box's signed distance.
    paint(
      canvas,
      box,
      (px, py) => {
        const u = Math.abs((px - cx) * cos + (py - cy) * sin) - a;
        const v = Math.abs(-(px - cx) * sin + (py - cy) * cos) - b;
        const outside = Math.sqrt(Math.max(u, 0) ** 2 + Math.max(v, 0) ** 2) + Math.min(Math.max(u, v), 0);
        return clamp01(0.5 - outside);
      },
      colour,
      alpha,
    );
  } else {
    // Polygon of 3..8 vertices around the centre, 2x2 samples per pixel.
    const n = randomInt(random, 3, 8);
    const start = random() * 2 * Math.PI;
    const points = Array.from({ length: n }, (_, i) => {
      const t = start + (2 * Math.PI * (i + uniform(random, -0.3, 0.3))) / n;
      const r = size * uniform(random, 0.35, 1);
      return [cx + r * Math.cos(t), cy + r * Math.sin(t)];
    });
    paint(
      canvas,
      box,
      (px, py) => {
        let hits = 0;
        for (const [ox, oy] of [
          [-0.25, -0.25],
          [0.25, -0.25],
          [-0.25, 0.25],
          [0.25, 0.25],
        ]) {
          if (insidePolygon(px + ox, py + oy, points)) hits++;
        }
        return hits / 4;
      },
      colour,
      alpha,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Canvas families.

/** A colour ramp through 2..4 colours, sampled at t in [0, 1]. */
function ramp(random: Rng): (t: number) => Rgb {
  const n = randomInt(random, 2, 4);
  const related = random() < 0.4;
  const first = anyColour(random);
  const stops = Array.from({ length: n }, (_, i) => (i === 0 || !related ? (i === 0 ? first : anyColour(random)) : (first.map((c) => c + uniform(random, -70, 70)) as Rgb)));
  return (t) => {
    const x = clamp01(t) * (n - 1);
    const i = Math.min(Math.floor(x), n - 2);
    const f = x - i;
    return [lerp(stops[i][0], stops[i + 1][0], f), lerp(stops[i][1], stops[i + 1][1], f), lerp(stops[i][2], stops[i + 1][2], f)];
  };
}

/** Fractal value noise (smoothly interpolated random lattices, octaves halving in size), normalised to [0, 1]. */
function valueNoise(random: Rng, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const octaves = randomInt(random, 2, 5);
  const persistence = uniform(random, 0.35, 0.7);
  let cell = uniform(random, 24, 160);
  let amplitude = 1;
  const fade = (t: number) => t * t * t * (t * (t * 6 - 15) + 10);
  for (let o = 0; o < octaves; o++, cell /= 2, amplitude *= persistence) {
    const gw = Math.ceil(width / cell) + 2;
    const gh = Math.ceil(height / cell) + 2;
    const lattice = Float32Array.from({ length: gw * gh }, () => random());
    for (let y = 0; y < height; y++) {
      const gy = y / cell;
      const iy = Math.floor(gy);
      const fy = fade(gy - iy);
      for (let x = 0; x < width; x++) {
        const gx = x / cell;
        const ix = Math.floor(gx);
        const fx = fade(gx - ix);
        const i = iy * gw + ix;
        const top = lerp(lattice[i], lattice[i + 1], fx);
        const bottom = lerp(lattice[i + gw], lattice[i + gw + 1], fx);
        out[y * width + x] += amplitude * lerp(top, bottom, fy);
      }
    }
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of out) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi - lo || 1;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] - lo) / span;
  return out;
}

/** Noise through a colour ramp; sometimes as marble (a sine wave bent by the noise), sometimes per channel. */
function noiseCanvas(random: Rng, canvas: Canvas): void {
  const { width, height, rgb } = canvas;
  const style = random();
  if (style < 0.2) {
    // Independent noise per channel, each channel in its own range.
    for (let ch = 0; ch < 3; ch++) {
      const field = valueNoise(random, width, height);
      const lo = uniform(random, 0, 200);
      const hi = uniform(random, lo + 20, 255);
      for (let i = 0; i < field.length; i++) rgb[i * 3 + ch] = lerp(lo, hi, field[i]);
    }
    return;
  }
  const field = valueNoise(random, width, height);
  const colour = ramp(random);
  const marble = style < 0.5;
  const angle = random() * Math.PI;
  const period = uniform(random, 20, 120);
  const bend = uniform(random, 2, 10);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const t = marble ? 0.5 + 0.5 * Math.sin(((x * cos + y * sin) / period) * 2 * Math.PI + bend * field[i]) : field[i];
      const c = colour(t);
      rgb[i * 3] = c[0];
      rgb[i * 3 + 1] = c[1];
      rgb[i * 3 + 2] = c[2];
    }
  }
}

/** Anti-aliased share of a square wave of `period` px at `u` that is "on" (duty `duty`), edges `soft` px wide. */
function squareWave(u: number, period: number, duty: number, soft: number): number {
  const f = u / period - Math.floor(u / period);
  const on = f < duty;
  const dist = (on ? Math.min(f, duty - f) : Math.min(f - duty, 1 - f)) * period;
  return clamp01(0.5 + (on ? dist : -dist) / soft);
}

/** Stripes (square or sine) at a random angle and period, or checks (two square waves crossed). */
function stripeCanvas(random: Rng, canvas: Canvas, checks: boolean): void {
  const { width, height, rgb } = canvas;
  const angle = random() * Math.PI;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const period = Math.exp(uniform(random, Math.log(5), Math.log(70)));
  const period2 = random() < 0.5 ? period : Math.exp(uniform(random, Math.log(5), Math.log(70)));
  const duty = uniform(random, 0.25, 0.75);
  const soft = uniform(random, 0.6, 2.5);
  const sine = !checks && random() < 0.3;
  const phase = random() * 1000;
  const c0 = anyColour(random);
  const c1: Rgb = random() < 0.4 ? (c0.map((c) => c + uniform(random, -90, 90)) as Rgb) : anyColour(random);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x * cos + y * sin + phase;
      let t: number;
      if (checks) {
        const a = squareWave(u, period, 0.5, soft);
        const b = squareWave(-x * sin + y * cos + phase, period2, 0.5, soft);
        t = a * (1 - b) + b * (1 - a);
      } else {
        t = sine ? 0.5 + 0.5 * Math.sin((u / period) * 2 * Math.PI) : squareWave(u, period, duty, soft);
      }
      const o = (y * width + x) * 3;
      rgb[o] = lerp(c0[0], c1[0], t);
      rgb[o + 1] = lerp(c0[1], c1[1], t);
      rgb[o + 2] = lerp(c0[2], c1[2], t);
    }
  }
}

/** A linear or radial gradient through a colour ramp. */
function gradientCanvas(random: Rng, canvas: Canvas): void {
  const { width, height, rgb } = canvas;
  const colour = ramp(random);
  const radial = random() < 0.35;
  const angle = random() * 2 * Math.PI;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const cx = random() * width;
  const cy = random() * height;
  const reach = Math.hypot(Math.max(cx, width - cx), Math.max(cy, height - cy));
  const corners = [0, width * cos, height * sin, width * cos + height * sin];
  const lo = Math.min(...corners);
  const span = Math.max(...corners) - lo || 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = radial ? Math.hypot(x - cx, y - cy) / reach : (x * cos + y * sin - lo) / span;
      const c = colour(t);
      const o = (y * width + x) * 3;
      rgb[o] = c[0];
      rgb[o + 1] = c[1];
      rgb[o + 2] = c[2];
    }
  }
}

function flatCanvas(random: Rng, canvas: Canvas): void {
  const colour = random() < 0.4 ? hsv(random(), uniform(random, 0, 0.2), uniform(random, 0.05, 1)) : anyColour(random);
  const { rgb } = canvas;
  for (let i = 0; i < rgb.length; i += 3) {
    rgb[i] = colour[0];
    rgb[i + 1] = colour[1];
    rgb[i + 2] = colour[2];
  }
}

/** Many filled shapes in many colours on a flat or gradient ground. */
function shapesCanvas(random: Rng, canvas: Canvas): void {
  if (random() < 0.5) flatCanvas(random, canvas);
  else gradientCanvas(random, canvas);
  const count = randomInt(random, 6, 50);
  const side = Math.min(canvas.width, canvas.height);
  for (let k = 0; k < count; k++) {
    const size = Math.exp(uniform(random, Math.log(4), Math.log(side * 0.4)));
    fillShape(random, canvas, random() * canvas.width, random() * canvas.height, size, anyColour(random), uniform(random, 0.5, 1));
  }
}

/** Lines, polylines, curves, rings, arcs and small shapes that are not digits; returns how many. */
function clutter(random: Rng, canvas: Canvas, count: number): number {
  const { width, height } = canvas;
  const point = () => [random() * width, random() * height];
  for (let k = 0; k < count; k++) {
    const colour = anyColour(random);
    const alpha = uniform(random, 0.5, 1);
    const stroke = Math.exp(uniform(random, Math.log(1), Math.log(7)));
    const kind = randomInt(random, 0, 4);
    if (kind === 0) {
      strokePath(canvas, [point(), point()], stroke, colour, alpha);
    } else if (kind === 1) {
      const start = point();
      const n = randomInt(random, 2, 5);
      const points = [start];
      for (let i = 0; i < n; i++) points.push([points[i][0] + uniform(random, -80, 80), points[i][1] + uniform(random, -80, 80)]);
      strokePath(canvas, points, stroke, colour, alpha);
    } else if (kind === 2) {
      const p0 = point();
      const near = () => [p0[0] + uniform(random, -120, 120), p0[1] + uniform(random, -120, 120)];
      strokePath(canvas, bezier(p0, near(), near(), near()), stroke, colour, alpha);
    } else if (kind === 3) {
      // A ring or an arc of one.
      const [cx, cy] = point();
      const r = uniform(random, 5, Math.min(width, height) / 4);
      const from = random() * 2 * Math.PI;
      const sweep = random() < 0.5 ? 2 * Math.PI : uniform(random, 0.5, 5);
      const points = Array.from({ length: 25 }, (_, i) => [cx + r * Math.cos(from + (sweep * i) / 24), cy + r * Math.sin(from + (sweep * i) / 24)]);
      strokePath(canvas, points, stroke, colour, alpha);
    } else {
      const [cx, cy] = point();
      fillShape(random, canvas, cx, cy, uniform(random, 3, 30), colour, alpha);
    }
  }
  return count;
}

/** The canvas: one family, then sometimes clutter (always for gradients). */
function drawCanvas(random: Rng, canvas: Canvas): { family: CanvasFamily; clutter: number } {
  const r = random();
  const family: CanvasFamily = r < 0.22 ? 'noise' : r < 0.36 ? 'stripes' : r < 0.46 ? 'checks' : r < 0.66 ? 'shapes' : r < 0.76 ? 'flat' : 'gradient';
  if (family === 'noise') noiseCanvas(random, canvas);
  else if (family === 'stripes' || family === 'checks') stripeCanvas(random, canvas, family === 'checks');
  else if (family === 'shapes') shapesCanvas(random, canvas);
  else if (family === 'flat') flatCanvas(random, canvas);
  else gradientCanvas(random, canvas);
  const count = family === 'gradient' ? randomInt(random, 3, 14) : random() < 0.35 ? randomInt(random, 1, 8) : 0;
  return { family, clutter: clutter(random, canvas, count) };
}

// ---------------------------------------------------------------------------------------------
// Glyphs: an affine pose (scale, aspect, shear, rotation) sampled bicubically from the 28x28 glyph.

/** Where and how a glyph is drawn. */
export interface GlyphPose {
  /** Output px per glyph px, vertically (before shear and rotation). */
  scale: number;
  /** Horizontal scale over vertical. */
  aspect: number;
  /** x += shear * y, in the glyph's frame. */
  shear: number;
  /** Degrees, clockwise on screen. */
  angle: number;
  /** Stroke weight: intensity ** gamma (< 1 thickens, > 1 thins). */
  gamma: number;
  /** Hard-edged ink (a steep ramp of the intensity) rather than the glyph's soft edges. */
  hard: boolean;
}

/** A posed glyph: intensities in [0, 1] on a `width` x `height` patch with a margin of `pad` px. */
export interface PosedGlyph {
  width: number;
  height: number;
  values: Float32Array;
  /** The ink (>= INK_THRESHOLD) in patch pixels: [c0, r0, c1, r1] inclusive, or null. */
  ink: [number, number, number, number] | null;
  pose: GlyphPose;
}

/** Keys' cubic convolution weight (a = -0.5). */
function cubic(t: number): number {
  const x = Math.abs(t);
  if (x < 1) return 1.5 * x * x * x - 2.5 * x * x + 1;
  if (x < 2) return -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
  return 0;
}

/** The glyph's intensity at (gx, gy) in its own pixel frame (pixel centres at i + 0.5), bicubic, 0 outside. */
function sampleGlyph(glyph: Float32Array, gx: number, gy: number): number {
  const n = GLYPH_SIZE;
  const fx = gx - 0.5;
  const fy = gy - 0.5;
  const ix = Math.floor(fx);
  const iy = Math.floor(fy);
  if (ix < -2 || iy < -2 || ix > n || iy > n) return 0;
  let sum = 0;
  for (let j = -1; j <= 2; j++) {
    const y = iy + j;
    if (y < 0 || y >= n) continue;
    const wy = cubic(fy - y);
    for (let i = -1; i <= 2; i++) {
      const x = ix + i;
      if (x < 0 || x >= n) continue;
      sum += glyph[y * n + x] * cubic(fx - x) * wy;
    }
  }
  return sum;
}

/** Draws `glyph` in `pose` on a patch just large enough, with `pad` px of margin (for outlines and shadows). */
export function poseGlyph(glyph: Float32Array, pose: GlyphPose, pad = 6): PosedGlyph {
  const sy = pose.scale;
  const sx = pose.scale * pose.aspect;
  const theta = (pose.angle * Math.PI) / 180;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  // Forward: p = R * (S * [[1, shear], [0, 1]]) * (g - c); the patch is the bounding box of the glyph square.
  const c = GLYPH_SIZE / 2;
  const forward = (gx: number, gy: number) => {
    const x = (gx - c + pose.shear * (gy - c)) * sx;
    const y = (gy - c) * sy;
    return [x * cos - y * sin, x * sin + y * cos];
  };
  const corners = [forward(0, 0), forward(GLYPH_SIZE, 0), forward(0, GLYPH_SIZE), forward(GLYPH_SIZE, GLYPH_SIZE)];
  const x0 = Math.floor(Math.min(...corners.map((p) => p[0]))) - pad;
  const y0 = Math.floor(Math.min(...corners.map((p) => p[1]))) - pad;
  const width = Math.ceil(Math.max(...corners.map((p) => p[0]))) + pad - x0;
  const height = Math.ceil(Math.max(...corners.map((p) => p[1]))) + pad - y0;
  const values = new Float32Array(width * height);
  let c0 = width;
  let r0 = height;
  let c1 = -1;
  let r1 = -1;
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      // Inverse: un-rotate, un-scale, un-shear.
      const px = x0 + i + 0.5;
      const py = y0 + j + 0.5;
      const x = (px * cos + py * sin) / sx;
      const y = (-px * sin + py * cos) / sy;
      const gy = y + c;
      const gx = x - pose.shear * y + c;
      let v = clamp01(sampleGlyph(glyph, gx, gy));
      if (v > 0) {
        v = v ** pose.gamma;
        if (pose.hard) v = clamp01((v - 0.25) / 0.3);
      }
      values[j * width + i] = v;
      if (v >= INK_THRESHOLD) {
        if (i < c0) c0 = i;
        if (i > c1) c1 = i;
        if (j < r0) r0 = j;
        if (j > r1) r1 = j;
      }
    }
  }
  return { width, height, values, ink: c1 < 0 ? null : [c0, r0, c1, r1], pose };
}

/** Rows of the glyph holding ink (>= INK_THRESHOLD), for a first guess of the scale. */
function glyphInkRows(glyph: Float32Array): number {
  let first = -1;
  let last = -1;
  for (let y = 0; y < GLYPH_SIZE; y++) {
    for (let x = 0; x < GLYPH_SIZE; x++) {
      if (glyph[y * GLYPH_SIZE + x] >= INK_THRESHOLD) {
        if (first < 0) first = y;
        last = y;
        break;
      }
    }
  }
  return first < 0 ? 0 : last - first + 1;
}

/**
 * Poses `glyph` so that its ink box is `target` px tall: the scale is corrected from the
 * measured box (rotation and shear change it) until the height lands in [min, max]; null
 * when it cannot (no ink).
 */
function poseToHeight(glyph: Float32Array, pose: Omit<GlyphPose, 'scale'>, target: number, min: number, max: number): PosedGlyph | null {
  const rows = glyphInkRows(glyph);
  if (rows === 0) return null;
  let scale = target / rows;
  for (let attempt = 0; attempt < 5; attempt++) {
    const posed = poseGlyph(glyph, { ...pose, scale });
    if (posed.ink == null) return null;
    const h = posed.ink[3] - posed.ink[1] + 1;
    if (h >= min && h <= max && Math.abs(h - target) <= Math.max(1, 0.04 * target)) return posed;
    if (attempt === 4) return h >= min && h <= max ? posed : null;
    scale *= target / h;
  }
  return null;
}

/** Max over the (2r+1)^2 neighbourhood: the glyph thickened by r px (an outline's mask). */
function dilate(values: Float32Array, width: number, height: number, r: number): Float32Array {
  const rows = new Float32Array(values.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let m = 0;
      for (let k = Math.max(0, x - r); k <= Math.min(width - 1, x + r); k++) m = Math.max(m, values[y * width + k]);
      rows[y * width + x] = m;
    }
  }
  const out = new Float32Array(values.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let m = 0;
      for (let k = Math.max(0, y - r); k <= Math.min(height - 1, y + r); k++) m = Math.max(m, rows[k * width + x]);
      out[y * width + x] = m;
    }
  }
  return out;
}

/** The glyph moved by (dx, dy) and softened by a 3x3 box filter (a drop shadow's mask). */
function shadowMask(values: Float32Array, width: number, height: number, dx: number, dy: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let j = -1; j <= 1; j++) {
        for (let i = -1; i <= 1; i++) {
          const sx = x - dx + i;
          const sy = y - dy + j;
          if (sx >= 0 && sy >= 0 && sx < width && sy < height) sum += values[sy * width + sx];
        }
      }
      out[y * width + x] = sum / 9;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ink.

interface InkChoice {
  colour: Rgb;
  contrast: InkContrast;
}

/**
 * An ink colour for a digit over canvas colour `under` (mean under its strokes): of any hue;
 * 12% of digits differ from it by hue only (luminance within 12), the others are darker or
 * lighter by a luminance difference of 25..45 (a third of them) or 45..200, as far as 0..255 allows.
 */
function chooseInk(random: Rng, under: Rgb): InkChoice {
  const base = luma(under);
  const h = random();
  const s = random() < 0.3 ? uniform(random, 0, 0.15) : uniform(random, 0.2, 1);
  if (random() < 0.12) {
    const bg = hueOf(under);
    const hue = bg.h + uniform(random, 0.25, 0.75);
    const target = Math.min(245, Math.max(10, base + uniform(random, -12, 12)));
    return { colour: colourOfLuma(hue - Math.floor(hue), uniform(random, 0.65, 1), target), contrast: 'hue' };
  }
  const delta = random() < 0.35 ? uniform(random, 25, 45) : uniform(random, 45, 200);
  const room = { darker: base, lighter: 255 - base };
  let contrast: InkContrast = random() < 0.5 ? 'darker' : 'lighter';
  if (room[contrast] < 25 || (room[contrast] < delta && room[contrast === 'darker' ? 'lighter' : 'darker'] >= delta)) contrast = contrast === 'darker' ? 'lighter' : 'darker';
  const step = Math.min(delta, room[contrast]);
  return { colour: colourOfLuma(h, s, contrast === 'darker' ? base - step : base + step), contrast };
}

// ---------------------------------------------------------------------------------------------
// The image.

/** Overlap allowed between two digits' boxes, over the smaller box. */
export const SHIFT_MAX_BOX_OVERLAP = 0.35;
/** Share of a digit's ink later digits may cover, together. */
export const SHIFT_MAX_INK_COVERED = 0.1;
/** A later digit's outline or shadow hides the ink under it where its opacity reaches this. */
const HIDING_OPACITY = 0.5;
const OUTLINE_OPACITY = 0.95;
const PLACEMENT_ATTEMPTS = 30;

interface Drawn {
  digit: ShiftDigit;
  /** Ink pixels when drawn. */
  ink: number;
  /** Visible ink pixels (the owner map's count). */
  visible: number;
  /** Visible ink box [x1, y1, x2, y2) — kept current as later digits cover some of it. */
  box: number[];
}

function overlapOfSmaller(a: number[], b: number[]): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / Math.min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]));
}

/** Tight box [x1, y1, x2, y2) of `id`'s pixels in the owner map within `area`, ignoring pixels `hidden` marks; null when none. */
function ownerBox(owner: Int16Array, width: number, id: number, area: number[], hidden: Uint8Array | null): number[] | null {
  let c0 = Infinity;
  let r0 = Infinity;
  let c1 = -1;
  let r1 = -1;
  for (let y = area[1]; y < area[3]; y++) {
    for (let x = area[0]; x < area[2]; x++) {
      const p = y * width + x;
      if (owner[p] !== id || (hidden != null && hidden[p] === 1)) continue;
      if (x < c0) c0 = x;
      if (x > c1) c1 = x;
      if (y < r0) r0 = y;
      if (y > r1) r1 = y;
    }
  }
  return c1 < 0 ? null : [c0, r0, c1 + 1, r1 + 1];
}

/** How many pixels of `area` the owner map gives `id`. */
function countOwned(owner: Int16Array, width: number, id: number, area: number[]): number {
  let count = 0;
  for (let y = area[1]; y < area[3]; y++) for (let x = area[0]; x < area[2]; x++) if (owner[y * width + x] === id) count++;
  return count;
}

/** Separable Gaussian blur of the canvas (edges clamped). */
function gaussianBlur(canvas: Canvas, sigma: number): void {
  const { width, height, rgb } = canvas;
  const r = Math.ceil(3 * sigma);
  const taps = 2 * r + 1;
  const kernel = Float32Array.from({ length: taps }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  for (let i = 0; i < taps; i++) kernel[i] /= total;
  // One pass along lines of `n` samples `step` floats apart, lines `next` floats apart; edge samples repeat.
  const pass = (src: Float32Array, dst: Float32Array, n: number, lines: number, step: number, next: number) => {
    const clamped = Int32Array.from({ length: n + 2 * r }, (_, i) => Math.min(n - 1, Math.max(0, i - r)) * step);
    for (let line = 0; line < lines; line++) {
      const base = line * next;
      for (let i = 0; i < n; i++) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        for (let k = 0; k < taps; k++) {
          const o = base + clamped[i + k];
          const w = kernel[k];
          s0 += w * src[o];
          s1 += w * src[o + 1];
          s2 += w * src[o + 2];
        }
        const o = base + i * step;
        dst[o] = s0;
        dst[o + 1] = s1;
        dst[o + 2] = s2;
      }
    }
  };
  const tmp = new Float32Array(rgb.length);
  pass(rgb, tmp, width, height, 3, width * 3);
  pass(tmp, rgb, height, width, width * 3, 3);
}

/** Gaussian sensor noise of `sigma`: per channel, or the same on all three (luminance noise). */
function sensorNoise(random: Rng, canvas: Canvas, sigma: number, mono: boolean): void {
  const { rgb } = canvas;
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  for (let o = 0; o < rgb.length; o += 3) {
    if (mono) {
      const n = sigma * normal();
      rgb[o] += n;
      rgb[o + 1] += n;
      rgb[o + 2] += n;
    } else {
      rgb[o] += sigma * normal();
      rgb[o + 1] += sigma * normal();
      rgb[o + 2] += sigma * normal();
    }
  }
}

/**
 * Renders one image of the digits dataset's `shift` split from `random`: a canvas of one
 * family (value noise, stripes, checks, shapes, flat, gradient with clutter), then
 * minDigits..maxDigits mnist digits drawn from `ranges` (per class), each posed (log-uniform
 * box height, aspect, shear, rotation up to ±maxRotation degrees, stroke weight), inked in a
 * colour chosen against the canvas under it, sometimes outlined or shadowed; then sometimes
 * a Gaussian blur (sigma 0.5..2) and sensor noise; the JPEG quality is drawn too. A digit's
 * box is the tight box of its glyph pixels at >= INK_THRESHOLD intensity that no later
 * digit covers (ink, or an outline/shadow at >= 50% opacity); a placement is refused when
 * its box overlaps an earlier digit's by more than SHIFT_MAX_BOX_OVERLAP of the smaller
 * one, leaves less than 1 - SHIFT_MAX_INK_COVERED of an earlier digit's ink visible, or leaves
 * an earlier digit less than minDigitHeight tall.
 */
export function renderShiftImage(random: Rng, bank: GlyphBank, ranges: GlyphRange[], options: ShiftOptions = SHIFT_DEFAULTS): ShiftImage {
  const width = randomInt(random, options.minSide, options.maxSide);
  const height = randomInt(random, options.minSide, options.maxSide);
  const quality = randomInt(random, options.minQuality, options.maxQuality);
  const canvas: Canvas = { width, height, rgb: new Float32Array(width * height * 3) };
  const { family, clutter: clutterCount } = drawCanvas(random, canvas);
  const owner = new Int16Array(width * height).fill(-1);
  const drawn: Drawn[] = [];
  const wanted = randomInt(random, options.minDigits, options.maxDigits);
  const hidden = new Uint8Array(width * height);
  for (let attempt = 0; attempt < wanted + 6 && drawn.length < wanted; attempt++) {
    const digit = randomInt(random, 0, 9);
    const range = ranges[digit];
    const index = randomInt(random, range.start, range.end - 1);
    const glyph = bank.glyph(digit, index);
    const target = Math.exp(uniform(random, Math.log(options.minDigitHeight), Math.log(options.maxDigitHeight)));
    const pose = {
      aspect: uniform(random, 0.75, 1.3),
      shear: random() < 0.4 ? uniform(random, -0.25, 0.25) : 0,
      angle: uniform(random, -options.maxRotation, options.maxRotation),
      gamma: Math.exp(uniform(random, Math.log(0.55), Math.log(1.6))),
      hard: random() < 0.3,
    };
    const outline = random() < 0.18 ? randomInt(random, 1, 2) : 0;
    const shadow = random() < 0.18 ? [randomInt(random, 1, 4) * (random() < 0.5 ? -1 : 1), randomInt(random, 1, 4)] : null;
    const opacity = uniform(random, 0.8, 1);
    const tries = Array.from({ length: PLACEMENT_ATTEMPTS }, () => [random(), random()]);
    const decorationDraws = [random(), random(), random()];
    const posed = poseToHeight(glyph, pose, target, options.minDigitHeight, options.maxDigitHeight);
    if (posed == null || posed.ink == null) continue;
    const ink = posed.ink;
    const inkW = ink[2] - ink[0] + 1;
    const inkH = ink[3] - ink[1] + 1;
    if (inkW > width || inkH > height) continue;
    const outlineMask = outline > 0 ? dilate(posed.values, posed.width, posed.height, outline) : null;
    const shadowValues = shadow != null ? shadowMask(posed.values, posed.width, posed.height, shadow[0], shadow[1]) : null;
    const shadowOpacity = lerp(0.35, 0.85, decorationDraws[0]);
    // Where this digit would hide earlier ink: its own ink, and opaque enough outline/shadow.
    const hides = (i: number) =>
      posed.values[i] >= INK_THRESHOLD ||
      (outlineMask != null && outlineMask[i] * OUTLINE_OPACITY >= HIDING_OPACITY) ||
      (shadowValues != null && shadowValues[i] * shadowOpacity >= HIDING_OPACITY);
    let spot: { ox: number; oy: number } | null = null;
    for (const [u, v] of tries) {
      // Patch origin such that the ink box lies inside the canvas.
      const ox = Math.floor(u * (width - inkW + 1)) - ink[0];
      const oy = Math.floor(v * (height - inkH + 1)) - ink[1];
      const box = [ox + ink[0], oy + ink[1], ox + ink[2] + 1, oy + ink[3] + 1];
      if (drawn.some((d) => overlapOfSmaller(d.box, box) > SHIFT_MAX_BOX_OVERLAP)) continue;
      const covered = new Map<number, number>();
      const marked: number[] = [];
      for (let j = 0; j < posed.height; j++) {
        const y = oy + j;
        if (y < 0 || y >= height) continue;
        for (let i = 0; i < posed.width; i++) {
          const x = ox + i;
          if (x < 0 || x >= width) continue;
          const p = y * width + x;
          if (owner[p] >= 0 && hides(j * posed.width + i)) {
            covered.set(owner[p], (covered.get(owner[p]) ?? 0) + 1);
            hidden[p] = 1;
            marked.push(p);
          }
        }
      }
      let ok = true;
      for (const [id, n] of covered) {
        const d = drawn[id];
        if (d.visible - n < (1 - SHIFT_MAX_INK_COVERED) * d.ink) ok = false;
        else {
          const left = ownerBox(owner, width, id, d.box, hidden);
          if (left == null || left[3] - left[1] < options.minDigitHeight) ok = false;
        }
        if (!ok) break;
      }
      for (const p of marked) hidden[p] = 0;
      if (ok) {
        spot = { ox, oy };
        break;
      }
    }
    if (spot == null) continue;
    const { ox, oy } = spot;
    // The ink colour against the canvas under the strokes.
    const under: Rgb = [0, 0, 0];
    let n = 0;
    for (let j = ink[1]; j <= ink[3]; j++) {
      for (let i = ink[0]; i <= ink[2]; i++) {
        if (posed.values[j * posed.width + i] < INK_THRESHOLD) continue;
        const o = ((oy + j) * width + ox + i) * 3;
        under[0] += canvas.rgb[o];
        under[1] += canvas.rgb[o + 1];
        under[2] += canvas.rgb[o + 2];
        n++;
      }
    }
    for (let ch = 0; ch < 3; ch++) under[ch] = Math.min(255, Math.max(0, under[ch] / n));
    const choice = chooseInk(random, under);
    const id = drawn.length;
    const inkLuma = luma(choice.colour);
    // Decorations under the ink: a shadow (darker than everything near), an outline (far from the ink's luminance).
    const stamp = (mask: Float32Array, colour: Rgb, alpha: number) => {
      for (let j = 0; j < posed.height; j++) {
        const y = oy + j;
        if (y < 0 || y >= height) continue;
        for (let i = 0; i < posed.width; i++) {
          const x = ox + i;
          if (x < 0 || x >= width) continue;
          const a = mask[j * posed.width + i] * alpha;
          if (a <= 0) continue;
          const p = y * width + x;
          const o = p * 3;
          canvas.rgb[o] += (colour[0] - canvas.rgb[o]) * a;
          canvas.rgb[o + 1] += (colour[1] - canvas.rgb[o + 1]) * a;
          canvas.rgb[o + 2] += (colour[2] - canvas.rgb[o + 2]) * a;
          if (a >= HIDING_OPACITY) owner[p] = -1;
        }
      }
    };
    if (shadowValues != null) {
      const dark = Math.min(inkLuma, luma(under)) * decorationDraws[1] * 0.5;
      stamp(shadowValues, colourOfLuma(decorationDraws[2], 0.3, dark), shadowOpacity);
    }
    if (outlineMask != null) {
      const far = inkLuma > 128 ? inkLuma - 90 - 60 * decorationDraws[1] : inkLuma + 90 + 60 * decorationDraws[1];
      stamp(outlineMask, colourOfLuma(decorationDraws[2], 0.5 * decorationDraws[0], Math.min(250, Math.max(5, far))), OUTLINE_OPACITY);
    }
    // The ink: blended by intensity; its pixels at >= INK_THRESHOLD intensity are this digit's.
    for (let j = 0; j < posed.height; j++) {
      const y = oy + j;
      if (y < 0 || y >= height) continue;
      for (let i = 0; i < posed.width; i++) {
        const x = ox + i;
        if (x < 0 || x >= width) continue;
        const v = posed.values[j * posed.width + i];
        if (v <= 0) continue;
        const p = y * width + x;
        const o = p * 3;
        const a = v * opacity;
        canvas.rgb[o] += (choice.colour[0] - canvas.rgb[o]) * a;
        canvas.rgb[o + 1] += (choice.colour[1] - canvas.rgb[o + 1]) * a;
        canvas.rgb[o + 2] += (choice.colour[2] - canvas.rgb[o + 2]) * a;
        if (v >= INK_THRESHOLD) owner[p] = id;
      }
    }
    // Bring the earlier digits' counts and boxes up to date.
    const area = [Math.max(0, ox), Math.max(0, oy), Math.min(width, ox + posed.width), Math.min(height, oy + posed.height)];
    drawn.forEach((d, other) => {
      if (overlapOfSmaller(d.box, area) === 0) return;
      const count = countOwned(owner, width, other, d.box);
      if (count === d.visible) return;
      d.visible = count;
      d.box = ownerBox(owner, width, other, d.box, null) ?? d.box;
    });
    const box = [ox + ink[0], oy + ink[1], ox + ink[2] + 1, oy + ink[3] + 1];
    const visible = countOwned(owner, width, id, box);
    drawn.push({
      ink: visible,
      visible,
      box,
      digit: {
        digit,
        glyph: index,
        box: [0, 0, 0, 0],
        pose: posed.pose,
        ink: choice.colour.map((c) => Math.round(c)) as Rgb,
        contrast: choice.contrast,
        lumaDelta: inkLuma - luma(under),
        outline: outline > 0,
        shadow: shadow != null,
      },
    });
  }
  const blur = random() < 0.3 ? uniform(random, 0.5, 2) : 0;
  if (blur > 0) gaussianBlur(canvas, blur);
  const noise = random() < 0.45 ? uniform(random, 2, 12) : 0;
  if (noise > 0) sensorNoise(random, canvas, noise, random() < 0.3);
  const pixels = new Uint8Array(Uint8ClampedArray.from(canvas.rgb).buffer);
  const digits = drawn.map((d, id) => {
    const box = ownerBox(owner, width, id, d.box, null);
    if (box == null) throw new Error(`renderShiftImage: digit ${id} lost all its ink`);
    return { ...d.digit, box: box as [number, number, number, number] };
  });
  return { width, height, pixels, digits, owner, quality, family, clutter: clutterCount, blur, noise };
}
