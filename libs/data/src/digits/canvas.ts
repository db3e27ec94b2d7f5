import type { Rng } from '@lumen/core';
import { randomInt, uniform } from '../random';

// Canvases of the training generator beyond its textured gradient: periodic bands, fractal
// noise, piles of filled shapes, flat colour, and stroke-like clutter. Each paints an RGB
// byte canvas (a clamped array rounds and clamps on store).

export type Rgb = [number, number, number];

const TAU = 2 * Math.PI;
export const anyColour = (random: Rng): Rgb => [random() * 255, random() * 255, random() * 255];
const mix = (a: Rgb, b: Rgb, t: number): Rgb => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];

/** A colour near `c`: each channel moved by up to ±spread. */
function near(random: Rng, c: Rgb, spread: number): Rgb {
  return c.map((v) => Math.min(255, Math.max(0, v + uniform(random, -spread, spread)))) as Rgb;
}

/** Two colours for a pattern: unrelated, or close (a faint pattern). */
function pair(random: Rng): [Rgb, Rgb] {
  const a = anyColour(random);
  return [a, random() < 0.4 ? near(random, a, 50) : anyColour(random)];
}

/** Fills every pixel with `colour`. */
export function plainCanvas(random: Rng, canvas: Uint8ClampedArray): void {
  const colour = anyColour(random);
  for (let i = 0; i < canvas.length; i += 3) {
    canvas[i] = colour[0];
    canvas[i + 1] = colour[1];
    canvas[i + 2] = colour[2];
  }
}

/** Softly clipped wave: sin scaled by `hardness` (1 smooth, large: a square wave with soft edges), in [0, 1]. */
const wave = (phase: number, hardness: number) => 0.5 + 0.5 * Math.max(-1, Math.min(1, hardness * Math.sin(phase)));

/**
 * Periodic bands between two colours: stripes at any angle, a grid of two crossed stripe
 * sets, or a checkerboard; period 4..48 px, smooth or hard-edged.
 */
export function bandsCanvas(random: Rng, canvas: Uint8ClampedArray, width: number, height: number): void {
  const [c0, c1] = pair(random);
  const kind = randomInt(random, 0, 2); // 0 stripes, 1 grid, 2 checks
  const period = Math.exp(uniform(random, Math.log(4), Math.log(48)));
  const hardness = random() < 0.6 ? uniform(random, 3, 12) : 1;
  const angle = random() * Math.PI;
  const k = TAU / period;
  const ax = Math.cos(angle) * k;
  const ay = Math.sin(angle) * k;
  const bx = -ay;
  const by = ax;
  const offset = random() * TAU;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x * ax + y * ay + offset;
      let t: number;
      if (kind === 0) t = wave(u, hardness);
      else {
        const v = x * bx + y * by + offset;
        // grid: either set's bands; checks: where the two waves agree
        const wu = wave(u, hardness);
        const wv = wave(v, hardness);
        t = kind === 1 ? Math.max(0, Math.max(wu, wv) - 0.5) * 2 : wu * wv + (1 - wu) * (1 - wv);
      }
      const o = (y * width + x) * 3;
      canvas[o] = c0[0] + (c1[0] - c0[0]) * t;
      canvas[o + 1] = c0[1] + (c1[1] - c0[1]) * t;
      canvas[o + 2] = c0[2] + (c1[2] - c0[2]) * t;
    }
  }
}

/** Random values on a (cells+1)-wide lattice, bilinearly interpolated over the canvas, in [-1, 1]. */
function lattice(random: Rng, width: number, height: number, cells: number): Float32Array {
  const gw = cells + 1;
  const gh = Math.ceil((cells * height) / width) + 1;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = random() * 2 - 1;
  const out = new Float32Array(width * height);
  const sx = cells / width;
  const sy = (gh - 1) / height;
  for (let y = 0; y < height; y++) {
    const gy = Math.min(y * sy, gh - 1.0001);
    const y0 = Math.floor(gy);
    // smoothstep weights: no visible lattice creases
    let fy = gy - y0;
    fy = fy * fy * (3 - 2 * fy);
    for (let x = 0; x < width; x++) {
      const gx = Math.min(x * sx, gw - 1.0001);
      const x0 = Math.floor(gx);
      let fx = gx - x0;
      fx = fx * fx * (3 - 2 * fx);
      const i = y0 * gw + x0;
      const top = grid[i] + (grid[i + 1] - grid[i]) * fx;
      const bottom = grid[i + gw] + (grid[i + gw + 1] - grid[i + gw]) * fx;
      out[y * width + x] = top + (bottom - top) * fy;
    }
  }
  return out;
}

