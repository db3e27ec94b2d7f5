import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, FIXTURES, logLines, tempDir } from './testing/helpers';
import { readVoc } from './voc';

const DIR = join(FIXTURES, 'voc');

describe('readVoc', () => {
  it('reads valid examples, converting 1-based inclusive boxes to pixel corners', async () => {
    const { log, lines } = logLines();
    const reader = await readVoc(DIR, 'train', { discoverFrom: ['train', 'val', 'test'], log });
    expect(reader.classes).toEqual(['cat', 'dog', 'person', 'unicorn']);
    expect(reader.listed).toBe(11);
    const examples = await collect(reader.examples);
    expect(examples.map((e) => e.id)).toEqual(['000001', '000002', '000003', '000004', '000006', '000009', '000010']);
    const first = examples[0];
    expect(first.imagePath).toBe(join(DIR, 'JPEGImages', '000001.jpg'));
    expect([first.width, first.height]).toEqual([64, 48]);
    expect(Array.from(first.boxes)).toEqual([4, 5, 30, 40, 19, 9, 60, 45]);
    expect(Array.from(first.labels)).toEqual([2, 1]);
    expect(Array.from(first.difficult)).toEqual([0, 1]);
    // Any image extension; <size> missing -> from the header; no objects -> kept, empty.
    expect(examples[1].imagePath.endsWith('000002.png')).toBe(true);
    const empty = examples.find((e) => e.id === '000006');
    expect([empty?.width, empty?.height, empty?.boxes.length]).toEqual([40, 40, 0]);
    expect(lines.length).toBe(reader.report.snapshot().issues.length);
  });

  it('skips and counts what is broken, naming file and line', async () => {
    const { log, lines } = logLines();
    const reader = await readVoc(DIR, 'train', { classes: ['cat', 'dog', 'person'], log });
    await collect(reader.examples);
    const report = reader.report.snapshot();
    expect(report).toMatchObject({
      type: 'voc',
      split: 'train',
      listed: 11,
      examples: 7,
      emptyExamples: 1,
      boxes: 7,
      difficultBoxes: 1,
      clippedBoxes: 1,
      boxesPerClass: { cat: 2, dog: 3, person: 2 },
      skippedExamples: { 'duplicate-id': 1, 'malformed-file': 1, 'missing-file': 1, 'missing-image': 1 },
      skippedBoxes: { 'box-outside-image': 1, 'degenerate-box': 1, 'malformed-record': 1, 'nan-coordinate': 1, 'unknown-class': 1 },
      omittedIssues: 0,
    });
    const text = lines.join('\n');
    expect(text).toContain('000005.xml:5: malformed XML: Expected closing tag');
    expect(text).toContain("000002.xml:4 [object 0]: person box (xmin 41, ymin 51, xmax 60, ymax 64) reaches past the 48x64 image; clipped to [40, 50, 48, 64] (box clipped)");
    expect(text).toContain('000002.xml:9 [object 1]: dog box (xmin 100, ymin 100, xmax 120, ymax 120) lies outside the 48x64 image');
    expect(text).toContain('000002.xml:14 [object 2]: cat box (xmin 31, ymin 10, xmax 20, ymax 20) has x2 <= x1 (box skipped)');
    expect(text).toContain('000002.xml:19 [object 3]: unknown class "unicorn" (box skipped)');
    expect(text).toContain('000009.xml:4 [object 0]: dog box (xmin abc, ymin 1, xmax 10, ymax 10) has a non-numeric coordinate');
    expect(text).toContain('000009.xml:9 [object 1]: <object> without <bndbox>');
    expect(text).toContain('Annotations/000007.xml: annotation missing (ENOENT)');
    expect(text).toContain('no image 000008.* (or "000008.jpg") in JPEGImages/');
    expect(text).toContain('train.txt: id "000001" is listed twice');
  });

  it('labels in the order of explicit classes', async () => {
    const reader = await readVoc(DIR, 'val', { classes: ['person', 'dog'], log: () => undefined });
    const [rotated] = await collect(reader.examples);
    expect(Array.from(rotated.labels)).toEqual([2]);
  });

  it('opens a missing split empty, saying why', async () => {
    const { log, lines } = logLines();
    const reader = await readVoc(DIR, 'test', { log });
    expect(await collect(reader.examples)).toEqual([]);
    expect(reader.report.snapshot()).toMatchObject({ listed: 0, examples: 0, fatal: `no split list ${join(DIR, 'ImageSets', 'Main', 'test.txt')}`, skippedExamples: { 'missing-file': 1 } });
    expect(lines).toHaveLength(1);
    const gone = await readVoc(join(DIR, 'nowhere'), 'train', { log: () => undefined });
    expect(gone.report.snapshot().fatal).toBe(`dataset folder ${join(DIR, 'nowhere')} does not exist`);
  });

  it('checks its arguments', async () => {
    await expect(readVoc('', 'train')).rejects.toThrow("Error in readVoc: 'dir' must be a non-empty string, but got \"\".");
    await expect(readVoc(DIR, 'train', { classes: ['a', 'a'] })).rejects.toThrow(`Error in readVoc: 'options.classes' must not repeat a class, but "a" appears twice.`);
  });

  describe('class discovery', () => {
    const bomb = [
      '<?xml version="1.0"?>',
      '<!DOCTYPE lolz [',
      ' <!ENTITY lol "lol">',
      ' <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">',
      ' <!ENTITY lol9 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">',
      ']>',
      '<annotation><filename>bomb.jpg</filename><size><width>64</width><height>48</height></size>',
      '<object><name>&lol9;</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>',
    ].join('\n');
    const xml = (name: string, box: string) =>
      `<annotation><size><width>64</width><height>48</height></size><object><name>${name}</name><bndbox>${box}</bndbox></object></annotation>`;
    const box = (x1: number, y1: number, x2: number, y2: number) => `<xmin>${x1}</xmin><ymin>${y1}</ymin><xmax>${x2}</xmax><ymax>${y2}</ymax>`;

    /** A VOC folder: `good` kept; `bomb` and `ghost` (no image) rejected; `flat` kept with only a degenerate box. */
    function writeDataset(dir: string): void {
      for (const sub of ['Annotations', 'JPEGImages', 'ImageSets/Main']) mkdirSync(join(dir, sub), { recursive: true });
      for (const id of ['good', 'bomb', 'flat']) copyFileSync(join(DIR, 'JPEGImages', '000001.jpg'), join(dir, 'JPEGImages', `${id}.jpg`));
      writeFileSync(join(dir, 'Annotations', 'good.xml'), xml('cat', box(2, 2, 20, 20)));
      writeFileSync(join(dir, 'Annotations', 'bomb.xml'), bomb);
      writeFileSync(join(dir, 'Annotations', 'ghost.xml'), xml('ghost', box(2, 2, 20, 20)));
      writeFileSync(join(dir, 'Annotations', 'flat.xml'), xml('flat', box(20, 2, 10, 20)));
      writeFileSync(join(dir, 'ImageSets', 'Main', 'train.txt'), 'good\nbomb\nghost\n');
      writeFileSync(join(dir, 'ImageSets', 'Main', 'val.txt'), 'flat\n');
    }

    it('takes classes only from the boxes of kept examples, and still says why each file was skipped', async () => {
      const tmp = tempDir();
      try {
        writeDataset(tmp.dir);
        const { log, lines } = logLines();
        const reader = await readVoc(tmp.dir, 'train', { discoverFrom: ['train', 'val'], log });
        expect(reader.classes).toEqual(['cat']);
        expect((await collect(reader.examples)).map((e) => e.id)).toEqual(['good']);
        expect(reader.report.snapshot().skippedExamples).toEqual({ 'malformed-file': 1, 'missing-image': 1 });
        expect(lines).toEqual([
          `warning: ${join(tmp.dir, 'Annotations', 'bomb.xml')}:3: malformed XML: entity declarations (<!ENTITY>) are not supported (image skipped)`,
          `warning: ${join(tmp.dir, 'Annotations', 'ghost.xml')}: no image ghost.* (or "") in JPEGImages/ (image skipped)`,
        ]);
        const val = await readVoc(tmp.dir, 'val', { discoverFrom: ['train', 'val'], log });
        expect(val.classes).toEqual(['cat']);
        await collect(val.examples);
        expect(lines[2]).toBe(`warning: ${join(tmp.dir, 'Annotations', 'flat.xml')}:1 [object 0]: flat box (xmin 20, ymin 2, xmax 10, ymax 20) has x2 <= x1 (box skipped)`);
      } finally {
        tmp.remove();
      }
    });

    it('reads the encoding an XML declaration names; other bytes that are not UTF-8 skip the file, naming the line', async () => {
      const tmp = tempDir();
      try {
        writeDataset(tmp.dir);
        const latin1 = (text: string) => Buffer.from(text, 'latin1');
        writeFileSync(join(tmp.dir, 'Annotations', 'good.xml'), latin1(`<?xml version="1.0" encoding="ISO-8859-1"?>\n${xml('café', box(2, 2, 20, 20))}`));
        writeFileSync(join(tmp.dir, 'Annotations', 'bomb.xml'), latin1(`<?xml version="1.0"?>\n\n${xml('crème', box(2, 2, 20, 20))}`));
        const { log, lines } = logLines();
        const reader = await readVoc(tmp.dir, 'train', { log });
        expect(reader.classes).toEqual(['café']);
        await collect(reader.examples);
        expect(lines[0]).toBe(`warning: ${join(tmp.dir, 'Annotations', 'bomb.xml')}:3: malformed XML: not utf-8 text (save the file as UTF-8) (image skipped)`);
      } finally {
        tmp.remove();
      }
    });

    it('decodes character references and rejects entities the parser would leave as written', async () => {
      const tmp = tempDir();
      try {
        writeDataset(tmp.dir);
        writeFileSync(join(tmp.dir, 'Annotations', 'good.xml'), xml('caf&#233; &amp; bar', box(2, 2, 20, 20)));
        writeFileSync(join(tmp.dir, 'Annotations', 'bomb.xml'), `<!-- &nbsp; in a comment is fine -->\n${xml('&nbsp;cat', box(2, 2, 20, 20))}`);
        const { log, lines } = logLines();
        const reader = await readVoc(tmp.dir, 'train', { log });
        expect(reader.classes).toEqual(['café & bar']);
        await collect(reader.examples);
        expect(lines[0]).toBe(`warning: ${join(tmp.dir, 'Annotations', 'bomb.xml')}:2: malformed XML: unknown entity &nbsp; (XML defines &amp; &lt; &gt; &quot; &apos; and &#N;) (image skipped)`);
      } finally {
        tmp.remove();
      }
    });
  });
});
