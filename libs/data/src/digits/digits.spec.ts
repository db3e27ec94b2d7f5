import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '@lumen/core';
import { mixSeed } from '../random';
import { collect, logLines, tempDir } from '../testing/helpers';
import { readVoc } from '../voc';
import { DIGIT_CLASSES, DIGITS_SPLITS, DIGITS_VERSION, ensureDigits, generateDigits, MANIFEST, vocXml } from './generate';
import { GLYPH_SIZE, glyphRanges, loadMnist } from './mnist';
import { INK_THRESHOLD, MAX_OVERLAP, RENDER_DEFAULTS, renderDigitsImage, scaleGlyph } from './render';
import { renderShiftImage } from './shift-render';

/** The quantisation tables (DQT segments) of a JPEG file: they follow from its quality. */
function quantTables(jpeg: Buffer): string {
  const tables: string[] = [];
  for (let o = 2; o + 4 <= jpeg.length && jpeg[o] === 0xff; ) {
    const marker = jpeg[o + 1];
    const length = jpeg.readUInt16BE(o + 2);
    if (marker === 0xdb) tables.push(jpeg.subarray(o + 4, o + 2 + length).toString('hex'));
    if (marker === 0xda) break;
    o += 2 + length;
  }
  return tables.join('/');
}

const bank = loadMnist();

describe('the mnist glyphs', () => {
  it('are the package digits per class, in [0, 1]', () => {
    expect(Array.from({ length: 10 }, (_, d) => bank.count(d))).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    const glyph = bank.glyph(0, 0);
    expect(glyph.length).toBe(784);
    expect(Math.max(...glyph)).toBeLessThanOrEqual(1);
    expect(Math.min(...glyph)).toBe(0);
  });

  it('reserve the last 20% of each class for val (first half) and test (second half)', () => {
    const train = glyphRanges(bank, 'train');
    const val = glyphRanges(bank, 'val');
    const test = glyphRanges(bank, 'test');
    for (let d = 0; d < 10; d++) {
      const n = bank.count(d);
      expect(train[d]).toEqual({ start: 0, end: Math.floor(0.8 * n) });
      expect(val[d].start).toBe(train[d].end);
      expect(test[d].start).toBe(val[d].end);
      expect(test[d].end).toBe(n);
      expect(val[d].end - val[d].start).toBeGreaterThan(80);
    }
  });
});