/**
 * Fractal noise (lattices of 2..6 octaves, each twice as fine at a random falloff) through a
 * ramp of 2..4 colours; sometimes folded into veins (|noise|), sometimes one field per channel.
 */
export function fractalCanvas(random: Rng, canvas: Uint8ClampedArray, width: number, height: number): void {
  const octaves = randomInt(random, 2, 6);
  const falloff = uniform(random, 0.4, 0.75);
  const coarsest = randomInt(random, 2, 8);
  const field = (): Float32Array => {
    const sum = new Float32Array(width * height);
    let amplitude = 1;
    let total = 0;
    for (let o = 0; o < octaves; o++) {
      const layer = lattice(random, width, height, coarsest << o);
      for (let i = 0; i < sum.length; i++) sum[i] += layer[i] * amplitude;
      total += amplitude;
      amplitude *= falloff;
    }
    for (let i = 0; i < sum.length; i++) sum[i] = 0.5 + (0.5 * sum[i]) / (total * 0.6);
    return sum;
  };
  const veins = random() < 0.25;
  if (random() < 0.2) {
    // one field per channel: multicoloured mottling
    for (let c = 0; c < 3; c++) {
      const f = field();
      const lo = random() * 200;
      const span = uniform(random, 30, 255 - lo);
      for (let i = 0; i < f.length; i++) canvas[i * 3 + c] = lo + span * f[i];
    }
    return;
  }
  const f = field();
  const stops = Array.from({ length: randomInt(random, 2, 4) }, () => anyColour(random));
  const last = stops.length - 1;
  for (let i = 0; i < f.length; i++) {
    let t = Math.min(1, Math.max(0, f[i]));
    if (veins) t = Math.abs(2 * t - 1);
    const s = Math.min(last - 1, Math.floor(t * last));
    const c = mix(stops[s], stops[s + 1], t * last - s);
    canvas[i * 3] = c[0];
    canvas[i * 3 + 1] = c[1];
    canvas[i * 3 + 2] = c[2];
  }
}

/** A ground of one colour or a linear blend of two. */
function ground(random: Rng, canvas: Uint8ClampedArray, width: number, height: number): void {
  const [c0, c1] = random() < 0.5 ? [anyColour(random), anyColour(random)] : pair(random);
  const angle = random() * TAU;
  const dx = Math.cos(angle) / Math.max(width, height);
  const dy = Math.sin(angle) / Math.max(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = Math.min(1, Math.max(0, 0.5 + (x - width / 2) * dx + (y - height / 2) * dy));
      const o = (y * width + x) * 3;
      canvas[o] = c0[0] + (c1[0] - c0[0]) * t;
      canvas[o + 1] = c0[1] + (c1[1] - c0[1]) * t;
      canvas[o + 2] = c0[2] + (c1[2] - c0[2]) * t;
    }
  }
}

/** Blends `colour` at `alpha` over the pixels of [x0, x1) x [y0, y1) (clipped) where `inside(x + 0.5, y + 0.5)`. */
function blend(
  canvas: Uint8ClampedArray,
  width: number,
  height: number,
  colour: Rgb,
  alpha: number,
  box: [number, number, number, number],
  inside: (px: number, py: number) => boolean,
): void {
  const xa = Math.max(0, Math.floor(box[0]));
  const xb = Math.min(width, Math.ceil(box[2]));
  const ya = Math.max(0, Math.floor(box[1]));
  const yb = Math.min(height, Math.ceil(box[3]));
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      if (!inside(x + 0.5, y + 0.5)) continue;
      const o = (y * width + x) * 3;
      canvas[o] += (colour[0] - canvas[o]) * alpha;
      canvas[o + 1] += (colour[1] - canvas[o + 1]) * alpha;
      canvas[o + 2] += (colour[2] - canvas[o + 2]) * alpha;
    }
  }
}

