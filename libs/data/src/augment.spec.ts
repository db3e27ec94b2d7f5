import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CROP_ATTEMPTS, colourMatrix, planAugmentation, type AugmentConfig } from './augment';
import { LUMA } from './decode';
import { CHANNEL_PERMUTATIONS } from './effects';
import { decodeExample } from './pipeline';
import { seededRandom } from '@lumen/core';
import { FIXTURES, meanColour, tempDir, testConfig, truncatedJpeg } from './testing/helpers';
import type { Example } from './types';
import { assertStreamConfig } from './validate';

const none: AugmentConfig = {
  flip: 0,
  scaleJitter: { prob: 0, minSizes: [] },
  photometric: { prob: 0, brightness: 0.2, contrast: 0.3, saturation: 0.3, hue: 0.05 },
  crop: { prob: 0, minScale: 0.5, minBoxVisible: 0.6 },
};
const all: AugmentConfig = {
  flip: 0.5,
  scaleJitter: { prob: 1, minSizes: [40, 48, 56] },
  photometric: { prob: 1, brightness: 0.2, contrast: 0.3, saturation: 0.3, hue: 0.05 },
  crop: { prob: 1, minScale: 0.3, minBoxVisible: 0.6 },
};
const rule = { minSize: 48, maxSize: 96 };
const apply = (m: number[][], rgb: number[]) => m.map((row) => row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2]);

describe('colourMatrix', () => {
  it('is the identity at brightness 1, saturation 1, hue 0', () => {
    const m = colourMatrix(1, 1, 0);
    m.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(r === c ? 1 : 0, 12)));
  });

  it('keeps greys grey (saturation and hue act on colour only) and scales by brightness', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.5, max: 1.5, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: -0.5, max: 0.5, noNaN: true }), fc.integer({ min: 0, max: 255 }), (b, s, h, v) => {
        const out = apply(colourMatrix(b, s, h), [v, v, v]);
        for (const channel of out) expect(channel).toBeCloseTo(b * v, 6);
      }),
    );
  });

  it('saturation 0 gives the ITU-R 601 grey', () => {
    const out = apply(colourMatrix(1, 0, 0), [200, 100, 50]);
    const grey = LUMA[0] * 200 + LUMA[1] * 100 + LUMA[2] * 50;
    for (const channel of out) expect(channel).toBeCloseTo(grey, 9);
  });

  it('a full hue turn is the identity; half a turn moves red away from red', () => {
    const m = colourMatrix(1, 1, 1);
    m.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(r === c ? 1 : 0, 6)));
    const red = apply(colourMatrix(1, 1, 0.5), [255, 0, 0]);
    expect(red[0]).toBeLessThan(red[1]);
  });
});

describe('planAugmentation', () => {
  const source = { width: 64, height: 48 };
  const boxes = Float32Array.from([4, 5, 30, 40, 40, 10, 60, 45]);

  it('does nothing at probability 0', () => {
    fc.assert(fc.property(fc.integer(), (seed) => expect(planAugmentation(seededRandom(seed), none, rule, source, boxes)).toEqual({ minSize: 48, flip: false })));
  });

  it('is a function of the generator: the same seed gives the same plan', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(planAugmentation(seededRandom(seed), all, rule, source, boxes)).toEqual(planAugmentation(seededRandom(seed), all, rule, source, boxes));
      }),
    );
  });

  it('draws jittered sizes from the list, factors from their ranges, crops inside the image keeping a box', () => {
    const flips = new Set<boolean>();
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const plan = planAugmentation(seededRandom(seed), all, rule, source, boxes);
        flips.add(plan.flip);
        expect(all.scaleJitter.minSizes).toContain(plan.minSize);
        const colour = plan.colour;
        if (colour == null) throw new Error('photometric prob 1 must plan colour');
        expect(Math.abs(colour.brightness - 1)).toBeLessThanOrEqual(0.2);
        expect(Math.abs(colour.contrast - 1)).toBeLessThanOrEqual(0.3);
        expect(Math.abs(colour.saturation - 1)).toBeLessThanOrEqual(0.3);
        expect(Math.abs(colour.hue)).toBeLessThanOrEqual(0.05);
        if (plan.crop != null) {
          const c = plan.crop;
          expect(c.left).toBeGreaterThanOrEqual(0);
          expect(c.top).toBeGreaterThanOrEqual(0);
          expect(c.left + c.width).toBeLessThanOrEqual(64);
          expect(c.top + c.height).toBeLessThanOrEqual(48);
          expect(c.width).toBeGreaterThanOrEqual(Math.round(0.3 * 64));
        }
      }),
    );
    expect(flips).toEqual(new Set([true, false]));
  });

  it(`gives up the crop after ${CROP_ATTEMPTS} windows that keep no box`, () => {
    // A box no window of a tenth of the image can keep 60% of.
    const crop = { ...all, crop: { prob: 1, minScale: 0.1, minBoxVisible: 0.99 } };
    const wide = Float32Array.from([0, 0, 64, 48]);
    let uncropped = 0;
    for (let seed = 0; seed < 50; seed++) if (planAugmentation(seededRandom(seed), crop, rule, source, wide).crop == null) uncropped++;
    expect(uncropped).toBeGreaterThan(40);
  });
});

