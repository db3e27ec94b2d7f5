import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '@lumen/core';
import type { AugmentConfig } from './augment';
import { renderImage } from './decode';
import { decodeExample } from './pipeline';
import { rotateBoxes, rotationWindow } from './rotate';
import { tempDir } from './testing/helpers';
import type { RotatedBoxRule } from './types';

/** A grey (one band) image with `value` inside [x1, x2) x [y1, y2), as PNG. */
const maskPng = (width: number, height: number, [x1, y1, x2, y2]: number[], value = 255) => {
  const data = Buffer.alloc(width * height * 3);
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) data.fill(value, (y * width + x) * 3, (y * width + x) * 3 + 3);
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
};

/** The tight box (pixel edges) of the pixels whose first channel is over `threshold`, or null. */
function tightBox(pixels: ArrayLike<number>, width: number, height: number, threshold: number): number[] | null {
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (pixels[(y * width + x) * 3] <= threshold) continue;
      [x1, y1, x2, y2] = [Math.min(x1, x), Math.min(y1, y), Math.max(x2, x + 1), Math.max(y2, y + 1)];
    }
  }
  return x1 === Infinity ? null : [x1, y1, x2, y2];
}

/** The ellipse inscribed in [x1, x2) x [y1, y2) (the pixels whose centres it holds) at 255, as PNG. */
const ellipsePng = (width: number, height: number, [x1, y1, x2, y2]: number[]) => {
  const data = Buffer.alloc(width * height * 3);
  const [cx, cy, a, b] = [(x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) if (((x + 0.5 - cx) / a) ** 2 + ((y + 0.5 - cy) / b) ** 2 <= 1) data.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
};

/** rotateBoxes of one box; with `whole`, empty unless the rotated box lies wholly inside (unclipped). */
const rotated = (width: number, height: number, degrees: number, box: number[], whole = false, rule: RotatedBoxRule = 'corners') =>
  Array.from(rotateBoxes(Float32Array.from(box), width, height, degrees, whole ? 1 - 1e-6 : 0, rotationWindow(width, height, degrees).shift, rule).boxes);

/**
 * Over 30 random images (sides from `minSide`) and boxes (sides from `minBox`), 20 turned within
 * ±30° and 10 by any angle: the mask `draw` makes of the box, turned by renderImage, has the
 * tight box rotateBoxes gives by `rule`, within a pixel. Boxes turned partly out are left out;
 * more than 15 must remain.
 */
async function expectTurnedMasks(rule: RotatedBoxRule, draw: (width: number, height: number, box: number[]) => Promise<Buffer>, random: () => number, minSide: number, minBox: number) {
  let compared = 0;
  for (let i = 0; i < 30; i++) {
    const width = minSide + Math.floor(random() * 80);
    const height = minSide + Math.floor(random() * 80);
    const bw = minBox + Math.floor(random() * (width / 2));
    const bh = minBox + Math.floor(random() * (height / 2));
    const box = [Math.floor(random() * (width - bw)), Math.floor(random() * (height - bh))];
    box.push(box[0] + bw, box[1] + bh);
    const degrees = i < 20 ? (random() - 0.5) * 60 : (random() - 0.5) * 360;
    const pixels = await renderImage(await draw(width, height, box), { source: { width, height }, width, height, flip: false, rotate: degrees });
    expect(pixels.length).toBe(width * height * 3);
    const expected = rotated(width, height, degrees, box, true, rule);
    if (expected.length === 0) continue;
    compared++;
    const mask = tightBox(pixels, width, height, 127);
    (mask as number[]).forEach((v, k) => expect(Math.abs(v - expected[k])).toBeLessThanOrEqual(1));
  }
  expect(compared).toBeGreaterThan(15);
}

describe('rotationWindow', () => {
  it("predicts the canvas of sharp's rotate(angle)", async () => {
    const random = seededRandom(3);
    for (let i = 0; i < 40; i++) {
      const width = 5 + Math.floor(random() * 200);
      const height = 5 + Math.floor(random() * 200);
      const degrees = (random() - 0.5) * 360;
      const { info } = await sharp(Buffer.alloc(width * height * 3), { raw: { width, height, channels: 3 } }).rotate(degrees).raw().toBuffer({ resolveWithObject: true });
      expect(rotationWindow(width, height, degrees).canvas).toEqual({ width: info.width, height: info.height });
    }
  });

  it('leaves a shift of at most half a pixel each way', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 }), fc.double({ min: -180, max: 180, noNaN: true }), (w, h, degrees) => {
        const { shift } = rotationWindow(w, h, degrees);
        expect(Math.abs(shift[0])).toBeLessThanOrEqual(0.5 + 1e-9);
        expect(Math.abs(shift[1])).toBeLessThanOrEqual(0.5 + 1e-9);
      }),
    );
  });
});

