import { seededRandom } from '@lumen/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, resizedSize } from './decode';
import { interpolateBilinear } from './interpolate';
import { decodeExample } from './pipeline';
import { FIXTURES, tempDir } from './testing/helpers';
import type { DataConfig, Example } from './types';

// torchvision 0.14.1 / torch 1.13 (tools/fixtures/transform_fixtures.py): GeneralizedRCNNTransform
// on uint8 images made [0, 1] as ToTensor does. torch's bilinear kernel is matched bit for bit
// (the fixtures come from its AVX2 build, which fuses multiply-adds; see interpolate.ts).
interface Sized {
  width: number;
  height: number;
  minSize: number;
  maxSize: number;
  resized: [number, number];
}
type Sample = [number, number, number, number];
interface Fixture {
  pattern: string;
  sizes: Sized[];
  exhaustive: Array<Sized & { pixels: number[]; values: number[] }>;
  sampled: Array<Sized & { samples: Sample[] }>;
  training: Array<Sized & { flip: boolean; boxes: number[]; resizedBoxes: number[]; samples: Sample[] }>;
}
const fixture: Fixture = JSON.parse(readFileSync(join(FIXTURES, 'torchvision', 'resize.json'), 'utf8'));

/** The fixture script's large images (`pattern`), HWC bytes. */
function pattern(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0, i = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++, i++) out[i] = (x * 7 + y * 13 + c * 85 + ((x * y) % 31) * 5) % 256;
  return out;
}

/** Values of HWC float pixels at the fixture's [y, x, channel] positions. */
const at = (pixels: Float32Array, width: number, samples: Sample[]) => samples.map(([y, x, c]) => pixels[(y * width + x) * 3 + c]);
/** JSON holds each float32 in its shortest form: rounding it to float32 gives the value back. */
const f32 = (values: number[]) => values.map(Math.fround);
const expected = (samples: Sample[]) => f32(samples.map((s) => s[3]));

const png = (pixels: Uint8Array, width: number, height: number) => sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
const rule = (c: Sized) => ({ minSize: c.minSize, maxSize: c.maxSize, resize: 'torchvision' as const });

describe("resizedSize with resize: 'torchvision'", () => {
  it.each(fixture.sizes.map((c) => [c.width, c.height, c.minSize, c.maxSize, ...c.resized]))(
    '%ix%i at %i/%i -> %ix%i as torchvision reports it',
    (width, height, minSize, maxSize, outWidth, outHeight) => {
      const size = resizedSize(width, height, { minSize, maxSize, resize: 'torchvision' });
      expect([size.width, size.height]).toEqual([outWidth, outHeight]);
    },
  );

  it("computes the scale in float32, as torchvision: a row fewer than 'sharp' for 500x375", () => {
    expect(resizedSize(500, 375, { minSize: 800, maxSize: 1333, resize: 'torchvision' })).toEqual({ width: 1066, height: 799, scale: Math.fround(Math.fround(1 / 375) * 800) });
    expect(resizedSize(500, 375, { minSize: 800, maxSize: 1333 })).toMatchObject({ width: 1066, height: 800 });
  });
});

describe('interpolateBilinear', () => {
  it.each(fixture.exhaustive.map((c) => [c.width, c.height, c.resized[0], c.resized[1], c]))('%ix%i -> %ix%i: every value is torchvision’s', (_w, _h, _ow, _oh, c) => {
    const out = interpolateBilinear(Uint8Array.from(c.pixels), c.width, c.height, c.resized[0], c.resized[1]);
    expect(Array.from(out)).toEqual(f32(c.values));
  });

  it.each(fixture.sampled.map((c) => [c.width, c.height, c.resized[0], c.resized[1], c]))('%ix%i -> %ix%i: sampled values are torchvision’s', (_w, _h, _ow, _oh, c) => {
    const out = interpolateBilinear(pattern(c.width, c.height), c.width, c.height, c.resized[0], c.resized[1]);
    expect(out.length).toBe(c.resized[0] * c.resized[1] * 3);
    expect(at(out, c.resized[0], c.samples)).toEqual(expected(c.samples));
  });

  it('names a bad argument', () => {
    expect(() => interpolateBilinear(new Uint8Array(11), 2, 2, 4, 4)).toThrow("Error in interpolateBilinear: 'pixels' must be a Uint8Array of 2x2 RGB (12 bytes), but got 11 bytes.");
    expect(() => interpolateBilinear(new Uint8Array(12), 2, 2, 0, 4)).toThrow("Error in interpolateBilinear: 'outWidth' must be a positive integer, but got 0.");
  });
});

