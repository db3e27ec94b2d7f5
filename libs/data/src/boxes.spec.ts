import fc from 'fast-check';
import { checkBox, cropBoxes, flipBoxes, pickRows, scaleBoxes } from './boxes';

/** Valid boxes inside a width x height image, as float32 rows. */
const boxesIn = (width: number, height: number, max = 8) =>
  fc.array(
    fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })).map(([a, b, c, d]) => {
      const side = (u: number, v: number, size: number) => {
        const hi = Math.max(Math.max(u, v) * size, 0.01);
        return [Math.fround(Math.min(Math.min(u, v) * size, hi - 0.01)), Math.fround(hi)];
      };
      const [x1, x2] = side(a, c, width);
      const [y1, y2] = side(b, d, height);
      return [x1, y1, x2, y2];
    }),
    { maxLength: max },
  );
const image = fc.record({ width: fc.integer({ min: 2, max: 2000 }), height: fc.integer({ min: 2, max: 2000 }) });

describe('checkBox', () => {
  it('keeps a box inside the image as is', () => {
    expect(checkBox(0, 0, 64, 48, 64, 48)).toEqual({ ok: true, clipped: false, box: [0, 0, 64, 48] });
  });

  it('clips a box overlapping the image by at least a pixel each way', () => {
    expect(checkBox(-5, 10, 70, 47, 64, 48)).toEqual({ ok: true, clipped: true, box: [0, 10, 64, 47] });
    expect(checkBox(63, 0, 80, 10, 64, 48)).toEqual({ ok: true, clipped: true, box: [63, 0, 64, 10] });
  });

  it('skips a box outside the image or overlapping it by under a pixel', () => {
    expect(checkBox(70, 10, 80, 20, 64, 48)).toMatchObject({ ok: false, reason: 'box-outside-image' });
    expect(checkBox(63.5, 10, 80, 20, 64, 48)).toMatchObject({ ok: false, reason: 'box-outside-image' });
    expect(checkBox(-10, -10, 0, 0, 64, 48)).toMatchObject({ ok: false, reason: 'box-outside-image' });
  });

  it('skips x2 <= x1, y2 <= y1 and non-finite coordinates', () => {
    expect(checkBox(10, 10, 10, 20, 64, 48)).toEqual({ ok: false, reason: 'degenerate-box', message: 'has x2 <= x1' });
    expect(checkBox(10, 20, 15, 5, 64, 48)).toEqual({ ok: false, reason: 'degenerate-box', message: 'has y2 <= y1' });
    expect(checkBox(NaN, 0, 1, 1, 64, 48)).toMatchObject({ ok: false, reason: 'nan-coordinate' });
    expect(checkBox(0, 0, Infinity, 1, 64, 48)).toMatchObject({ ok: false, reason: 'nan-coordinate' });
  });

  it('returns boxes inside the image whenever it accepts one', () => {
    fc.assert(
      fc.property(image, fc.array(fc.double({ min: -3000, max: 3000, noNaN: true }), { minLength: 4, maxLength: 4 }), ({ width, height }, [x1, y1, x2, y2]) => {
        const check = checkBox(x1, y1, x2, y2, width, height);
        if (!check.ok) return;
        const [a, b, c, d] = check.box;
        expect(a).toBeGreaterThanOrEqual(0);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(c).toBeLessThanOrEqual(width);
        expect(d).toBeLessThanOrEqual(height);
        expect(c - a).toBeGreaterThan(0);
        expect(d - b).toBeGreaterThan(0);
        expect(check.clipped).toBe(x1 < 0 || y1 < 0 || x2 > width || y2 > height);
      }),
    );
  });
});

describe('flipBoxes', () => {
  it('mirrors x: x1 = width - x2, x2 = width - x1', () => {
    expect(Array.from(flipBoxes(Float32Array.from([10, 5, 30, 40]), 100))).toEqual([70, 5, 90, 40]);
  });

  it('flipped twice gives the original, and flipped boxes stay in the image', () => {
    fc.assert(
      fc.property(
        image.chain(({ width, height }) => fc.tuple(fc.constant(width), boxesIn(width, height))),
        ([width, rows]) => {
          const boxes = Float32Array.from(rows.flat());
          const once = flipBoxes(boxes, width);
          for (let i = 0; i < once.length; i += 4) {
            expect(once[i]).toBeGreaterThanOrEqual(0);
            expect(once[i + 2]).toBeLessThanOrEqual(width);
            expect(once[i + 2] - once[i]).toBeCloseTo(boxes[i + 2] - boxes[i], 3);
          }
          const twice = flipBoxes(once, width);
          for (let i = 0; i < boxes.length; i++) expect(twice[i]).toBeCloseTo(boxes[i], 3);
        },
      ),
    );
  });
});

