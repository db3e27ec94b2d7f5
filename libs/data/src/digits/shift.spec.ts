import { seededRandom } from '@lumen/core';
import { mixSeed } from '../random';
import { GLYPH_SIZE, glyphRanges, loadMnist } from './mnist';
import { INK_THRESHOLD } from './render';
import { poseGlyph, renderShiftImage, SHIFT_DEFAULTS, SHIFT_MAX_INK_COVERED, type ShiftImage, type ShiftOptions } from './shift-render';

const bank = loadMnist();
const test = glyphRanges(bank, 'test');
const train = glyphRanges(bank, 'train');
/** Small canvases and digits: the statistics over many images stay fast. */
const SMALL: ShiftOptions = { ...SHIFT_DEFAULTS, minSide: 96, maxSide: 128, maxDigitHeight: 40, maxDigits: 4 };

const render = (seed: number, options = SHIFT_DEFAULTS) => renderShiftImage(seededRandom(mixSeed(seed, 3, 0)), bank, test, options);
const luma = (image: ShiftImage, p: number) => 0.299 * image.pixels[3 * p] + 0.587 * image.pixels[3 * p + 1] + 0.114 * image.pixels[3 * p + 2];

/** Per digit: its owned pixels (owner map) and their tight box [x1, y1, x2, y2). */
function owned(image: ShiftImage): { pixels: number[][]; boxes: number[][] } {
  const pixels = image.digits.map((): number[] => []);
  image.owner.forEach((id, p) => {
    if (id >= 0) pixels[id].push(p);
  });
  const boxes = pixels.map((list) => {
    const xs = list.map((p) => p % image.width);
    const ys = list.map((p) => Math.floor(p / image.width));
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs) + 1, Math.max(...ys) + 1];
  });
  return { pixels, boxes };
}