/** A filled ellipse, rotated rectangle or triangle of about `size` px at (cx, cy). */
export function filledShape(random: Rng, canvas: Uint8ClampedArray, width: number, height: number, cx: number, cy: number, size: number, colour: Rgb, alpha: number): void {
  const kind = randomInt(random, 0, 2);
  const angle = random() * Math.PI;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const a = size * uniform(random, 0.3, 0.6);
  const b = size * uniform(random, 0.15, 0.6);
  const reach = Math.max(a, b) * 1.5;
  const box: [number, number, number, number] = [cx - reach, cy - reach, cx + reach, cy + reach];
  if (kind === 0) {
    blend(canvas, width, height, colour, alpha, box, (px, py) => {
      const u = ((px - cx) * c + (py - cy) * s) / a;
      const v = (-(px - cx) * s + (py - cy) * c) / b;
      return u * u + v * v <= 1;
    });
  } else if (kind === 1) {
    blend(canvas, width, height, colour, alpha, box, (px, py) => Math.abs((px - cx) * c + (py - cy) * s) <= a && Math.abs(-(px - cx) * s + (py - cy) * c) <= b);
  } else {
    const corners = [0, 1, 2].map((i) => {
      const t = angle + (i * TAU) / 3 + uniform(random, -0.4, 0.4);
      const r = reach * uniform(random, 0.4, 0.66);
      return [cx + r * Math.cos(t), cy + r * Math.sin(t)];
    });
    // inside when on the same side of all three edges
    const side = (p: number[], q: number[], px: number, py: number) => (q[0] - p[0]) * (py - p[1]) - (q[1] - p[1]) * (px - p[0]);
    blend(canvas, width, height, colour, alpha, box, (px, py) => {
      const d0 = side(corners[0], corners[1], px, py);
      const d1 = side(corners[1], corners[2], px, py);
      const d2 = side(corners[2], corners[0], px, py);
      return (d0 >= 0 && d1 >= 0 && d2 >= 0) || (d0 <= 0 && d1 <= 0 && d2 <= 0);
    });
  }
}

/** A ground covered by 8..60 filled shapes of log-uniform size in many colours. */
export function blobsCanvas(random: Rng, canvas: Uint8ClampedArray, width: number, height: number): void {
  ground(random, canvas, width, height);
  const count = randomInt(random, 8, 60);
  const side = Math.min(width, height);
  for (let k = 0; k < count; k++) {
    const size = Math.exp(uniform(random, Math.log(5), Math.log(side * 0.5)));
    filledShape(random, canvas, width, height, random() * width, random() * height, size, anyColour(random), uniform(random, 0.4, 1));
  }
}

/**
 * Stroke-like clutter that is not a digit, 1..5 px wide like a digit's strokes: quadratic
 * curves, arcs, zig-zags and loops. Each stroke is rasterised into a coverage mask (max of
 * its discs' coverage, so overlaps do not darken) and blended once.
 */