describe('decodeExample', () => {
  const example: Example = {
    id: '000001',
    imagePath: join(FIXTURES, 'voc', 'JPEGImages', '000001.jpg'),
    width: 64,
    height: 48,
    boxes: Float32Array.from([4, 5, 30, 40, 19, 9, 60, 45]),
    labels: Int32Array.from([2, 1]),
    difficult: Uint8Array.from([0, 1]),
  };

  it('without augmentation resizes image and boxes by the rule', async () => {
    const out = await decodeExample(example, 3, rule, null, null);
    expect([out.width, out.height, out.scale, out.originalWidth, out.originalHeight, out.index]).toEqual([64, 48, 1, 64, 48, 3]);
    expect(Array.from(out.boxes)).toEqual(Array.from(example.boxes));
    const big = await decodeExample(example, 0, { minSize: 96, maxSize: 1000 }, null, null);
    expect([big.width, big.height, big.scale]).toEqual([128, 96, 2]);
    expect(Array.from(big.boxes)).toEqual(Array.from(example.boxes).map((v) => v * 2));
    expect(big.labels).not.toBe(example.labels); // a copy: the consumer may keep it
  });

  it('flips pixels and boxes together', async () => {
    const flip = { ...none, flip: 1 };
    const out = await decodeExample(example, 0, rule, flip, seededRandom(1));
    expect(Array.from(out.boxes)).toEqual([34, 5, 60, 40, 4, 9, 45, 45]);
    expect(meanColour(out.pixels, 64, 4, 20, 28, 44)[2]).toBeGreaterThan(180); // blue on the left
  });

  it('keeps boxes inside the output image, with labels and flags of the boxes kept, for any seed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const out = await decodeExample(example, 0, rule, all, seededRandom(seed));
        expect(out.pixels.length).toBe(out.width * out.height * 3);
        expect(out.labels.length * 4).toBe(out.boxes.length);
        expect(out.difficult.length).toBe(out.labels.length);
        expect(out.labels.length).toBeGreaterThanOrEqual(1); // the crop keeps a box
        for (let i = 0; i < out.boxes.length; i += 4) {
          const [x1, y1, x2, y2] = out.boxes.subarray(i, i + 4);
          expect(x1).toBeGreaterThanOrEqual(0);
          expect(y1).toBeGreaterThanOrEqual(0);
          expect(x2).toBeLessThanOrEqual(out.width);
          expect(y2).toBeLessThanOrEqual(out.height);
          expect(x2).toBeGreaterThan(x1);
          expect(y2).toBeGreaterThan(y1);
        }
        for (let i = 0; i < out.labels.length; i++) expect(out.difficult[i]).toBe(out.labels[i] === 1 ? 1 : 0);
      }),
      { numRuns: 30 },
    );
  });

  it('the same seed gives the same pixels and boxes', async () => {
    const a = await decodeExample(example, 0, rule, all, seededRandom(7));
    const b = await decodeExample(example, 0, rule, all, seededRandom(7));
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    expect(Array.from(a.boxes)).toEqual(Array.from(b.boxes));
  });

  it('reports a size disagreeing with the annotation, and an unreadable image', async () => {
    await expect(decodeExample({ ...example, width: 48, height: 64 }, 0, rule, null, null)).rejects.toMatchObject({
      reason: 'bad-image-size',
      message: 'the annotation gives 48x64 but the image (EXIF orientation applied) is 64x48',
    });
    await expect(decodeExample({ ...example, imagePath: join(FIXTURES, 'voc', 'JPEGImages', '000004.jpg') }, 0, rule, null, null)).rejects.toMatchObject({
      reason: 'undecodable-image',
    });
  });

  it('rejects a truncated image even when the crop drawn lies in its intact rows', async () => {
    const tmp = tempDir();
    try {
      const path = join(tmp.dir, 'cut.jpg');
      const jpeg = await truncatedJpeg();
      writeFileSync(path, jpeg.cut);
      const cut: Example = { id: 'cut', imagePath: path, width: 640, height: 480, boxes: Float32Array.of(10, 10, 100, 100), labels: Int32Array.of(1), difficult: Uint8Array.of(0) };
      const low = () => 0.01; // the smallest window, at the top left: above the cut halfway down
      const crop = planAugmentation(low, all, rule, { width: 640, height: 480 }, cut.boxes).crop;
      expect(crop != null && crop.top + crop.height < 200).toBe(true);
      await expect(decodeExample(cut, 0, rule, all, low)).rejects.toMatchObject({
        reason: 'undecodable-image',
        message: `pixels do not decode: the JPEG is truncated: its ${jpeg.cut.length} bytes end before an end-of-image marker`,
      });
    } finally {
      tmp.remove();
    }
  });
});