describe('renderDigitsImage', () => {
  const ranges = glyphRanges(bank, 'train');

  it('boxes each digit tightly around its visible ink (>= 30% intensity)', () => {
    let digits = 0;
    for (let seed = 0; seed < 20; seed++) {
      const image = renderDigitsImage(seededRandom(seed), bank, ranges);
      expect(image.width).toBeGreaterThanOrEqual(256);
      expect(image.height).toBeLessThanOrEqual(400);
      expect(image.pixels.length).toBe(image.width * image.height * 3);
      expect(image.digits.length).toBeLessThanOrEqual(RENDER_DEFAULTS.maxDigits);
      // The bounds of each digit's visible ink pixels (owner map, >= 30% intensity, not
      // covered by a later digit) are exactly its box: every ink pixel inside, every edge touched.
      const n = image.digits.length;
      const bounds = new Float64Array(n * 4);
      for (let id = 0; id < n; id++) bounds.set([Infinity, Infinity, -1, -1], id * 4);
      const { owner, width } = image;
      for (let i = 0; i < owner.length; i++) {
        const id = owner[i];
        if (id < 0) continue;
        const x = i % width;
        const y = (i - x) / width;
        const o = id * 4;
        if (x < bounds[o]) bounds[o] = x;
        if (y < bounds[o + 1]) bounds[o + 1] = y;
        if (x + 1 > bounds[o + 2]) bounds[o + 2] = x + 1;
        if (y + 1 > bounds[o + 3]) bounds[o + 3] = y + 1;
      }
      expect(Array.from(bounds)).toEqual(image.digits.flatMap((d) => d.box));
      image.digits.forEach((digit) => {
        digits++;
        const [, y1, , y2] = digit.box;
        expect(y2 - y1).toBeGreaterThanOrEqual(12);
        expect(y2 - y1).toBeLessThanOrEqual(125);
        expect(digit.glyph).toBeGreaterThanOrEqual(ranges[digit.digit].start);
        expect(digit.glyph).toBeLessThan(ranges[digit.digit].end);
      });
      // Limited overlap between digits.
      for (let a = 0; a < image.digits.length; a++) {
        for (let b = a + 1; b < image.digits.length; b++) {
          const p = image.digits[a].box;
          const q = image.digits[b].box;
          const w = Math.min(p[2], q[2]) - Math.max(p[0], q[0]);
          const h = Math.min(p[3], q[3]) - Math.max(p[1], q[1]);
          const smaller = Math.min((p[2] - p[0]) * (p[3] - p[1]), (q[2] - q[0]) * (q[3] - q[1]));
          if (w > 0 && h > 0) expect((w * h) / smaller).toBeLessThanOrEqual(MAX_OVERLAP + 1e-9);
        }
      }
    }
    expect(digits).toBeGreaterThan(50);
  });

  /** Per digit: mean colour of its ink pixels and of the unowned pixels in its box (none when the box has no such pixels). */
  function inkAndGround(image: ReturnType<typeof renderDigitsImage>): { ink: number[]; rest: number[] }[] {
    const out: { ink: number[]; rest: number[] }[] = [];
    for (const [id, digit] of image.digits.entries()) {
      const [x1, y1, x2, y2] = digit.box;
      const sums = [new Float64Array(4), new Float64Array(4)];
      for (let y = y1; y < y2; y++) {
        for (let x = x1; x < x2; x++) {
          const i = y * image.width + x;
          const s = image.owner[i] === id ? sums[0] : image.owner[i] === -1 ? sums[1] : null;
          if (s == null) continue;
          for (let c = 0; c < 3; c++) s[c] += image.pixels[3 * i + c];
          s[3]++;
        }
      }
      if (sums[1][3] > 0) out.push({ ink: [0, 1, 2].map((c) => sums[0][c] / sums[0][3]), rest: [0, 1, 2].map((c) => sums[1][c] / sums[1][3]) });
    }
    return out;
  }
  const lum = (c: number[]) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

  it('inks digits strongly, faintly or by hue alone, as the options share them', () => {
    // Flat canvases without noise, so the ground under a digit is one colour.
    const flat = { ...RENDER_DEFAULTS, canvases: { plain: 1 }, strokeClutter: 0 };
    const measure = (options: typeof flat) => {
      const found: { dl: number; drgb: number }[] = [];
      for (let seed = 0; seed < 12; seed++) {
        for (const { ink, rest } of inkAndGround(renderDigitsImage(seededRandom(seed), bank, ranges, options))) {
          found.push({ dl: Math.abs(lum(ink) - lum(rest)), drgb: Math.hypot(ink[0] - rest[0], ink[1] - rest[1], ink[2] - rest[2]) });
        }
      }
      expect(found.length).toBeGreaterThan(20);
      // Medians: a few boxes hold clutter or another digit's anti-aliased edge.
      const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
      return { dl: median(found.map((f) => f.dl)), drgb: median(found.map((f) => f.drgb)) };
    };
    const strong = measure({ ...flat, faintInk: 0, hueInk: 0 });
    const faint = measure({ ...flat, faintInk: 1, hueInk: 0 });
    const hue = measure({ ...flat, faintInk: 0, hueInk: 1 });
    // Ink pixels include anti-aliased edges (>= 30% intensity), so the contrast measured is below the ink's own.
    expect(strong.dl).toBeGreaterThan(70);
    expect(faint.dl).toBeGreaterThan(12);
    expect(faint.dl).toBeLessThan(55);
    expect(hue.dl).toBeLessThan(10);
    expect(hue.drgb).toBeGreaterThan(40);
  });

  it('draws every canvas style, each giving boxes that hold ink', () => {
    for (const style of ['texture', 'bands', 'fractal', 'blobs', 'plain'] as const) {
      let digits = 0;
      for (let seed = 0; seed < 4; seed++) {
        const image = renderDigitsImage(seededRandom(seed), bank, ranges, { ...RENDER_DEFAULTS, canvases: { [style]: 1 } });
        // The canvas is not one colour (noise at least), and every box holds owned ink.
        expect(new Set(Array.from(image.pixels.subarray(0, 3000))).size).toBeGreaterThan(3);
        for (const [id, d] of image.digits.entries()) {
          const [x1, y1, x2, y2] = d.box;
          let owned = 0;
          for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) if (image.owner[y * image.width + x] === id) owned++;
          expect(owned).toBeGreaterThan(0);
          digits++;
        }
      }
      expect(digits).toBeGreaterThan(4);
    }
  });

  it('thins and thickens strokes: ink covers less of some boxes and more of others than at weight 1', () => {
    // A weight just over 1 draws each digit's power as 3 does (power ~1), so both renders place
    // the same glyphs from the same draws and each digit is compared with itself.
    const coverage = (seed: number, strokeWeight: number) => {
      const image = renderDigitsImage(seededRandom(seed), bank, ranges, { ...RENDER_DEFAULTS, strokeWeight });
      return new Map(
        image.digits.map((d, id) => {
          const [x1, y1, x2, y2] = d.box;
          let ink = 0;
          for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) if (image.owner[y * image.width + x] === id) ink++;
          return [`${d.digit}/${d.glyph}`, ink / ((x2 - x1) * (y2 - y1))];
        }),
      );
    };
    const ratios: number[] = [];
    for (let seed = 0; seed < 8; seed++) {
      const asDrawn = coverage(seed, 1.0001);
      for (const [glyph, share] of coverage(seed, 3)) if (asDrawn.has(glyph)) ratios.push(share / (asDrawn.get(glyph) as number));
    }
    expect(ratios.length).toBeGreaterThan(40);
    expect(ratios.filter((r) => r < 0.9).length).toBeGreaterThan(ratios.length * 0.2);
    expect(ratios.filter((r) => r > 1.1).length).toBeGreaterThan(ratios.length * 0.2);
  });

  it('scales glyphs keeping ink above the threshold', () => {
    const glyph = bank.glyph(7, 3);
    const big = scaleGlyph(glyph, 84, 84);
    expect(big.filter((v) => v >= INK_THRESHOLD).length).toBeGreaterThan(glyph.filter((v) => v >= INK_THRESHOLD).length * 5);
    expect(scaleGlyph(glyph, GLYPH_SIZE, GLYPH_SIZE)).toEqual(glyph);
  });

  it('is deterministic, and some images are empty', () => {
    const a = renderDigitsImage(seededRandom(mixSeed(1, 0, 4)), bank, ranges);
    const b = renderDigitsImage(seededRandom(mixSeed(1, 0, 4)), bank, ranges);
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    expect(a.digits).toEqual(b.digits);
    let empty = 0;
    for (let seed = 0; seed < 200; seed++) if (renderDigitsImage(seededRandom(seed), bank, ranges, { minSide: 64, maxSide: 64, minDigitHeight: 16, maxDigitHeight: 20, maxDigits: 1, emptyProb: 0.05 }).digits.length === 0) empty++;
    expect(empty).toBeGreaterThan(2);
    expect(empty).toBeLessThan(30);
  });
});