describe('rotateBoxes', () => {
  it('is the identity at 0 degrees and turns a box a quarter about the centre at 90', () => {
    const boxes = Float32Array.of(10, 5, 30, 15);
    expect(Array.from(rotateBoxes(boxes, 40, 40, 0, 0.5).boxes)).toEqual([10, 5, 30, 15]);
    // Clockwise on screen (y down): (x, y) -> (cx - (y - cy), cy + (x - cx)).
    const quarter = Array.from(rotateBoxes(boxes, 40, 40, 90, 0.5).boxes);
    [25, 10, 35, 30].forEach((v, i) => expect(quarter[i]).toBeCloseTo(v, 4));
  });

  it('gives the box of the four rotated corners, clipped, and drops a box mostly rotated out', () => {
    // A 20x20 box about the centre of a 100x100 image at 45 degrees: a diamond of half-diagonal 10√2.
    const centre = Array.from(rotateBoxes(Float32Array.of(40, 40, 60, 60), 100, 100, 45, 0.5).boxes);
    [50 - 10 * Math.SQRT2, 50 - 10 * Math.SQRT2, 50 + 10 * Math.SQRT2, 50 + 10 * Math.SQRT2].forEach((v, i) => expect(centre[i]).toBeCloseTo(v, 4));
    // A box near the top turned partly out (57% of its rotated box stays in): kept at 0.3, dropped at 0.7.
    const corner = Float32Array.of(10, 10, 30, 20, 40, 20, 60, 30);
    const loose = rotateBoxes(corner, 100, 50, 30, 0.3);
    const strict = rotateBoxes(corner, 100, 50, 30, 0.7);
    expect(Array.from(loose.keep)).toEqual([0, 1]);
    expect(Array.from(strict.keep)).toEqual([1]);
    [50 - 32.14, 0, 50 - 9.82, 25 - 14.33].forEach((v, i) => expect(loose.boxes[i]).toBeCloseTo(v, 1));
  });

  it("with 'ellipse', gives the box of the inscribed ellipse turned: the box itself at 0 and 90 degrees, a circle's at any angle", () => {
    const ellipse = (boxes: Float32Array, w: number, h: number, degrees: number) => Array.from(rotateBoxes(boxes, w, h, degrees, 0, [0, 0], 'ellipse').boxes);
    const box = Float32Array.of(10, 5, 30, 15);
    ellipse(box, 40, 40, 0).forEach((v, i) => expect(v).toBeCloseTo([10, 5, 30, 15][i], 4));
    ellipse(box, 40, 40, 90).forEach((v, i) => expect(v).toBeCloseTo([25, 10, 35, 30][i], 4));
    for (const degrees of [7, -33, 120]) ellipse(Float32Array.of(40, 40, 60, 60), 100, 100, degrees).forEach((v, i) => expect(v).toBeCloseTo([40, 40, 60, 60][i], 4));
    // A 14x39 box (a "1") turned 7.5 degrees: 14.78 wide by its ellipse, 18.97 by its corners; both keep the centre.
    const one = Float32Array.of(43, 30.5, 57, 69.5);
    const [x1, y1, x2, y2] = ellipse(one, 100, 100, 7.5);
    expect(x2 - x1).toBeCloseTo(Math.hypot(14 * Math.cos(Math.PI / 24), 39 * Math.sin(Math.PI / 24)), 4);
    expect(y2 - y1).toBeCloseTo(Math.hypot(14 * Math.sin(Math.PI / 24), 39 * Math.cos(Math.PI / 24)), 4);
    expect((x1 + x2) / 2).toBeCloseTo(50, 4);
    expect((y1 + y2) / 2).toBeCloseTo(50, 4);
    const corners = Array.from(rotateBoxes(one, 100, 100, 7.5, 0).boxes);
    expect(corners[2] - corners[0]).toBeCloseTo(14 * Math.cos(Math.PI / 24) + 39 * Math.sin(Math.PI / 24), 4);
  });

  it("with 'ellipse', lies inside the corners' box about the same centre", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.double({ min: -180, max: 180, noNaN: true }), (bw, bh, degrees) => {
        const box = Float32Array.of(300 - bw / 2, 300 - bh / 2, 300 + bw / 2, 300 + bh / 2);
        const corners = rotateBoxes(box, 600, 600, degrees, 0).boxes;
        const ellipse = rotateBoxes(box, 600, 600, degrees, 0, [0, 0], 'ellipse').boxes;
        for (const k of [0, 1]) expect(ellipse[k]).toBeGreaterThanOrEqual(corners[k] - 1e-3);
        for (const k of [2, 3]) expect(ellipse[k]).toBeLessThanOrEqual(corners[k] + 1e-3);
        expect(ellipse[0] + ellipse[2]).toBeCloseTo(corners[0] + corners[2], 3);
        expect(ellipse[1] + ellipse[3]).toBeCloseTo(corners[1] + corners[3], 3);
      }),
    );
  });

  it('keeps every box inside the image with positive size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 500 }), fc.integer({ min: 2, max: 500 }), fc.double({ min: -180, max: 180, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (w, h, degrees, visible) => {
        const boxes = Float32Array.of(0, 0, w / 2, h / 2, w / 4, h / 4, w, h, 0, 0, w, h);
        const out = rotateBoxes(boxes, w, h, degrees, visible, rotationWindow(w, h, degrees).shift).boxes;
        for (let i = 0; i < out.length; i += 4) {
          expect(out[i]).toBeGreaterThanOrEqual(0);
          expect(out[i + 1]).toBeGreaterThanOrEqual(0);
          expect(out[i + 2]).toBeLessThanOrEqual(w);
          expect(out[i + 3]).toBeLessThanOrEqual(h);
          expect(out[i + 2]).toBeGreaterThan(out[i]);
          expect(out[i + 3]).toBeGreaterThan(out[i + 1]);
        }
      }),
    );
  });
});

