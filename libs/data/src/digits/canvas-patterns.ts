import type { Rng } from '@lumen/core';
import { randomInt, uniform } from '../random';

// The grounds digits are drawn on besides the textured gradient: periodic patterns, coloured
// noise fields, heaps of filled shapes and flat colour. Each writes RGB bytes into `out`
// (a clamped array rounds and clamps on store); sensor noise is the caller's.

export type PatternFamily = 'pattern' | 'field' | 'shapes' | 'flat';

type Colour = [number, number, number];

const anyColour = (random: Rng): Colour => [random() * 255, random() * 255, random() * 255];

/** A colour near `base`: each channel moved by up to `spread`. */
const near = (random: Rng, base: Colour, spread: number): Colour => base.map((v) => v + uniform(random, -spread, spread)) as Colour;

/** Two colours of a pattern: unrelated, or close (a faint pattern) half the time. */
function pair(random: Rng): [Colour, Colour] {
  const a = anyColour(random);
  return [a, random() < 0.5 ? anyColour(random) : near(random, a, uniform(random, 15, 70))];
}

/**
 * Stripes (square, sine or triangle profile) at any angle, or crossed stripes (checks and
 * grids): period 3..48 px, log-uniform, so some are finer than a digit's stroke.
 */
function pattern(random: Rng, out: Uint8ClampedArray, width: number, height: number): void {
  const [c0, c1] = pair(random);
  const period = Math.exp(uniform(random, Math.log(3), Math.log(48)));
  const angle = random() * Math.PI;
  const crossed = random() < 0.35;
  const profile = randomInt(random, 0, 2);
  const duty = uniform(random, 0.2, 0.8);
  const phase = random();
  const wave = (u: number): number => {
    const t = (((u / period + phase) % 1) + 1) % 1;
    if (profile === 0) return t < duty ? 1 : 0;
    if (profile === 1) return 0.5 + 0.5 * Math.sin(2 * Math.PI * t);
    return t < 0.5 ? 2 * t : 2 - 2 * t;
  };
  const ux = Math.cos(angle);
  const uy = Math.sin(angle);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = wave(x * ux + y * uy);
      const t = crossed ? Math.abs(a - wave(-x * uy + y * ux)) : a;
      const o = (y * width + x) * 3;
      out[o] = c0[0] + (c1[0] - c0[0]) * t;
      out[o + 1] = c0[1] + (c1[1] - c0[1]) * t;
      out[o + 2] = c0[2] + (c1[2] - c0[2]) * t;
    }
  }
}

/**
 * Fractal value noise (random lattices bilinearly interpolated, 2..5 octaves from a cell
 * of 6..80 px) mapped through 2 or 3 colours; sometimes thresholded into blotches.
 */
function field(random: Rng, out: Uint8ClampedArray, width: number, height: number): void {
  const colours = Array.from({ length: randomInt(random, 2, 3) }, () => anyColour(random));
  const octaves = randomInt(random, 2, 5);
  const baseCell = uniform(random, 6, 80);
  const blotches = random() < 0.25;
  const sum = new Float32Array(width * height);
  let weight = 0;
  for (let k = 0; k < octaves; k++) {
    const cell = Math.max(2, baseCell / 2 ** k);
    const amplitude = 0.55 ** k;
    const gw = Math.ceil(width / cell) + 2;
    const gh = Math.ceil(height / cell) + 2;
    const lattice = Float32Array.from({ length: gw * gh }, () => random());
    for (let y = 0; y < height; y++) {
      const gy = y / cell;
      const y0 = Math.floor(gy);
      const fy = gy - y0;
      for (let x = 0; x < width; x++) {
        const gx = x / cell;
        const x0 = Math.floor(gx);
        const fx = gx - x0;
        const i = y0 * gw + x0;
        const top = lattice[i] + (lattice[i + 1] - lattice[i]) * fx;
        const bottom = lattice[i + gw] + (lattice[i + gw + 1] - lattice[i + gw]) * fx;
        sum[y * width + x] += amplitude * (top + (bottom - top) * fy);
      }
    }
    weight += amplitude;
  }
  const last = colours.length - 1;
  for (let p = 0; p < sum.length; p++) {
    let t = sum[p] / weight;
    if (blotches) t = t < 0.5 ? 0 : 1;
    const s = Math.min(t * last, last - 1e-6);
    const i = Math.floor(s);
    const f = s - i;
    const a = colours[i];
    const b = colours[i + 1];
    const o = p * 3;
    out[o] = a[0] + (b[0] - a[0]) * f;
    out[o + 1] = a[1] + (b[1] - a[1]) * f;
    out[o + 2] = a[2] + (b[2] - a[2]) * f;
  }
}