describe('scaleBoxes', () => {
  it('scales x and y by their own factors, keeping boxes inside the scaled image', () => {
    fc.assert(
      fc.property(
        image.chain(({ width, height }) => fc.tuple(fc.constant(width), fc.constant(height), boxesIn(width, height))),
        fc.double({ min: 0.1, max: 5, noNaN: true }),
        ([width, height, rows], scale) => {
          const outW = Math.max(1, Math.floor(width * scale));
          const outH = Math.max(1, Math.floor(height * scale));
          const boxes = Float32Array.from(rows.flat());
          const scaled = scaleBoxes(boxes, outW / width, outH / height, outW, outH);
          for (let i = 0; i < scaled.length; i += 4) {
            expect(scaled[i]).toBeGreaterThanOrEqual(0);
            expect(scaled[i + 1]).toBeGreaterThanOrEqual(0);
            expect(scaled[i + 2]).toBeLessThanOrEqual(outW);
            expect(scaled[i + 3]).toBeLessThanOrEqual(outH);
            expect(scaled[i + 2]).toBeCloseTo((boxes[i + 2] * outW) / width, 2);
          }
        },
      ),
    );
  });
});

describe('cropBoxes', () => {
  it('moves boxes to the window and drops those keeping less than minVisible of their area', () => {
    const boxes = Float32Array.from([10, 10, 20, 20, 0, 0, 10, 10, 45, 10, 55, 20]);
    const { boxes: out, keep } = cropBoxes(boxes, { left: 5, top: 5, width: 45, height: 40 }, 0.5);
    // Box 1 keeps 25% (dropped); box 2 keeps 50% (kept, clipped).
    expect(Array.from(keep)).toEqual([0, 2]);
    expect(Array.from(out)).toEqual([5, 5, 15, 15, 40, 5, 45, 15]);
  });

  it('keeps boxes inside the window, at least minVisible of their area, and nothing else', () => {
    fc.assert(
      fc.property(
        image.chain(({ width, height }) =>
          fc.tuple(
            fc.constant(width),
            fc.constant(height),
            boxesIn(width, height),
            fc.record({ x: fc.double({ min: 0, max: 0.9, noNaN: true }), y: fc.double({ min: 0, max: 0.9, noNaN: true }), s: fc.double({ min: 0.1, max: 1, noNaN: true }) }),
            fc.double({ min: 0, max: 1, noNaN: true }),
          ),
        ),
        ([width, height, rows, w, minVisible]) => {
          const window = {
            left: Math.floor(w.x * width),
            top: Math.floor(w.y * height),
            width: Math.max(1, Math.floor(w.s * width * (1 - w.x))),
            height: Math.max(1, Math.floor(w.s * height * (1 - w.y))),
          };
          const boxes = Float32Array.from(rows.flat());
          const { boxes: out, keep } = cropBoxes(boxes, window, minVisible);
          expect(out.length).toBe(keep.length * 4);
          keep.forEach((k, i) => {
            const [x1, y1, x2, y2] = out.subarray(4 * i, 4 * i + 4);
            expect(x1).toBeGreaterThanOrEqual(0);
            expect(y1).toBeGreaterThanOrEqual(0);
            expect(x2).toBeLessThanOrEqual(window.width + 1e-3);
            expect(y2).toBeLessThanOrEqual(window.height + 1e-3);
            expect(x2).toBeGreaterThan(x1);
            expect(y2).toBeGreaterThan(y1);
            const area = (boxes[4 * k + 2] - boxes[4 * k]) * (boxes[4 * k + 3] - boxes[4 * k + 1]);
            expect((x2 - x1) * (y2 - y1)).toBeGreaterThanOrEqual(minVisible * area * (1 - 1e-4) - 1e-6);
          });
        },
      ),
    );
  });
});

describe('pickRows', () => {
  it('picks rows of any stride', () => {
    expect(Array.from(pickRows(Int32Array.from([1, 2, 3]), Int32Array.from([2, 0])))).toEqual([3, 1]);
    expect(Array.from(pickRows(Float32Array.from([1, 2, 3, 4]), Int32Array.from([1]), 2))).toEqual([3, 4]);
  });
});