describe('renderImage rotate', () => {
  it('puts a point where rotateBoxes puts it (the geometry to a tenth of a pixel)', async () => {
    // A small Gaussian blob: its centroid moves as its centre does.
    const [width, height, px, py] = [61, 44, 17.5, 30.5];
    const data = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.fill(Math.round(255 * Math.exp(-((x + 0.5 - px) ** 2 + (y + 0.5 - py) ** 2) / 4)), (y * width + x) * 3, (y * width + x) * 3 + 3);
    const png = await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
    for (const degrees of [-33.3, -7, 2.5, 21, 140]) {
      const pixels = await renderImage(png, { source: { width, height }, width, height, flip: false, rotate: degrees });
      let [s, sx, sy] = [0, 0, 0];
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const v = Math.max(0, pixels[(y * width + x) * 3] - 1); // the fill: the mean, about 1
          [s, sx, sy] = [s + v, sx + v * (x + 0.5), sy + v * (y + 0.5)];
        }
      }
      const [x1, y1] = rotated(width, height, degrees, [px, py, px + 1e-3, py + 1e-3]);
      expect(Math.abs(sx / s - x1)).toBeLessThan(0.1);
      expect(Math.abs(sy / s - y1)).toBeLessThan(0.1);
    }
  });

  // Clipped boxes are left out: the corner rule's box of a rectangle cut by the border is larger than what stays visible.
  it("keeps the image's size: a box's rotated mask has the tight box of its rotated corners (within a pixel)", async () => {
    await expectTurnedMasks('corners', maskPng, seededRandom(11), 40, 6);
  });

  it("with 'ellipse': a box's inscribed ellipse, turned by sharp, has the tight box rotateBoxes gives (within a pixel)", async () => {
    await expectTurnedMasks('ellipse', ellipsePng, seededRandom(12), 60, 8);
  });

  it('fills the corners with the mean colour', async () => {
    const png = await maskPng(50, 40, [0, 0, 50, 20], 200); // top half 200, bottom 0: mean 100
    const pixels = await renderImage(png, { source: { width: 50, height: 40 }, width: 50, height: 40, flip: false, rotate: 30 });
    expect(Math.abs(pixels[0] - 100)).toBeLessThanOrEqual(2); // the top left corner comes from outside
  });

  it('pads where the rotated canvas is narrower than the image, and turns whole quarters as other angles', async () => {
    const [width, height, box] = [100, 30, [40, 5, 60, 25]];
    for (const degrees of [80, -90, 180]) {
      if (degrees !== 180) expect(rotationWindow(width, height, degrees).canvas.width).toBeLessThan(width);
      const pixels = await renderImage(await maskPng(width, height, box), { source: { width, height }, width, height, flip: false, rotate: degrees });
      expect(pixels.length).toBe(width * height * 3);
      const mask = tightBox(pixels, width, height, 127) as number[];
      rotated(width, height, degrees, box).forEach((v, k) => expect(Math.abs(v - mask[k])).toBeLessThanOrEqual(1));
    }
  });
});

