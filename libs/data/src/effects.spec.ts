import { seededRandom } from '@lumen/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { LUMA, renderImage, renderResized, type RenderPlan } from './decode';
import { addNoise, CHANNEL_PERMUTATIONS, mixMatrix, overlayPattern, type PatternPlan } from './effects';
import { FIXTURES } from './testing/helpers';

const fixture = (name: string) => readFileSync(join(FIXTURES, 'images', name));
// pattern.jpg is 3-band sRGB (colour ops in sharp's one pipeline); grey.png and rgba.png are not (a second pipeline).
const pattern = { data: fixture('pattern.jpg'), source: { width: 40, height: 30, channels: 3, space: 'srgb' } };
const grey = { data: fixture('grey.png'), source: { width: 16, height: 8, channels: 1, space: 'b-w' } };
const rgba = { data: fixture('rgba.png'), source: { width: 16, height: 8, channels: 4, space: 'srgb' } };
const identity = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];

const render = (image: typeof pattern, effects: Partial<RenderPlan> = {}, scale = 1) =>
  renderImage(image.data, { source: image.source, width: image.source.width * scale, height: image.source.height * scale, flip: false, ...effects });
const raw = (pixels: Uint8Array, width: number, height: number) => sharp(pixels, { raw: { width, height, channels: 3 } });

function variance(values: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i] - mean) ** 2;
  return { mean, variance: squares / values.length };
}

describe('mixMatrix', () => {
  it('is null without grey or shuffle; grey rows are the luma; a shuffle picks channels', () => {
    expect(mixMatrix(false)).toBeNull();
    expect(mixMatrix(true)).toEqual([LUMA, LUMA, LUMA].map((row) => [...row]));
    expect(mixMatrix(false, [2, 0, 1])).toEqual([identity[2], identity[0], identity[1]]);
  });
});

describe('renderImage grayscale, channel shuffle, invert', () => {
  it.each([
    ['3-band sRGB', pattern, undefined],
    ['grey', grey, undefined],
    ['RGBA', rgba, undefined],
    ['3-band sRGB with the colour plan, upscaled', pattern, { matrix: identity, contrast: 0.8 }],
  ] as const)('grayscale gives R = G = B, the luma of the colours (%s)', async (_, image, colour) => {
    const plain = await render(image, { colour }, colour ? 2 : 1);
    const out = await render(image, { grayscale: true, colour }, colour ? 2 : 1);
    for (let i = 0; i < out.length; i += 3) {
      expect(out[i + 1]).toBe(out[i]);
      expect(out[i + 2]).toBe(out[i]);
      expect(Math.abs(out[i] - (LUMA[0] * plain[i] + LUMA[1] * plain[i + 1] + LUMA[2] * plain[i + 2]))).toBeLessThanOrEqual(1.5);
    }
  });

  it.each([
    ['3-band sRGB', pattern],
    ['grey', grey],
    ['RGBA', rgba],
  ] as const)('inverting twice is the identity (%s)', async (_, image) => {
    const plain = await render(image);
    const once = await render(image, { invert: true });
    for (let i = 0; i < once.length; i++) expect(once[i]).toBe(255 - plain[i]);
    const png = await raw(once, image.source.width, image.source.height).png().toBuffer();
    const twice = await renderImage(png, { source: { width: image.source.width, height: image.source.height }, width: image.source.width, height: image.source.height, flip: false, invert: true });
    expect(Buffer.from(twice).equals(Buffer.from(plain))).toBe(true);
  });

  it('a channel shuffle is a permutation of every pixel, and never the identity', async () => {
    const plain = await render(pattern);
    for (const channels of CHANNEL_PERMUTATIONS) {
      expect(channels).not.toEqual([0, 1, 2]);
      for (const image of [pattern, rgba]) {
        const reference = await render(image);
        const out = await render(image, { channels });
        let [wrong, unlike, moved] = [0, 0, 0];
        for (let i = 0; i < out.length; i += 3) {
          if (channels.some((k, c) => out[i + c] !== reference[i + k])) wrong++;
          if (String([...out.subarray(i, i + 3)].sort()) !== String([...reference.subarray(i, i + 3)].sort())) unlike++;
          if (out[i] !== reference[i] || out[i + 1] !== reference[i + 1]) moved++;
        }
        expect([wrong, unlike]).toEqual([0, 0]); // channel k is channel channels[k]; each pixel's values, reordered
        if (image === pattern) expect(moved).toBeGreaterThan(0);
      }
    }
    expect(plain.length).toBe(40 * 30 * 3);
  });
});

