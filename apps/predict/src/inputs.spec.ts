import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareNatural, expandInputs, isImagePath, isVideoPath } from './inputs';

describe('expandInputs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-inputs-'));
    for (const f of ['10.jpg', '2.jpg', 'b/1.PNG', 'b/c/3.webp', 'notes.txt', 'b/readme.md', 'a.jpeg', 'v/clip.MOV', 'v/2.mp4', 'v/x.webm', 'v/y.mkv', 'v/z.avi', 'v/w.flv']) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), 'x');
    }
    mkdirSync(join(dir, 'empty'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('folders recursively by image and video extension, natural order, joined to the folder as given', async () => {
    const videos = ['v/2.mp4', 'v/clip.MOV', 'v/x.webm', 'v/y.mkv', 'v/z.avi'];
    expect(await expandInputs([dir])).toEqual(['2.jpg', '10.jpg', 'a.jpeg', 'b/1.PNG', 'b/c/3.webp', ...videos].map((f) => join(dir, f)));
  });

  it('keeps the order of the inputs; files as they are, whatever their extension', async () => {
    const files = await expandInputs([join(dir, 'notes.txt'), join(dir, 'b'), join(dir, '2.jpg'), join(dir, '2.jpg')]);
    expect(files).toEqual([join(dir, 'notes.txt'), join(dir, 'b/1.PNG'), join(dir, 'b/c/3.webp'), join(dir, '2.jpg'), join(dir, '2.jpg')]);
  });

  it('globs expand to images and videos in natural order', async () => {
    expect(await expandInputs([`${dir}/*.jpg`])).toEqual([join(dir, '2.jpg'), join(dir, '10.jpg')]);
    const all = ['10.jpg', '2.jpg', 'a.jpeg', 'b/1.PNG', 'b/c/3.webp', 'v/clip.MOV', 'v/2.mp4', 'v/x.webm', 'v/y.mkv', 'v/z.avi'];
    expect(await expandInputs([`${dir}/**/*`])).toEqual(all.map((f) => join(dir, f)).sort(compareNatural));
  });

  it('keeps a missing path (reported as unreadable later) and warns about empty folders and globs', async () => {
    const warnings: string[] = [];
    const files = await expandInputs([join(dir, 'missing.jpg'), join(dir, 'empty'), `${dir}/*.gif`], (m) => warnings.push(m));
    expect(files).toEqual([join(dir, 'missing.jpg')]);
    expect(warnings).toEqual([expect.stringMatching(`^no images or videos in folder ${join(dir, 'empty')} \\(looked for .*\\.png.*\\.mp4, \\.mov`), `no images or videos match ${dir}/*.gif`]);
  });

  it('finds .jfif images in a folder, as training does', async () => {
    const jfif = mkdtempSync(join(tmpdir(), 'lumen-inputs-jfif-'));
    try {
      writeFileSync(join(jfif, 'photo.jfif'), 'x');
      writeFileSync(join(jfif, 'scan.JFIF'), 'x');
      expect(await expandInputs([jfif])).toEqual([join(jfif, 'photo.jfif'), join(jfif, 'scan.JFIF')]);
    } finally {
      rmSync(jfif, { recursive: true, force: true });
    }
  });

  it('knows image and video extensions', () => {
    expect(['a.jpg', 'b.JPEG', 'c.png', 'd.tiff', 'e.avif'].every(isImagePath)).toBe(true);
    expect(['a.txt', 'jpg', 'b.jpg.bak', 'c.mp4'].some(isImagePath)).toBe(false);
    expect(['a.mp4', 'b.MOV', 'c.avi', 'd.mkv', 'e.webm'].every(isVideoPath)).toBe(true);
    expect(['a.flv', 'mp4', 'b.mp4.part', 'c.png'].some(isVideoPath)).toBe(false);
  });
});