describe('decodeExample rotate', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());
  const none: AugmentConfig = {
    flip: 0,
    scaleJitter: { prob: 0, minSizes: [] },
    photometric: { prob: 0, brightness: 0, contrast: 0, saturation: 0, hue: 0 },
    crop: { prob: 0, minScale: 0.6, minBoxVisible: 0.3 },
  };
  const every = { ...none, flip: 0.5, scaleJitter: { prob: 1, minSizes: [50, 70, 90] }, crop: { ...none.crop, prob: 0.5 }, rotate: { prob: 1, degrees: 25, minBoxVisible: 0.3 } };

  it.each(['sharp', 'torchvision'] as const)('boxes match the rotated pixels after crop, resize and flip (%s)', async (resize) => {
    const [width, height, box] = [90, 64, [22, 14, 50, 40]];
    const path = join(tmp.dir, 'mask.png');
    writeFileSync(path, await maskPng(width, height, box));
    const example = { id: 'mask', imagePath: path, width, height, boxes: Float32Array.from(box), labels: Int32Array.of(3), difficult: Uint8Array.of(0) };
    let rotatedSeen = 0;
    for (let seed = 0; seed < 24; seed++) {
      const out = await decodeExample(example, 0, { minSize: 60, maxSize: 200, resize }, every, seededRandom(seed));
      const [x1, y1, x2, y2] = out.boxes;
      // Only boxes clear of the border: a clipped one is larger than its visible part.
      if (out.boxes.length === 0 || x1 < 1 || y1 < 1 || x2 > out.width - 1 || y2 > out.height - 1) continue;
      rotatedSeen++;
      const mask = tightBox(out.pixels, out.width, out.height, resize === 'sharp' ? 127 : 0.5);
      const tolerance = 1.5 * Math.max(1, out.scale); // the resize alone is off by up to a pixel at the threshold
      (mask as number[]).forEach((v, k) => expect(Math.abs(v - out.boxes[k])).toBeLessThanOrEqual(tolerance));
      expect(Array.from(out.labels)).toEqual([3]);
    }
    expect(rotatedSeen).toBeGreaterThan(8);
  });
});
