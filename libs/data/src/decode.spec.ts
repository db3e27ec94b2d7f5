import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, renderImage, resizedSize } from './decode';
import { FIXTURES, meanColour } from './testing/helpers';

const image = (name: string) => join(FIXTURES, 'images', name);

describe('resizedSize', () => {
  // torchvision 0.14 GeneralizedRCNNTransform (min 600, max 1000): F.interpolate output sizes.
  it.each([
    [500, 375, 800, 600],
    [500, 333, 900, 600],
    [500, 281, 1000, 562],
    [353, 500, 600, 849],
    [400, 256, 937, 600],
    [257, 399, 600, 931],
  ])('%ix%i -> %ix%i as torchvision', (width, height, outW, outH) => {
    const size = resizedSize(width, height, { minSize: 600, maxSize: 1000 });
    expect([size.width, size.height]).toEqual([outW, outH]);
    expect(size.scale).toBe(Math.min(600 / Math.min(width, height), 1000 / Math.max(width, height)));
  });
});

describe('decodeImage', () => {
  it.each(['pattern.jpg', 'pattern.png', 'pattern.webp'])('decodes %s to RGB at the resize rule', async (name) => {
    const out = await decodeImage(image(name), { minSize: 60, maxSize: 1000 });
    expect([out.originalWidth, out.originalHeight, out.width, out.height, out.scale]).toEqual([40, 30, 80, 60, 2]);
    expect(out.pixels).toBeInstanceOf(Uint8Array);
    expect(out.pixels.length).toBe(80 * 60 * 3);
    // Left red, right blue, top quarter green.
    const left = meanColour(out.pixels, 80, 5, 30, 30, 55);
    const right = meanColour(out.pixels, 80, 50, 30, 75, 55);
    const top = meanColour(out.pixels, 80, 5, 2, 30, 10);
    expect(left[0]).toBeGreaterThan(190);
    expect(left[2]).toBeLessThan(60);
    expect(right[2]).toBeGreaterThan(190);
    expect(right[0]).toBeLessThan(60);
    expect(top[1]).toBeGreaterThan(170);
  });

  it('applies EXIF orientation', async () => {
    // Stored 40x20 with orientation 6 (rotate 90° clockwise to display): displayed 20x40,
    // the stored left half (red) on top, the stored top band (green) on the right.
    const out = await decodeImage(image('rotated.jpg'), { minSize: 20, maxSize: 100 });
    expect([out.originalWidth, out.originalHeight, out.width, out.height]).toEqual([20, 40, 20, 40]);
    expect(meanColour(out.pixels, 20, 2, 2, 12, 18)[0]).toBeGreaterThan(190);
    expect(meanColour(out.pixels, 20, 2, 22, 12, 38)[2]).toBeGreaterThan(190);
    expect(meanColour(out.pixels, 20, 17, 2, 20, 38)[1]).toBeGreaterThan(150);
  });

  it('makes RGB of grey, RGBA and 16-bit images', async () => {
    const grey = await decodeImage(image('grey.png'), { minSize: 8, maxSize: 100 });
    expect(grey.pixels.length).toBe(16 * 8 * 3);
    expect(Array.from(grey.pixels.subarray(0, 3))).toEqual([100, 100, 100]);
    const rgba = await decodeImage(image('rgba.png'), { minSize: 8, maxSize: 100 });
    expect(rgba.pixels.length).toBe(16 * 8 * 3);
    const deep = await decodeImage(image('deep.png'), { minSize: 8, maxSize: 100 });
    expect(deep.pixels.length).toBe(16 * 8 * 3);
    expect(deep.pixels[0]).toBe(156); // 40000 / 257
  });

  it('decodes a Buffer', async () => {
    const out = await decodeImage(readFileSync(image('pattern.png')), { minSize: 30, maxSize: 40 });
    expect([out.width, out.height, out.scale]).toEqual([40, 30, 1]);
  });

  it('names the file it cannot read or decode', async () => {
    const rule = { minSize: 10, maxSize: 20 };
    await expect(decodeImage(image('absent.jpg'), rule)).rejects.toThrow(/^Error in decodeImage: cannot read '.*absent\.jpg': ENOENT/);
    await expect(decodeImage(image('truncated.jpg'), rule)).rejects.toThrow(/^Error in decodeImage: cannot decode '.*truncated\.jpg': the JPEG is truncated: its 194 bytes end before an end-of-image marker$/);
    await expect(decodeImage(Buffer.from('not an image'), rule)).rejects.toThrow('Error in decodeImage: cannot decode a buffer of 12 bytes: Input buffer contains unsupported image format');
    await expect(decodeImage(image('pattern.png'), { minSize: 0, maxSize: 20 })).rejects.toThrow("Error in decodeImage: 'options.minSize' must be a positive number, but got 0.");
  });
});