describe('renderImage blur, noise, JPEG', () => {
  const checkerboard = async () => {
    const [width, height] = [32, 32];
    const data = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.fill(((x >> 2) + (y >> 2)) % 2 === 0 ? 230 : 20, (y * width + x) * 3, (y * width + x) * 3 + 3);
    return { data: await raw(data, width, height).png().toBuffer(), source: { width, height, channels: 3, space: 'srgb' } };
  };

  it('a blur lowers a checkerboard variance, the more the larger sigma', async () => {
    const board = await checkerboard();
    const plain = variance(await render(board)).variance;
    const light = variance(await render(board, { blur: 0.6 })).variance;
    const heavy = variance(await render(board, { blur: 2 })).variance;
    expect(light).toBeLessThan(plain);
    expect(heavy).toBeLessThan(light / 2);
    // sharp's own blur, on the same pixels.
    const direct = await sharp(board.data).blur(2).removeAlpha().raw().toBuffer();
    expect(Buffer.from(await render(board, { blur: 2 })).equals(direct)).toBe(true);
  });

  it.each([10, 50, 90])('JPEG at quality %i gives the bytes sharp gives for it', async (quality) => {
    for (const image of [pattern, rgba]) {
      const plain = await render(image, {}, 2);
      const [width, height] = [image.source.width * 2, image.source.height * 2];
      const expected = await sharp(await raw(plain, width, height).jpeg({ quality }).toBuffer()).raw().toBuffer();
      const out = await render(image, { jpeg: quality }, 2);
      expect(out.length).toBe(width * height * 3);
      expect(Buffer.from(out).equals(expected)).toBe(true);
    }
  });

  it("noise on a flat grey image has sigma's standard deviation and mean zero, seeded", () => {
    for (const sigma of [2, 8, 25]) {
      const pixels = new Uint8Array(300 * 300 * 3).fill(128);
      addNoise(pixels, sigma, 42);
      const { mean, variance: v } = variance(pixels);
      expect(Math.abs(mean - 128)).toBeLessThan(0.1);
      expect(Math.abs(Math.sqrt(v - 1 / 12) - sigma) / sigma).toBeLessThan(0.02); // rounding adds 1/12
    }
    const a = new Uint8Array(3000).fill(128);
    const b = new Uint8Array(3000).fill(128);
    const c = new Uint8Array(3000).fill(128);
    addNoise(a, 5, 1);
    addNoise(b, 5, 1);
    addNoise(c, 5, 2);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  it('noise is clamped to [0, 255], not wrapped', () => {
    const high = new Uint8Array(30000).fill(250);
    const low = new Uint8Array(30000).fill(5);
    addNoise(high, 30, 3);
    addNoise(low, 30, 3);
    expect(Math.max(...high)).toBe(255);
    expect(Math.min(...high)).toBeGreaterThan(100);
    expect(Math.min(...low)).toBe(0);
    expect(Math.max(...low)).toBeLessThan(155);
  });

  it('renders noise after the sharp steps and before JPEG: the same seed gives the same bytes', async () => {
    const a = await render(pattern, { noise: { sigma: 6, seed: 9 }, jpeg: 70 });
    const b = await render(pattern, { noise: { sigma: 6, seed: 9 }, jpeg: 70 });
    const c = await render(pattern, { noise: { sigma: 6, seed: 10 }, jpeg: 70 });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
    const noisy = await render(pattern, { noise: { sigma: 6, seed: 9 } });
    const expected = await sharp(await raw(noisy, 40, 30).jpeg({ quality: 70 }).toBuffer()).raw().toBuffer();
    expect(Buffer.from(a).equals(expected)).toBe(true);
  });
});

describe('overlayPattern', () => {
  const [width, height] = [64, 48];
  /** Distance in periods from t to the nearest multiple of `step`. */
  const offEdge = (t: number, step: number) => Math.min(t - Math.floor(t / step) * step, Math.ceil(t / step) * step - t);

  // The same pattern drawn another way: as SVG rectangles in the pattern's own coordinates,
  // placed by a transform, rasterised by librsvg through sharp.
  async function drawnBySvg(plan: PatternPlan): Promise<Uint8Array> {
    const n = Math.ceil((width + height) / plan.period) + 2;
    const rects: string[] = [];
    for (let i = -n; i <= n; i++) {
      if (plan.kind === 'stripes') rects.push(`<rect x="${i}" y="${-n}" width="0.5" height="${2 * n}"/>`);
      else for (let j = -n; j <= n; j++) if (((i + j) & 1) === 1) rects.push(`<rect x="${i}" y="${j}" width="1" height="1"/>`);
    }
    const degrees = (plan.angle * 180) / Math.PI;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="black"/><g fill="white" transform="rotate(${degrees}) scale(${plan.period}) translate(${-plan.phase[0]} ${-plan.phase[1]})">${rects.join('')}</g></svg>`;
    const raw = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer();
    return new Uint8Array(raw);
  }

  it.each([
    ['stripes', 0, 8, [0, 0]],
    ['stripes', 0.7, 5.5, [0.3, 0]],
    ['stripes', 2.4, 13, [0.9, 0.2]],
    ['checks', 0, 8, [0, 0]],
    ['checks', 0.4, 9.5, [0.25, 0.6]],
    ['checks', 2.9, 6, [0.5, 0.1]],
  ] as const)('%s at %f rad, period %f, phase %j: covers the pixels an SVG drawing of the pattern fills', async (kind, angle, period, phase) => {
    const plan: PatternPlan = { kind, angle, period, phase: [phase[0], phase[1]], colour: [255, 255, 255], alpha: 1 };
    const ours = new Uint8Array(width * height * 3);
    overlayPattern(ours, width, height, plan);
    const reference = await drawnBySvg(plan);
    let compared = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const [cx, cy] = [x + 0.5, y + 0.5];
        const u = (cx * Math.cos(angle) + cy * Math.sin(angle)) / period + phase[0];
        const v = (cy * Math.cos(angle) - cx * Math.sin(angle)) / period + phase[1];
        // Anti-aliased edges differ: only pixels more than one pixel from every edge count.
        const clear = kind === 'stripes' ? offEdge(u, 0.5) * period > 1 : Math.min(offEdge(u, 1), offEdge(v, 1)) * period > 1;
        if (!clear) continue;
        const o = (y * width + x) * 3;
        expect([x, y, ours[o]]).toEqual([x, y, reference[o] >= 128 ? 255 : 0]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(width * height * 0.2);
  });

  it('blends the colour at alpha over covered pixels only (about half of them), rounded, in range', () => {
    const random = seededRandom(5);
    const before = Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256));
    for (const kind of ['stripes', 'checks'] as const) {
      const plan: PatternPlan = { kind, angle: 1.1, period: 7, phase: [0.4, 0.8], colour: [250, 3, 128], alpha: 0.45 };
      const covered = new Uint8Array(width * height * 3).fill(0);
      overlayPattern(covered, width, height, { ...plan, colour: [255, 255, 255], alpha: 1 });
      const after = before.slice();
      overlayPattern(after, width, height, plan);
      let count = 0;
      for (let p = 0; p < width * height; p++) {
        const o = p * 3;
        const on = covered[o] === 255;
        if (on) count++;
        for (let c = 0; c < 3; c++) expect(after[o + c]).toBe(on ? Math.round(before[o + c] + 0.45 * (plan.colour[c] - before[o + c])) : before[o + c]);
      }
      expect(Math.abs(count / (width * height) - 0.5)).toBeLessThan(0.08);
    }
  });
});

describe("renderResized 'torchvision'", () => {
  it('applies every effect to the bytes before the bilinear resize: floats in [0, 1]', async () => {
    const effects: Partial<RenderPlan> = { rotate: 12, grayscale: true, invert: true, blur: 0.8, noise: { sigma: 40, seed: 4 }, jpeg: 30, colour: { matrix: identity, contrast: 1.5 } };
    const plan = { source: pattern.source, flip: true, ...effects };
    const floats = await renderResized(pattern.data, plan, { width: 40, height: 30 }, 'torchvision');
    const bytes = await renderImage(pattern.data, { ...plan, width: 40, height: 30 });
    expect(floats).toBeInstanceOf(Float32Array);
    let worst = 0;
    for (let i = 0; i < floats.length; i++) worst = Math.max(worst, Math.abs(floats[i] - bytes[i] / 255));
    expect(worst).toBeLessThan(1e-6); // same size: the bytes / 255
    const up = await renderResized(pattern.data, plan, { width: 90, height: 67 }, 'torchvision');
    expect(up.length).toBe(90 * 67 * 3);
    expect([Math.min(...up), Math.max(...up)].every((v) => v >= 0 && v <= 1)).toBe(true);
  });
});