describe('the augmentations drawn after the crop', () => {
  const later: Partial<AugmentConfig> = {
    rotate: { prob: 1, degrees: 20, minBoxVisible: 0.3 },
    grayscale: { prob: 0.5 },
    channelShuffle: { prob: 0.5 },
    invert: { prob: 0.5 },
    blur: { prob: 1, sigma: [0.5, 1.5] },
    noise: { prob: 1, sigma: [2, 6] },
    jpeg: { prob: 1, quality: [30, 90] },
    pattern: { prob: 0.5, period: [4, 20], alpha: [0.2, 0.6] },
  };
  const off: Partial<AugmentConfig> = {
    rotate: { prob: 0, degrees: 20, minBoxVisible: 0.3 },
    grayscale: { prob: 0 },
    channelShuffle: { prob: 0 },
    invert: { prob: 0 },
    blur: { prob: 0, sigma: [0.5, 1.5] },
    noise: { prob: 0, sigma: [2, 6] },
    jpeg: { prob: 0, quality: [30, 90] },
    pattern: { prob: 0, period: [4, 20], alpha: [0.2, 0.6] },
  };
  const source = { width: 64, height: 48 };
  const boxes = Float32Array.from([4, 5, 30, 40, 40, 10, 60, 45]);

  it('leave flip, scale jitter, photometric and crop as a seed drew them before', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const before = planAugmentation(seededRandom(seed), all, rule, source, boxes);
        const { minSize, flip, crop, colour } = planAugmentation(seededRandom(seed), { ...all, ...later }, rule, source, boxes);
        expect({ minSize, flip, crop, colour }).toEqual(before);
      }),
    );
  });

  it('plan nothing at probability 0, as when left out', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        expect(planAugmentation(seededRandom(seed), { ...all, ...off }, rule, source, boxes)).toEqual(planAugmentation(seededRandom(seed), all, rule, source, boxes));
      }),
    );
  });

  it('draw their values from their ranges', () => {
    const seen = { grayscale: new Set<boolean>(), invert: new Set<boolean>(), channels: new Set<string>(), pattern: new Set<string>() };
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const plan = planAugmentation(seededRandom(seed), { ...all, ...later }, rule, source, boxes);
        expect(Math.abs(plan.rotate as number)).toBeLessThanOrEqual(20);
        expect(plan.blur).toBeGreaterThanOrEqual(0.5);
        expect(plan.blur).toBeLessThanOrEqual(1.5);
        expect(plan.noise?.sigma).toBeGreaterThanOrEqual(2);
        expect(plan.noise?.sigma).toBeLessThanOrEqual(6);
        expect(Number.isInteger(plan.noise?.seed) && (plan.noise?.seed as number) >= 0 && (plan.noise?.seed as number) < 2 ** 32).toBe(true);
        expect(Number.isInteger(plan.jpeg) && (plan.jpeg as number) >= 30 && (plan.jpeg as number) <= 90).toBe(true);
        if (plan.channels != null) expect(CHANNEL_PERMUTATIONS).toContainEqual(plan.channels);
        const pattern = plan.pattern;
        if (pattern != null) {
          expect(pattern.period).toBeGreaterThanOrEqual(4);
          expect(pattern.period).toBeLessThanOrEqual(20);
          expect(pattern.alpha).toBeGreaterThanOrEqual(0.2);
          expect(pattern.alpha).toBeLessThanOrEqual(0.6);
          expect(pattern.angle >= 0 && pattern.angle < Math.PI).toBe(true);
          expect(pattern.colour.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)).toBe(true);
        }
        seen.pattern.add(pattern?.kind ?? 'none');
        seen.grayscale.add(plan.grayscale === true);
        seen.invert.add(plan.invert === true);
        seen.channels.add(String(plan.channels));
      }),
      { numRuns: 300 },
    );
    expect(seen.grayscale.size).toBe(2);
    expect(seen.invert.size).toBe(2);
    expect(seen.channels.size).toBe(CHANNEL_PERMUTATIONS.length + 1); // the five, and none
    expect([...seen.pattern].sort()).toEqual(['checks', 'none', 'stripes']);
  });

  const example: Example = {
    id: '000001',
    imagePath: join(FIXTURES, 'voc', 'JPEGImages', '000001.jpg'),
    width: 64,
    height: 48,
    boxes: Float32Array.from([4, 5, 30, 40, 19, 9, 60, 45]),
    labels: Int32Array.from([2, 1]),
    difficult: Uint8Array.from([0, 1]),
  };
  const same = (a: { pixels: Uint8Array | Float32Array; boxes: Float32Array }, b: { pixels: Uint8Array | Float32Array; boxes: Float32Array }) =>
    Buffer.from(a.pixels.buffer, a.pixels.byteOffset, a.pixels.byteLength).equals(Buffer.from(b.pixels.buffer, b.pixels.byteOffset, b.pixels.byteLength)) &&
    Buffer.from(a.boxes.buffer).equals(Buffer.from(b.boxes.buffer));

  it.each(['sharp', 'torchvision'] as const)('at probability 0 give the bytes and boxes of a config without them (%s)', async (resize) => {
    for (let seed = 0; seed < 12; seed++) {
      const without = await decodeExample(example, 0, { ...rule, resize }, all, seededRandom(seed));
      const zero = await decodeExample(example, 0, { ...rule, resize }, { ...all, ...off }, seededRandom(seed));
      expect(same(without, zero)).toBe(true);
    }
  });

  it.each(['sharp', 'torchvision'] as const)('are seeded: the same seed gives the same bytes, others differ; pixels stay in range (%s)', async (resize) => {
    const every = { ...all, ...later };
    const outputs = [];
    for (let seed = 0; seed < 6; seed++) {
      const a = await decodeExample(example, 0, { ...rule, resize }, every, seededRandom(seed));
      const b = await decodeExample(example, 0, { ...rule, resize }, every, seededRandom(seed));
      expect(same(a, b)).toBe(true);
      if (resize === 'torchvision') expect([Math.min(...a.pixels), Math.max(...a.pixels)].every((v) => v >= 0 && v <= 1)).toBe(true);
      expect(a.pixels.length).toBe(a.width * a.height * 3);
      expect(a.labels.length * 4).toBe(a.boxes.length);
      for (let i = 0; i < a.boxes.length; i += 4) {
        expect(a.boxes[i]).toBeGreaterThanOrEqual(0);
        expect(a.boxes[i + 1]).toBeGreaterThanOrEqual(0);
        expect(a.boxes[i + 2]).toBeLessThanOrEqual(a.width);
        expect(a.boxes[i + 3]).toBeLessThanOrEqual(a.height);
      }
      outputs.push(a);
    }
    for (let i = 0; i < outputs.length; i++) for (let j = i + 1; j < outputs.length; j++) expect(same(outputs[i], outputs[j])).toBe(false);
  });

  it.each([
    ['rotate', { rotate: { prob: 1, degrees: 20, minBoxVisible: 0.3 } }],
    ['channelShuffle', { channelShuffle: { prob: 1 } }],
    ['blur', { blur: { prob: 1, sigma: [0.3, 3] } }],
    ['noise', { noise: { prob: 1, sigma: [2, 6] } }],
    ['jpeg', { jpeg: { prob: 1, quality: [5, 95] } }],
  ] as const)('%s alone: the same seed gives the same bytes, another seed other bytes', async (_, key) => {
    const config = { ...none, ...key } as AugmentConfig;
    const a = await decodeExample(example, 0, rule, config, seededRandom(1));
    const b = await decodeExample(example, 0, rule, config, seededRandom(1));
    expect(same(a, b)).toBe(true);
    let differ = 0;
    for (let seed = 2; seed < 8; seed++) if (!same(a, await decodeExample(example, 0, rule, config, seededRandom(seed)))) differ++;
    expect(differ).toBeGreaterThanOrEqual(4);
  });
});