describe('vocXml', () => {
  it('writes boxes 1-based (xmin = x1 + 1, xmax = x2)', () => {
    const xml = vocXml('train_00000', 300, 200, [{ digit: 4, glyph: 12, box: [10, 20, 30, 50] }]);
    expect(xml).toContain('<xmin>11</xmin>');
    expect(xml).toContain('<ymin>21</ymin>');
    expect(xml).toContain('<xmax>30</xmax>');
    expect(xml).toContain('<ymax>50</ymax>');
    expect(xml).toContain('<name>4</name>');
    expect(xml).toContain('<glyph>12</glyph>');
  });
});

describe('generateDigits', () => {
  const tmp = tempDir('lumen-digits-');
  afterAll(() => tmp.remove());
  const options = { seed: 11, train: 24, val: 6, test: 6, shift: 4 };

  it('writes a VOC dataset that reads back with the rendered boxes; val/test/shift digits never in train', async () => {
    const dir = join(tmp.dir, 'a');
    const summary = await generateDigits(dir, options);
    expect(summary.images).toEqual({ train: 24, val: 6, test: 6, shift: 4 });
    expect(summary.glyphs.shift).toEqual(glyphRanges(bank, 'test'));
    expect(readdirSync(join(dir, 'JPEGImages'))).toHaveLength(40);
    expect(JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8'))).toMatchObject({ generator: 'lumen-digits', version: DIGITS_VERSION, seed: 11, images: { shift: 4 } });
    const glyphs: Record<string, Set<string>> = {};
    for (const split of DIGITS_SPLITS) {
      const reader = await readVoc(dir, split, { type: 'digits', classes: [...DIGIT_CLASSES], log: () => undefined });
      const examples = await collect(reader.examples);
      expect(examples).toHaveLength(options[split]);
      expect(reader.report.snapshot()).toMatchObject({ boxes: summary.boxes[split], issues: [] });
      glyphs[split] = new Set();
      for (const example of examples) {
        const xml = readFileSync(join(dir, 'Annotations', `${example.id}.xml`), 'utf8');
        for (const match of xml.matchAll(/<name>(\d)<\/name>[\s\S]*?<glyph>(\d+)<\/glyph>/g)) glyphs[split].add(`${match[1]}/${match[2]}`);
      }
      // The boxes are those the renderer drew for this image.
      const first = examples[0];
      const index = Number(first.id.split('_')[1]);
      const s = DIGITS_SPLITS.indexOf(split);
      const random = seededRandom(mixSeed(11, s, index));
      const rendered = split === 'shift' ? renderShiftImage(random, bank, glyphRanges(bank, 'test')) : renderDigitsImage(random, bank, glyphRanges(bank, split));
      expect(Array.from(first.boxes)).toEqual(rendered.digits.flatMap((d) => d.box));
      expect(Array.from(first.labels)).toEqual(rendered.digits.map((d) => d.digit + 1));
    }
    for (const held of ['val', 'test', 'shift']) for (const g of glyphs[held]) expect(glyphs.train.has(g)).toBe(false);
    for (const g of glyphs.val) expect(glyphs.test.has(g)).toBe(false);
    // Shift digits are drawn from the test half of the reserved glyphs.
    const test = glyphRanges(bank, 'test');
    for (const g of glyphs.shift) {
      const [digit, index] = g.split('/').map(Number);
      expect(index).toBeGreaterThanOrEqual(test[digit].start);
      expect(index).toBeLessThan(test[digit].end);
    }
  }, 30000);

  it('encodes each shift image at its own JPEG quality (60..95), train/val/test at 90', async () => {
    const dir = join(tmp.dir, 'a');
    const pixels = Buffer.alloc(16 * 16 * 3, 128);
    const tablesAt = async (quality: number) => quantTables(await sharp(pixels, { raw: { width: 16, height: 16, channels: 3 } }).jpeg({ quality }).toBuffer());
    const tables = (id: string) => quantTables(readFileSync(join(dir, 'JPEGImages', `${id}.jpg`)));
    expect(tables('train_00000')).toBe(await tablesAt(90));
    expect(tables('test_00005')).toBe(await tablesAt(90));
    const qualities: number[] = [];
    for (let i = 0; i < 4; i++) {
      const { quality } = renderShiftImage(seededRandom(mixSeed(11, 3, i)), bank, glyphRanges(bank, 'test'));
      expect(tables(`shift_0000${i}`)).toBe(await tablesAt(quality));
      qualities.push(quality);
    }
    expect(new Set(qualities).size).toBeGreaterThan(1);
  });

  it('gives the same files for the same options, on worker threads as on this one', async () => {
    const a = join(tmp.dir, 'a');
    const b = join(tmp.dir, 'b');
    const summary = await generateDigits(b, options, { workers: 2 });
    const files = (dir: string) => ['JPEGImages', 'Annotations', 'ImageSets/Main'].flatMap((sub) => readdirSync(join(dir, sub)).sort().map((name) => join(sub, name)));
    expect(files(b)).toEqual(files(a));
    expect(files(a)).toHaveLength(40 + 40 + 4);
    for (const name of files(a)) expect(readFileSync(join(b, name)).equals(readFileSync(join(a, name)))).toBe(true);
    const { seconds: _a, ...counted } = JSON.parse(readFileSync(join(a, MANIFEST), 'utf8'));
    const { seconds: _b, ...again } = summary;
    expect(again).toEqual(counted);
  }, 30000);

  it('refuses to replace a folder that is not a generated dataset', async () => {
    const dir = join(tmp.dir, 'mine');
    mkdirSync(dir);
    writeFileSync(join(dir, 'precious.txt'), 'keep me');
    await expect(generateDigits(dir, options)).rejects.toThrow(/^Error in generateDigits: 'dir' .*mine exists, is not empty and has no digits\.json/);
    expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
  });

  it('ensureDigits generates when missing or made with other options, else leaves it', async () => {
    const dir = join(tmp.dir, 'ensure');
    const { log, lines } = logLines();
    const config = { dataset: { type: 'digits' as const, dir, splits: { train: 'train', val: 'val', test: 'test' }, digits: { seed: 1, train: 4, val: 2, test: 2 } } };
    expect((await ensureDigits(config, { log }))?.generated).toBe(true);
    expect(lines[0]).toBe(`digits: ${dir} is missing: generating 8 images (4 train, 2 val, 2 test, seed 1) into ${dir}`);
    expect((await ensureDigits(config, { log }))?.generated).toBe(false);
    const again = await ensureDigits({ dataset: { ...config.dataset, digits: { seed: 2, train: 4, val: 2, test: 2 } } }, { log });
    expect(again).toMatchObject({ generated: true, summary: { seed: 2 } });
    expect(lines[2]).toBe(`digits: ${dir} holds another digits dataset (seed 1, 4 train, 2 val, 2 test): generating 8 images (4 train, 2 val, 2 test, seed 2) into ${dir}`);
    // A shift count is an option like the others: another one regenerates.
    const shift = await ensureDigits({ dataset: { ...config.dataset, digits: { seed: 2, train: 4, val: 2, test: 2, shift: 1 } } }, { log });
    expect(shift).toMatchObject({ generated: true, summary: { images: { shift: 1 } } });
    expect(lines[4]).toBe(`digits: ${dir} holds another digits dataset (seed 2, 4 train, 2 val, 2 test): generating 9 images (4 train, 2 val, 2 test, 1 shift, seed 2) into ${dir}`);
    expect(lines[5]).toMatch(/^digits: generated 4\/2\/2\/1 images/);
    expect(readdirSync(tmp.dir).filter((name) => name.includes('partial'))).toEqual([]);
    expect(await ensureDigits({ dataset: { ...config.dataset, type: 'voc' } })).toBeNull();
  }, 30000);
});
