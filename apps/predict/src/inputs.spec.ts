import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareNatural, expandInputs, isImagePath } from './inputs';

describe('expandInputs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-inputs-'));
    for (const f of ['10.jpg', '2.jpg', 'b/1.PNG', 'b/c/3.webp', 'notes.txt', 'b/readme.md', 'a.jpeg']) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), 'x');
    }
    mkdirSync(join(dir, 'empty'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('folders recursively by image extension, natural order, joined to the folder as given', async () => {
    expect(await expandInputs([dir])).toEqual(['2.jpg', '10.jpg', 'a.jpeg', 'b/1.PNG', 'b/c/3.webp'].map((f) => join(dir, f)));
  });

  it('keeps the order of the inputs; files as they are, whatever their extension', async () => {
    const files = await expandInputs([join(dir, 'notes.txt'), join(dir, 'b'), join(dir, '2.jpg'), join(dir, '2.jpg')]);
    expect(files).toEqual([join(dir, 'notes.txt'), join(dir, 'b/1.PNG'), join(dir, 'b/c/3.webp'), join(dir, '2.jpg'), join(dir, '2.jpg')]);
  });

  it('globs expand to images in natural order', async () => {
    expect(await expandInputs([`${dir}/*.jpg`])).toEqual([join(dir, '2.jpg'), join(dir, '10.jpg')]);
    expect(await expandInputs([`${dir}/**/*`])).toEqual(['10.jpg', '2.jpg', 'a.jpeg', 'b/1.PNG', 'b/c/3.webp'].map((f) => join(dir, f)).sort(compareNatural));
  });

  it('keeps a missing path (reported as unreadable later) and warns about empty folders and globs', async () => {
    const warnings: string[] = [];
    const files = await expandInputs([join(dir, 'missing.jpg'), join(dir, 'empty'), `${dir}/*.gif`], (m) => warnings.push(m));
    expect(files).toEqual([join(dir, 'missing.jpg')]);
    expect(warnings).toEqual([expect.stringContaining(`no images in folder ${join(dir, 'empty')}`), `no images match ${dir}/*.gif`]);
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

  it('knows image extensions', () => {
    expect(['a.jpg', 'b.JPEG', 'c.png', 'd.tiff', 'e.avif'].every(isImagePath)).toBe(true);
    expect(['a.txt', 'jpg', 'b.jpg.bak'].some(isImagePath)).toBe(false);
  });
});