describe('renderShiftImage (the shift split)', () => {
  const images = Array.from({ length: 8 }, (_, seed) => render(seed));
  const many = Array.from({ length: 60 }, (_, seed) => render(1000 + seed, SMALL));

  it('is deterministic: the same seed gives the same pixels, boxes and quality', () => {
    const again = render(3);
    expect(Buffer.from(again.pixels).equals(Buffer.from(images[3].pixels))).toBe(true);
    expect(again.digits).toEqual(images[3].digits);
    expect(again.quality).toBe(images[3].quality);
    expect(Buffer.from(render(4).pixels).equals(Buffer.from(images[3].pixels))).toBe(false);
  });

  it('boxes each digit tightly around its visible ink (>= 30% intensity), which is its posed glyph moved into place', () => {
    let whole = 0;
    const problems: string[] = [];
    for (const [n, image] of [...images, ...many.slice(0, 20)].entries()) {
      expect(image.pixels.length).toBe(image.width * image.height * 3);
      const { pixels, boxes } = owned(image);
      expect(boxes).toEqual(image.digits.map((d) => d.box));
      image.digits.forEach((digit, id) => {
        // Recomputed from the glyph and its pose: the visible ink is the posed ink, less at most
        // SHIFT_MAX_INK_COVERED hidden by later digits; a wholly visible digit is exactly it, translated.
        const posed = poseGlyph(bank.glyph(digit.digit, digit.glyph), digit.pose);
        const ink: number[] = [];
        posed.values.forEach((v, i) => {
          if (v >= INK_THRESHOLD) ink.push(i);
        });
        const visible = pixels[id].length;
        if (visible > ink.length || visible < (1 - SHIFT_MAX_INK_COVERED) * ink.length - 1e-9) problems.push(`image ${n} digit ${id}: ${visible} of ${ink.length} ink pixels visible`);
        if (visible === ink.length && posed.ink != null) {
          whole++;
          const dx = digit.box[0] - posed.ink[0];
          const dy = digit.box[1] - posed.ink[1];
          const moved = ink.map((i) => (Math.floor(i / posed.width) + dy) * image.width + (i % posed.width) + dx).sort((a, b) => a - b);
          if (moved.some((p, k) => p !== pixels[id][k])) problems.push(`image ${n} digit ${id}: its ink is not its posed glyph's`);
        }
      });
    }
    expect(problems).toEqual([]);
    expect(whole).toBeGreaterThan(40);
  });

  it('draws 1..8 digits 14-100 px tall on 240-480 px canvases of varied aspect', () => {
    const heights: number[] = [];
    const aspects: number[] = [];
    for (const image of images) {
      expect(image.width).toBeGreaterThanOrEqual(240);
      expect(image.height).toBeLessThanOrEqual(480);
      expect(image.digits.length).toBeGreaterThanOrEqual(1);
      expect(image.digits.length).toBeLessThanOrEqual(8);
      aspects.push(image.width / image.height);
      for (const d of image.digits) heights.push(d.box[3] - d.box[1]);
    }
    for (const h of heights) {
      expect(h).toBeGreaterThanOrEqual(14);
      expect(h).toBeLessThanOrEqual(100);
    }
    expect(Math.min(...heights)).toBeLessThan(25);
    expect(Math.max(...heights)).toBeGreaterThan(60);
    expect(Math.max(...aspects) / Math.min(...aspects)).toBeGreaterThan(1.3);
  });

  it('rotates glyphs up to ±15°: the ink turns by the angle, the box changes shape', () => {
    const angles = [...images, ...many].flatMap((image) => image.digits.map((d) => d.pose.angle));
    for (const a of angles) expect(Math.abs(a)).toBeLessThanOrEqual(15);
    expect(Math.min(...angles)).toBeLessThan(-10);
    expect(Math.max(...angles)).toBeGreaterThan(10);
    // A "1" turned by ±12°: the principal axis of its ink turns by the angle (±1.5°), and its box changes width.
    const glyph = bank.glyph(1, test[1].start);
    const pose = { scale: 2.5, aspect: 1, shear: 0, angle: 0, gamma: 1, hard: false };
    const axis = (angle: number) => {
      const posed = poseGlyph(glyph, { ...pose, angle });
      const points: number[][] = [];
      posed.values.forEach((v, i) => {
        if (v >= INK_THRESHOLD) points.push([i % posed.width, Math.floor(i / posed.width)]);
      });
      const mx = points.reduce((s, p) => s + p[0], 0) / points.length;
      const my = points.reduce((s, p) => s + p[1], 0) / points.length;
      let xx = 0;
      let yy = 0;
      let xy = 0;
      for (const [x, y] of points) {
        xx += (x - mx) ** 2;
        yy += (y - my) ** 2;
        xy += (x - mx) * (y - my);
      }
      const ink = posed.ink ?? [0, 0, 0, 0];
      return { degrees: (0.5 * Math.atan2(2 * xy, xx - yy) * 180) / Math.PI, width: ink[2] - ink[0] + 1 };
    };
    const upright = axis(0);
    for (const angle of [-12, 12]) {
      const turned = axis(angle);
      expect(Math.abs(turned.degrees - upright.degrees - angle)).toBeLessThan(1.5);
      expect(Math.abs(turned.width - upright.width)).toBeGreaterThan(3);
    }
  });

  it('draws JPEG qualities 60..95 per image', () => {
    const qualities = many.map((image) => image.quality);
    for (const q of qualities) {
      expect(Number.isInteger(q)).toBe(true);
      expect(q).toBeGreaterThanOrEqual(60);
      expect(q).toBeLessThanOrEqual(95);
    }
    expect(new Set(qualities).size).toBeGreaterThan(15);
    expect(Math.min(...qualities)).toBeLessThan(66);
    expect(Math.max(...qualities)).toBeGreaterThan(89);
  });

  it('varies canvases, blur and noise', () => {
    const families = new Set(many.map((image) => image.family));
    expect([...families].sort()).toEqual(['checks', 'flat', 'gradient', 'noise', 'shapes', 'stripes']);
    const blurred = many.filter((image) => image.blur > 0);
    expect(blurred.length).toBeGreaterThan(5);
    expect(blurred.length).toBeLessThan(many.length - 5);
    for (const image of blurred) expect(image.blur).toBeGreaterThanOrEqual(0.5);
    for (const image of blurred) expect(image.blur).toBeLessThanOrEqual(2);
    expect(many.filter((image) => image.noise > 0).length).toBeGreaterThan(5);
    expect(many.filter((image) => image.clutter > 0).length).toBeGreaterThan(5);
    const digits = many.flatMap((image) => image.digits);
    expect(digits.filter((d) => d.outline).length).toBeGreaterThan(3);
    expect(digits.filter((d) => d.shadow).length).toBeGreaterThan(3);
  });

  it('inks digits in any colour, darker or lighter than the canvas, down to low contrast', () => {
    // Measured on the image: mean luminance of a digit's visible ink minus that of the rest of its box.
    const deltas: number[] = [];
    for (const image of many) {
      const { pixels } = owned(image);
      image.digits.forEach((digit, id) => {
        const [x1, y1, x2, y2] = digit.box;
        let rest = 0;
        let n = 0;
        for (let y = y1; y < y2; y++) {
          for (let x = x1; x < x2; x++) {
            const p = y * image.width + x;
            if (image.owner[p] === -1) {
              rest += luma(image, p);
              n++;
            }
          }
        }
        if (n === 0) return;
        deltas.push(pixels[id].reduce((s, p) => s + luma(image, p), 0) / pixels[id].length - rest / n);
      });
    }
    const low = deltas.filter((d) => Math.abs(d) < 40).length;
    expect(low / deltas.length).toBeGreaterThan(0.15);
    expect(deltas.filter((d) => d > 80).length).toBeGreaterThan(5);
    expect(deltas.filter((d) => d < -80).length).toBeGreaterThan(5);
    // As drawn (against the canvas under the ink): low-contrast ink of both signs, hue-only ink, colourful ink.
    const digits = many.flatMap((image) => image.digits);
    const drawn = digits.filter((d) => d.contrast !== 'hue').map((d) => Math.abs(d.lumaDelta));
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(24.5);
    expect(drawn.filter((d) => d < 40).length).toBeGreaterThan(5);
    for (const contrast of ['darker', 'lighter'] as const) {
      expect(digits.filter((d) => d.contrast === contrast && Math.abs(d.lumaDelta) < 45).length).toBeGreaterThan(1);
    }
    const hue = digits.filter((d) => d.contrast === 'hue');
    expect(hue.length).toBeGreaterThan(2);
    for (const d of hue) expect(Math.abs(d.lumaDelta)).toBeLessThanOrEqual(13);
    const saturated = digits.filter((d) => Math.max(...d.ink) - Math.min(...d.ink) > 100);
    expect(saturated.length).toBeGreaterThan(digits.length / 5);
  });

  it('draws glyphs from the given ranges only: the test half of the reserved 20%, never a train glyph', () => {
    const digits = [...images, ...many].flatMap((image) => image.digits);
    expect(digits.length).toBeGreaterThan(100);
    for (const d of digits) {
      expect(d.glyph).toBeGreaterThanOrEqual(test[d.digit].start);
      expect(d.glyph).toBeLessThan(test[d.digit].end);
      expect(d.glyph).toBeGreaterThanOrEqual(train[d.digit].end);
    }
    expect(new Set(digits.map((d) => d.digit)).size).toBe(10);
  });

  it('poses a glyph on a patch: upright at scale 1 it is the glyph itself', () => {
    const glyph = bank.glyph(7, 950);
    const posed = poseGlyph(glyph, { scale: 1, aspect: 1, shear: 0, angle: 0, gamma: 1, hard: false }, 0);
    expect([posed.width, posed.height]).toEqual([GLYPH_SIZE, GLYPH_SIZE]);
    for (let i = 0; i < glyph.length; i++) expect(posed.values[i]).toBeCloseTo(glyph[i], 5);
  });
});