describe('renderImage', () => {
  const data = readFileSync(image('pattern.png'));
  const source = { width: 40, height: 30 };

  it('flips left-right', async () => {
    const pixels = await renderImage(data, { source, width: 40, height: 30, flip: true });
    expect(meanColour(pixels, 40, 2, 10, 18, 28)[2]).toBeGreaterThan(190); // blue now on the left
    expect(meanColour(pixels, 40, 22, 10, 38, 28)[0]).toBeGreaterThan(190);
  });

  it('crops before resizing', async () => {
    const pixels = await renderImage(data, { source, crop: { left: 0, top: 10, width: 20, height: 20 }, width: 40, height: 40, flip: false });
    const colour = meanColour(pixels, 40, 0, 0, 40, 40);
    expect(colour[0]).toBeGreaterThan(210); // the red half only
    expect(colour[2]).toBeLessThan(30);
  });

  it('applies the colour matrix and contrast around the mean grey, at either resolution', async () => {
    const identity = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
    const plain = await renderImage(data, { source, width: 40, height: 30, flip: false });
    // Without channels: matrix in the second pipeline; 3-band sRGB: in the first.
    for (const from of [source, { ...source, channels: 3, space: 'srgb' }]) {
      for (const size of [
        [40, 30],
        [80, 60],
        [20, 15],
      ]) {
        const same = await renderImage(data, { source: from, width: size[0], height: size[1], flip: false, colour: { matrix: identity, contrast: 1 } });
        const reference = await renderImage(data, { source: from, width: size[0], height: size[1], flip: false });
        let worst = 0;
        for (let i = 0; i < same.length; i++) worst = Math.max(worst, Math.abs(same[i] - reference[i]));
        expect(worst).toBeLessThanOrEqual(2);
      }
      // Brightness 0.5 halves every value; contrast 0 makes the image its mean grey.
      const dark = await renderImage(data, { source: from, width: 40, height: 30, flip: false, colour: { matrix: identity.map((r) => r.map((v) => v * 0.5)), contrast: 1 } });
      for (let i = 0; i < dark.length; i += 97) expect(Math.abs(dark[i] - plain[i] * 0.5)).toBeLessThanOrEqual(1);
      const flat = await renderImage(data, { source: from, width: 40, height: 30, flip: false, colour: { matrix: identity, contrast: 0 } });
      expect(new Set(flat).size).toBe(1);
    }
  });
});

describe('renderImage colour on any input', () => {
  it('applies the colour path to grey and RGBA images (matrix in the second pipeline)', async () => {
    const half = [
      [0.5, 0, 0],
      [0, 0.5, 0],
      [0, 0, 0.5],
    ];
    for (const [name, value] of [
      ['grey.png', 100],
      ['rgba.png', 150],
    ] as const) {
      const data = readFileSync(image(name));
      const source = { width: 16, height: 8, channels: name === 'grey.png' ? 1 : 4, space: name === 'grey.png' ? 'b-w' : 'srgb' };
      const out = await renderImage(data, { source, width: 32, height: 16, flip: false, colour: { matrix: half, contrast: 1 } });
      expect(out.length).toBe(32 * 16 * 3);
      expect(Math.abs(out[0] - value / 2)).toBeLessThanOrEqual(1);
    }
  });
});