export function strokeClutter(random: Rng, canvas: Uint8ClampedArray, width: number, height: number, count: number): void {
  for (let k = 0; k < count; k++) {
    const colour = anyColour(random);
    const alpha = uniform(random, 0.5, 1);
    const radius = Math.exp(uniform(random, Math.log(0.6), Math.log(2.8)));
    const span = Math.exp(uniform(random, Math.log(10), Math.log(Math.max(width, height) * 0.6)));
    const x0 = random() * width;
    const y0 = random() * height;
    const kind = randomInt(random, 0, 3);
    let path: (t: number) => [number, number];
    if (kind === 0) {
      const p1 = [x0 + uniform(random, -span, span), y0 + uniform(random, -span, span)];
      const p2 = [x0 + uniform(random, -span, span), y0 + uniform(random, -span, span)];
      path = (t) => [(1 - t) * (1 - t) * x0 + 2 * t * (1 - t) * p1[0] + t * t * p2[0], (1 - t) * (1 - t) * y0 + 2 * t * (1 - t) * p1[1] + t * t * p2[1]];
    } else if (kind === 1) {
      const r = span / 2;
      const from = random() * TAU;
      const sweep = uniform(random, 1, TAU);
      const squash = uniform(random, 0.5, 1);
      path = (t) => [x0 + r * Math.cos(from + sweep * t), y0 + squash * r * Math.sin(from + sweep * t)];
    } else if (kind === 2) {
      const turns = randomInt(random, 2, 5);
      const points = [[x0, y0]];
      for (let i = 0; i < turns; i++) points.push([points[i][0] + uniform(random, -span, span) / 2, points[i][1] + uniform(random, -span, span) / 2]);
      path = (t) => {
        const f = Math.min(t * turns, turns - 1e-9);
        const i = Math.floor(f);
        const u = f - i;
        return [points[i][0] + (points[i + 1][0] - points[i][0]) * u, points[i][1] + (points[i + 1][1] - points[i][1]) * u];
      };
    } else {
      // a loop with a tail: the kind of curve a 6, 9 or 0 is made of
      const r = span / 3;
      const from = random() * TAU;
      const dir = random() < 0.5 ? 1 : -1;
      path = (t) => {
        const a = from + dir * t * 1.4 * TAU;
        const rr = r * (1 + t);
        return [x0 + rr * Math.cos(a), y0 + rr * Math.sin(a) * 1.3];
      };
    }
    // Sample densely enough that consecutive discs overlap.
    const samples: number[][] = [];
    let length = 0;
    let prev = path(0);
    for (let i = 1; i <= 64; i++) {
      const p = path(i / 64);
      length += Math.hypot(p[0] - prev[0], p[1] - prev[1]);
      prev = p;
    }
    const n = Math.max(2, Math.ceil(length / Math.max(0.5, radius * 0.5)));
    for (let i = 0; i <= n; i++) samples.push(path(i / n));
    let bx0 = Infinity;
    let by0 = Infinity;
    let bx1 = -Infinity;
    let by1 = -Infinity;
    for (const [x, y] of samples) {
      bx0 = Math.min(bx0, x);
      by0 = Math.min(by0, y);
      bx1 = Math.max(bx1, x);
      by1 = Math.max(by1, y);
    }
    const xa = Math.max(0, Math.floor(bx0 - radius - 1));
    const ya = Math.max(0, Math.floor(by0 - radius - 1));
    const xb = Math.min(width, Math.ceil(bx1 + radius + 1));
    const yb = Math.min(height, Math.ceil(by1 + radius + 1));
    if (xa >= xb || ya >= yb) continue;
    const mw = xb - xa;
    const mask = new Float32Array(mw * (yb - ya));
    for (const [sx, sy] of samples) {
      for (let y = Math.max(ya, Math.floor(sy - radius - 1)); y < Math.min(yb, Math.ceil(sy + radius + 1)); y++) {
        for (let x = Math.max(xa, Math.floor(sx - radius - 1)); x < Math.min(xb, Math.ceil(sx + radius + 1)); x++) {
          // coverage falls off over the last pixel of the radius (anti-aliased edge)
          const cover = Math.min(1, Math.max(0, radius + 0.5 - Math.hypot(x + 0.5 - sx, y + 0.5 - sy)));
          const m = (y - ya) * mw + (x - xa);
          if (cover > mask[m]) mask[m] = cover;
        }
      }
    }
    for (let y = ya; y < yb; y++) {
      for (let x = xa; x < xb; x++) {
        const a = mask[(y - ya) * mw + (x - xa)] * alpha;
        if (a <= 0) continue;
        const o = (y * width + x) * 3;
        canvas[o] += (colour[0] - canvas[o]) * a;
        canvas[o + 1] += (colour[1] - canvas[o + 1]) * a;
        canvas[o + 2] += (colour[2] - canvas[o + 2]) * a;
      }
    }
  }
}