describe('assertStreamConfig on the later augmentation keys', () => {
  const config = testConfig({ type: 'voc', dir: 'x' });
  const check = (augment: Record<string, unknown>) => () => assertStreamConfig('trainingStream', { ...config, augment: { ...config.augment, ...augment } });

  it('accepts them left out or well formed', () => {
    expect(check({})).not.toThrow();
    expect(check({ rotate: { prob: 0.5, degrees: 180, minBoxVisible: 0 }, grayscale: { prob: 1 }, blur: { prob: 0, sigma: [0.3, 0.3] }, noise: { prob: 1, sigma: [1, 255] }, jpeg: { prob: 1, quality: [1, 100] } })).not.toThrow();
  });

  it('says what was wrong', () => {
    expect(check({ grayscale: 0.5 })).toThrow("Error in trainingStream: 'config.augment.grayscale' must be an object, but got 0.5.");
    expect(check({ invert: { prob: 1.5 } })).toThrow("Error in trainingStream: 'config.augment.invert.prob' must be a probability in [0, 1], but got 1.5.");
    expect(check({ rotate: { prob: 1, degrees: -5, minBoxVisible: 0.5 } })).toThrow("'config.augment.rotate.degrees' must be a number of degrees in [0, 180], but got -5.");
    expect(check({ rotate: { prob: 1, degrees: 5 } })).toThrow("'config.augment.rotate.minBoxVisible' must be a number in [0, 1], but got undefined.");
    expect(check({ rotate: { prob: 1, degrees: 5, minBoxVisible: 0.5, boxes: 'circle' } })).toThrow("'config.augment.rotate.boxes' must be one of corners, ellipse, but got \"circle\".");
    expect(check({ blur: { prob: 1, sigma: [0.1, 1] } })).toThrow("'config.augment.blur.sigma' must be [min, max] with min <= max, each in [0.3, 1000] (sharp's blur), but got [0.1, 1].");
    expect(check({ noise: { prob: 1, sigma: [5, 2] } })).toThrow("'config.augment.noise.sigma' must be [min, max] with min <= max, each in (0, 255], but got [5, 2].");
    expect(check({ jpeg: { prob: 1, quality: [50.5, 90] } })).toThrow("'config.augment.jpeg.quality' must be [min, max] with min <= max, each an integer in [1, 100], but got [50.5, 90].");
    expect(check({ jpeg: { prob: 1, quality: 50 } })).toThrow("'config.augment.jpeg.quality' must be [min, max] with min <= max, each an integer in [1, 100], but got 50.");
    expect(check({ pattern: { prob: 1, period: [1, 8], alpha: [0.2, 0.5] } })).toThrow("'config.augment.pattern.period' must be [min, max] with min <= max, each a number of pixels in [2, 10000], but got [1, 8].");
    expect(check({ pattern: { prob: 1, period: [4, 8], alpha: [0.5, 1.2] } })).toThrow("'config.augment.pattern.alpha' must be [min, max] with min <= max, each an opacity in [0, 1], but got [0.5, 1.2].");
  });
});
