import { join } from 'node:path';
import { readCsv } from './csv';
import { collect, FIXTURES, logLines, tempDir } from './testing/helpers';
import { writeFileSync, copyFileSync } from 'node:fs';

const DIR = join(FIXTURES, 'csv');

describe('readCsv', () => {
  it('reads Luminoth CSV rows grouped by image, sizes from the images', async () => {
    const { log, lines } = logLines();
    const reader = await readCsv(DIR, 'train', { discoverFrom: ['train', 'val'], log });
    expect(reader.classes).toEqual(['bird', 'cat', 'dog']);
    const examples = await collect(reader.examples);
    expect(examples.map((e) => [e.id, e.width, e.height])).toEqual([
      ['a.jpg', 64, 48],
      ['b', 48, 64],
      ['c.jpg', 32, 32],
    ]);
    expect(Array.from(examples[0].boxes)).toEqual([4, 5, 24, 35, 30, 10, 60.5, 30]);
    expect(Array.from(examples[0].labels)).toEqual([3, 2]);
    expect(examples[1].imagePath).toBe(join(DIR, 'b.png'));
    expect(examples[2].imagePath).toBe(join(DIR, 'train', 'c.jpg'));
    expect(examples[2].boxes.length).toBe(0);
    expect(reader.report.snapshot()).toMatchObject({
      listed: 5,
      examples: 3,
      emptyExamples: 1,
      boxes: 3,
      clippedBoxes: 1,
      skippedExamples: { 'missing-image': 1, 'undecodable-image': 1 },
      skippedBoxes: { 'malformed-record': 1, 'nan-coordinate': 1, 'degenerate-box': 1 },
    });
    const text = lines.join('\n');
    expect(text).toContain('train.csv:7: row has 3 column(s), expected 6');
    expect(text).toContain('train.csv:6: no image "missing.jpg"');
    expect(text).toContain('train.csv:8: dog box [1, NaN, 5, 6] has a non-numeric coordinate');
    expect(text).toContain('train.csv:9: dog box [10, 10, 5, 20] has x2 <= x1');
    expect(text).toMatch(/broken\.jpg: unreadable image: .*unsupported image format/);
  });

  it('reads a file without header; reports an unclosed quote with its line', async () => {
    const { log, lines } = logLines();
    const reader = await readCsv(DIR, 'val', { log });
    expect(reader.classes).toEqual(['bird', 'dog']);
    expect((await collect(reader.examples)).map((e) => e.id)).toEqual(['a.jpg', 'b.png']);
    expect(lines[0]).toMatch(/val\.csv:3: malformed CSV: Quote Not Closed.*\(the rest of the file is unreadable\)/);
  });

  it('takes the header order and Luminoth aliases; a header without the columns is fatal', async () => {
    const tmp = tempDir();
    try {
      copyFileSync(join(DIR, 'a.jpg'), join(tmp.dir, 'a.jpg'));
      writeFileSync(join(tmp.dir, 'train.csv'), 'class,x1,y1,x2,y2,img_name\ndog,1,2,3,4,a.jpg\n');
      const reader = await readCsv(tmp.dir, 'train', { log: () => undefined });
      const [example] = await collect(reader.examples);
      expect(Array.from(example.boxes)).toEqual([1, 2, 3, 4]);
      expect(reader.classes).toEqual(['dog']);
      writeFileSync(join(tmp.dir, 'val.csv'), 'image,label\na.jpg,dog\n');
      const bad = await readCsv(tmp.dir, 'val', { log: () => undefined });
      expect(bad.report.snapshot().fatal).toBe('header lacks column(s) xmin, ymin, xmax, ymax');
    } finally {
      tmp.remove();
    }
  });

  it('opens a missing file empty', async () => {
    const reader = await readCsv(DIR, 'test', { log: () => undefined });
    expect(reader.report.snapshot().fatal).toBe(`no CSV file ${join(DIR, 'test.csv')}`);
  });

  it('takes classes only from the boxes of kept images', async () => {
    const tmp = tempDir();
    try {
      copyFileSync(join(DIR, 'a.jpg'), join(tmp.dir, 'a.jpg'));
      copyFileSync(join(DIR, 'broken.jpg'), join(tmp.dir, 'broken.jpg'));
      writeFileSync(join(tmp.dir, 'train.csv'), 'a.jpg,1,1,20,20,cat\nghost.jpg,1,1,20,20,ghost\nbroken.jpg,1,1,5,5,broken\na.jpg,30,1,20,20,flat\n');
      writeFileSync(join(tmp.dir, 'val.csv'), 'a.jpg,2,2,9,9,dog\nnowhere.png,1,1,5,5,nowhere\n');
      const { log, lines } = logLines();
      const reader = await readCsv(tmp.dir, 'train', { discoverFrom: ['train', 'val'], log });
      expect(reader.classes).toEqual(['cat', 'dog']);
      await collect(reader.examples);
      expect(reader.report.snapshot()).toMatchObject({ examples: 1, skippedExamples: { 'missing-image': 1, 'undecodable-image': 1 }, skippedBoxes: { 'degenerate-box': 1 } });
      expect(lines.join('\n')).toContain('train.csv:2: no image "ghost.jpg"');
      expect(lines.join('\n')).toMatch(/broken\.jpg: unreadable image: /);
    } finally {
      tmp.remove();
    }
  });

  it('skips rows that are not UTF-8; rows naming one file by name and by stem are one image', async () => {
    const tmp = tempDir();
    try {
      copyFileSync(join(DIR, 'a.jpg'), join(tmp.dir, 'a.jpg'));
      const rows = ['a.jpg,1,1,20,20,cat', 'a,30,10,60,30,dog', 'a.jpg,2,2,9,9,caf\xe9'];
      writeFileSync(join(tmp.dir, 'train.csv'), Buffer.from(`${rows.join('\n')}\n`, 'latin1'));
      const { log, lines } = logLines();
      const reader = await readCsv(tmp.dir, 'train', { log });
      expect(reader.classes).toEqual(['cat', 'dog']);
      const examples = await collect(reader.examples);
      expect(examples.map((e) => [e.id, Array.from(e.labels)])).toEqual([['a.jpg', [1, 2]]]);
      expect(reader.listed).toBe(1);
      expect(lines).toEqual([`warning: ${join(tmp.dir, 'train.csv')}:3: row is not UTF-8 text (save the file as UTF-8) (box skipped)`]);
    } finally {
      tmp.remove();
    }
  });
});