/** 10..70 filled ellipses, rectangles and triangles, 4..90 px, opaque or not, on a flat ground. */
function shapes(random: Rng, out: Uint8ClampedArray, width: number, height: number): void {
  flat(random, out, width, height);
  const count = randomInt(random, 10, 70);
  for (let k = 0; k < count; k++) {
    const colour = anyColour(random);
    const alpha = random() < 0.6 ? 1 : uniform(random, 0.3, 0.9);
    const size = Math.exp(uniform(random, Math.log(4), Math.log(90)));
    const cx = random() * width;
    const cy = random() * height;
    const kind = randomInt(random, 0, 2);
    const rx = size * uniform(random, 0.4, 1);
    const ry = size * uniform(random, 0.4, 1);
    const angle = random() * Math.PI;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    // A triangle's corners, relative to its centre.
    const corners = Array.from({ length: 3 }, (_, i) => {
      const a = angle + (i * 2 * Math.PI) / 3 + uniform(random, -0.5, 0.5);
      return [Math.cos(a) * rx, Math.sin(a) * ry];
    });
    const inside = (dx: number, dy: number): boolean => {
      const u = dx * cos + dy * sin;
      const v = -dx * sin + dy * cos;
      if (kind === 0) return (u * u) / (rx * rx) + (v * v) / (ry * ry) <= 1;
      if (kind === 1) return Math.abs(u) <= rx && Math.abs(v) <= ry;
      let sign = 0;
      for (let i = 0; i < 3; i++) {
        const [ax, ay] = corners[i];
        const [bx, by] = corners[(i + 1) % 3];
        const s = Math.sign((bx - ax) * (dy - ay) - (by - ay) * (dx - ax));
        if (s !== 0 && sign !== 0 && s !== sign) return false;
        if (s !== 0) sign = s;
      }
      return true;
    };
    const reach = Math.max(rx, ry) * 1.5;
    for (let y = Math.max(0, Math.floor(cy - reach)); y < Math.min(height, Math.ceil(cy + reach)); y++) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x < Math.min(width, Math.ceil(cx + reach)); x++) {
        if (!inside(x + 0.5 - cx, y + 0.5 - cy)) continue;
        const o = (y * width + x) * 3;
        out[o] += (colour[0] - out[o]) * alpha;
        out[o + 1] += (colour[1] - out[o + 1]) * alpha;
        out[o + 2] += (colour[2] - out[o + 2]) * alpha;
      }
    }
  }
}

function flat(random: Rng, out: Uint8ClampedArray, width: number, height: number): void {
  const [r, g, b] = anyColour(random);
  for (let p = 0; p < width * height; p++) {
    out[3 * p] = r;
    out[3 * p + 1] = g;
    out[3 * p + 2] = b;
  }
}

const PAINTERS: Record<PatternFamily, (random: Rng, out: Uint8ClampedArray, width: number, height: number) => void> = { pattern, field, shapes, flat };

/** A width x height RGB canvas of `family`. */
export function patternCanvas(random: Rng, family: PatternFamily, width: number, height: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 3);
  PAINTERS[family](random, out, width, height);
  return out;
}