describe("decodeImage with resize: 'torchvision'", () => {
  const { dir, remove } = tempDir();
  afterAll(remove);

  it('decodes the original pixels, then resizes them as torchvision (small images, every value)', async () => {
    for (const c of fixture.exhaustive) {
      const out = await decodeImage(await png(Uint8Array.from(c.pixels), c.width, c.height), rule(c));
      expect(out.pixels).toBeInstanceOf(Float32Array);
      expect([out.width, out.height, out.originalWidth, out.originalHeight]).toEqual([...c.resized, c.width, c.height]);
      expect(Array.from(out.pixels)).toEqual(f32(c.values));
    }
  });

  it('from a file, 640x480 at 800/1333 (min size binds) and 1920x1080 at 320/320 (max size binds)', async () => {
    for (const c of [fixture.sampled[0], fixture.sampled[6]]) {
      const path = join(dir, `${c.width}x${c.height}.png`);
      await sharp(pattern(c.width, c.height), { raw: { width: c.width, height: c.height, channels: 3 } }).png().toFile(path);
      const out = await decodeImage(path, rule(c));
      expect([out.width, out.height]).toEqual(c.resized);
      expect(at(out.pixels, out.width, c.samples)).toEqual(expected(c.samples));
    }
  });

  it("names a resize mode it does not know", async () => {
    await expect(decodeImage(Buffer.alloc(1), { minSize: 8, maxSize: 8, resize: 'bicubic' as 'sharp' })).rejects.toThrow(
      `Error in decodeImage: 'options.resize' must be one of sharp, torchvision, but got "bicubic".`,
    );
  });
});

describe("decodeExample with resize: 'torchvision' (training)", () => {
  const { dir, remove } = tempDir();
  afterAll(remove);
  const noAugment: DataConfig['augment'] = {
    flip: 1,
    scaleJitter: { prob: 0, minSizes: [] },
    photometric: { prob: 0, brightness: 0, contrast: 0, saturation: 0, hue: 0 },
    crop: { prob: 0, minScale: 1, minBoxVisible: 0 },
  };

  it.each(fixture.training.map((c) => [c.width, c.height, c.flip ? 'flipped' : 'not flipped', c]))(
    '%ix%i, %s: pixels and boxes as torchvision’s transform in training mode (after the references’ flip)',
    async (_w, _h, _flip, c) => {
      const imagePath = join(dir, `${c.width}x${c.height}.png`);
      await sharp(pattern(c.width, c.height), { raw: { width: c.width, height: c.height, channels: 3 } }).png().toFile(imagePath);
      const boxes = Float32Array.from(c.boxes);
      const example: Example = { id: 'a', imagePath, width: c.width, height: c.height, boxes, labels: new Int32Array(boxes.length / 4).fill(1), difficult: new Uint8Array(boxes.length / 4) };
      const out = await decodeExample(example, 0, rule(c), c.flip ? noAugment : null, c.flip ? seededRandom(0) : null);
      expect([out.width, out.height]).toEqual(c.resized);
      expect(out.pixels).toBeInstanceOf(Float32Array);
      expect(at(out.pixels as Float32Array, out.width, c.samples)).toEqual(expected(c.samples));
      // Lumen clamps to the image a box torchvision's float32 ratio puts an ulp past its edge.
      const edges = [out.width, out.height, out.width, out.height];
      expect(Array.from(out.boxes)).toEqual(f32(c.resizedBoxes).map((v, i) => Math.min(v, edges[i % 4])));
    },
  );
});
