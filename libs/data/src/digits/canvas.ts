import { seededRandom, type Rng } from '@lumen/core';
import { randomInt, uniform } from '../random';

// The canvases the first digits generator draws digits on. Every kind carries the image's
// sensor-like noise; clutter (render.ts) is drawn over any of them.

/** The canvas kinds renderDigitsImage draws from (RenderOptions.canvases). */
export const CANVAS_KINDS = ['gradient', 'flat', 'stripes', 'checks', 'blotches', 'shapes'] as const;
export type CanvasKind = (typeof CANVAS_KINDS)[number];

// A table of standard normal noise shared by all images (fixed seed), read at random offsets.
export const NOISE_SIZE = 1 << 16;
export const noiseTable = (() => {
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

/** Sensor-like noise: `sigma` times the shared table read from `offset` by `stride`. */
export interface Noise {
  sigma: number;
  offset: number;
  stride: number;
}

export const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
export const luminance = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;
export const randomColour = (random: Rng): [number, number, number] => [random() * 255, random() * 255, random() * 255];

/** A second colour for a two-colour canvas: often near the first in luminance, so only hue or a little shade tells them apart. */
function partner(random: Rng, c0: number[]): number[] {
  const c1 = randomColour(random);
  if (random() < 0.5) return c1;
  const shift = luminance(c0[0], c0[1], c0[2]) + uniform(random, -40, 40) - luminance(c1[0], c1[1], c1[2]);
  return c1.map((v) => clamp255(v + shift));
}

/**
 * Fills the canvas with `colourAt(x, y)` per pixel (written into `rgb`) plus the noise, as
 * bytes (a clamped array rounds and clamps on store).
 */
function paintCanvas(width: number, height: number, noise: Noise, colourAt: (x: number, y: number, rgb: Float32Array) => void): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 3);
  const { sigma, stride } = noise;
  const mask = NOISE_SIZE - 1;
  const rgb = new Float32Array(3);
  let j = noise.offset;
  for (let y = 0, o = 0; y < height; y++) {
    for (let x = 0; x < width; x++, o += 3) {
      colourAt(x, y, rgb);
      for (let c = 0; c < 3; c++) {
        out[o + c] = rgb[c] + sigma * noiseTable[j];
        j = (j + stride) & mask;
      }
    }
  }
  return out;
}

/** Gradient between two colours plus low-frequency texture. */
function gradient(random: Rng, width: number, height: number, noise: Noise): Uint8ClampedArray {
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

function flat(random: Rng, width: number, height: number, noise: Noise): Uint8ClampedArray {
  const c = randomColour(random);
  return paintCanvas(width, height, noise, (_x, _y, rgb) => rgb.set(c));
}

/**
 * Two colours alternating along a rotated axis (stripes) or both axes (checks), with edges
 * softened over `soft` px so thin periods do not alias.
 */
function periodic(random: Rng, width: number, height: number, noise: Noise, checks: boolean): Uint8ClampedArray {
  const c0 = randomColour(random);
  const c1 = partner(random, c0);
  const period = Math.exp(uniform(random, Math.log(4), Math.log(60)));
  const duty = uniform(random, 0.25, 0.75);
  const soft = uniform(random, 0.5, Math.max(0.6, period / 6));
  const angle = random() * Math.PI;
  const ux = Math.cos(angle);
  const uy = Math.sin(angle);
  const phase = random() * period;
  // 1 inside the first colour's band, 0 in the second's, linear across `soft` px at each edge.
  const band = (u: number) => {
    const p = (((u + phase) % period) + period) % period;
    const w = duty * period;
    const signed = p < w ? Math.min(p, w - p) : -Math.min(p - w, period - p);
    return Math.min(1, Math.max(0, 0.5 + signed / soft));
  };
  return paintCanvas(width, height, noise, (x, y, rgb) => {
    const a = band(x * ux + y * uy);
    const t = checks ? a * band(-x * uy + y * ux) + (1 - a) * (1 - band(-x * uy + y * ux)) : a;
    for (let c = 0; c < 3; c++) rgb[c] = c1[c] + (c0[c] - c1[c]) * t;
  });
}

/** Coloured blotches: a fine grid of random colours (cells 3..24 px), bilinearly upsampled. */
function blotches(random: Rng, width: number, height: number, noise: Noise): Uint8ClampedArray {
  const cell = uniform(random, 3, 24);
  const base = randomColour(random);
  const spread = uniform(random, 30, 128);
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = new Float32Array(gw * gh * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = base[i % 3] + (random() * 2 - 1) * spread;
  return paintCanvas(width, height, noise, (x, y, rgb) => {
    const gx = x / cell;
    const gy = y / cell;
    const x0 = Math.floor(gx);
    const y0 = Math.floor(gy);
    const fx = gx - x0;
    const fy = gy - y0;
    for (let c = 0; c < 3; c++) {
      const i = (y0 * gw + x0) * 3 + c;
      const top = grid[i] + (grid[i + 3] - grid[i]) * fx;
      const bottom = grid[i + gw * 3] + (grid[i + gw * 3 + 3] - grid[i + gw * 3]) * fx;
      rgb[c] = top + (bottom - top) * fy;
    }
  });
}

/** A flat colour covered by opaque filled rectangles, discs and triangles of other colours. */
function shapes(random: Rng, width: number, height: number, noise: Noise): Uint8ClampedArray {
  const base = randomColour(random);
  const count = randomInt(random, 4, 30);
  const side = Math.min(width, height);
  const items = Array.from({ length: count }, () => {
    const kind = randomInt(random, 0, 2);
    const cx = random() * width;
    const cy = random() * height;
    const r = uniform(random, side / 30, side / 4);
    const angle = random() * 2 * Math.PI;
    return { kind, cx, cy, r, angle, colour: random() < 0.5 ? partner(random, base) : randomColour(random) };
  });
  return paintCanvas(width, height, noise, (x, y, rgb) => {
    let colour: number[] = base;
    for (const s of items) {
      const dx = x - s.cx;
      const dy = y - s.cy;
      if (Math.abs(dx) > s.r || Math.abs(dy) > s.r) continue;
      const u = dx * Math.cos(s.angle) + dy * Math.sin(s.angle);
      const v = -dx * Math.sin(s.angle) + dy * Math.cos(s.angle);
      // Rectangle r x r/2, disc of radius r, triangle inscribed in the disc.
      const inside =
        s.kind === 0 ? Math.abs(u) <= s.r * 0.9 && Math.abs(v) <= s.r * 0.45 : s.kind === 1 ? u * u + v * v <= s.r * s.r : v >= -s.r / 2 && Math.abs(u) <= (v + s.r / 2) / Math.sqrt(3);
      if (inside) colour = s.colour;
    }
    rgb.set(colour);
  });
}

/** A canvas of the given kind (bytes, RGB HWC). */
export function drawCanvas(kind: CanvasKind, random: Rng, width: number, height: number, noise: Noise): Uint8ClampedArray {
  switch (kind) {
    case 'gradient':
      return gradient(random, width, height, noise);
    case 'flat':
      return flat(random, width, height, noise);
    case 'stripes':
      return periodic(random, width, height, noise, false);
    case 'checks':
      return periodic(random, width, height, noise, true);
    case 'blotches':
      return blotches(random, width, height, noise);
    case 'shapes':
      return shapes(random, width, height, noise);
  }
}
