import sharp from 'sharp';
import { colourFor, drawObjects, mediaName, overlaySvg, PALETTE } from './draw';
import type { PredictedObject } from './objects';
import { testImage } from './testing/tiny-checkpoint';

const CLASSES = ['cat', 'dog', 'bird'];

async function rgb(image: Buffer) {
  const { data, info } = await sharp(image).autoOrient().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, at: (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)) };
}

describe('overlaySvg', () => {
  it('draws a box and a filled tag per object, colour per class, text escaped', () => {
    const objects: PredictedObject[] = [
      { bbox: [10, 20, 50, 60], label: 'dog', prob: 0.9812 },
      { bbox: [0, 0, 5, 5], label: 'a<b>&', prob: 0.5 },
    ];
    const svg = overlaySvg(100, 80, objects, [...CLASSES, 'a<b>&']);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="100" height="80"/);
    expect(svg).toContain(`<rect x="10" y="20" width="40" height="40" fill="none" stroke="${PALETTE[1]}"`);
    expect(svg).toContain(`fill="${PALETTE[3]}"/>`);
    expect(svg).toContain('>dog 0.98</text>');
    expect(svg).toContain('>a&lt;b&gt;&amp; 0.50</text>');
    // The most probable object last (on top).
    expect(svg.indexOf('dog 0.98')).toBeGreaterThan(svg.indexOf('a&lt;b'));
  });

  it('colours wrap around the palette', () => {
    const many = Array.from({ length: 25 }, (_, i) => `c${i}`);
    expect(colourFor('c0', many)).toBe(PALETTE[0]);
    expect(colourFor('c21', many)).toBe(PALETTE[1]);
    expect(colourFor('unknown', many)).toBe(PALETTE[PALETTE.length - 1]);
  });
});

describe('mediaName', () => {
  it('keeps the base name; JPEG stays JPEG, PNG stays PNG, anything else becomes PNG', () => {
    expect(mediaName('a/b/photo.JPG')).toEqual({ name: 'photo.JPG', format: 'jpeg' });
    expect(mediaName('x.jpeg')).toEqual({ name: 'x.jpeg', format: 'jpeg' });
    expect(mediaName('dir/y.png')).toEqual({ name: 'y.png', format: 'png' });
    expect(mediaName('z.webp')).toEqual({ name: 'z.png', format: 'png' });
    expect(mediaName('noext')).toEqual({ name: 'noext.png', format: 'png' });
  });

  it('videos become <name>.mp4', () => {
    expect(mediaName('clips/street.MOV')).toEqual({ name: 'street.mp4', format: 'mp4' });
    expect(mediaName('a.b.webm')).toEqual({ name: 'a.b.mp4', format: 'mp4' });
    expect(mediaName('c.mp4')).toEqual({ name: 'c.mp4', format: 'mp4' });
  });
});

describe('drawObjects', () => {
  it('same size as the input; pixels change on the box and its tag only', async () => {
    const input = await testImage(120, 90, 'png');
    const objects: PredictedObject[] = [{ bbox: [20, 40, 60, 80], label: 'cat', prob: 0.9 }];
    const drawn = await drawObjects(input, objects, CLASSES, 'png');
    const meta = await sharp(drawn).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 120, 90]);
    const before = await rgb(input);
    const after = await rgb(drawn);
    // Left edge of the box: the class colour.
    for (let y = 45; y < 75; y += 5) {
      expect(after.at(20, y)).not.toEqual(before.at(20, y));
      expect(after.at(20, y)).toEqual([0x1f, 0x77, 0xb4]);
    }
    // The tag above the box is filled.
    expect(after.at(22, 36)).not.toEqual(before.at(22, 36));
    // Inside the box and right of everything drawn: untouched.
    for (const [x, y] of [[40, 60], [30, 70], [85, 10], [110, 50], [119, 89]]) expect(after.at(x, y)).toEqual(before.at(x, y));
  });

  it('applies EXIF orientation first (boxes are in displayed pixels) and writes JPEG', async () => {
    const input = await testImage(200, 100, 'jpeg', 4, 6); // stored 200x100, displayed 100x200
    const drawn = await drawObjects(input, [{ bbox: [10, 120, 90, 190], label: 'bird', prob: 0.7 }], CLASSES, 'jpeg');
    const meta = await sharp(drawn).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 100, 200]);
    const before = await rgb(input);
    const after = await rgb(drawn);
    expect([after.width, after.height]).toEqual([before.width, before.height]);
    const diff = (x: number, y: number) => after.at(x, y).reduce((s, v, c) => s + Math.abs(v - before.at(x, y)[c]), 0);
    expect(diff(50, 120)).toBeGreaterThan(60); // top edge of the box
    expect(diff(50, 60)).toBeLessThan(30); // far from it: only JPEG noise
  });
});
