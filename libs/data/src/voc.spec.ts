import { join } from 'node:path';
import { collect, FIXTURES, logLines } from './testing/helpers';
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
});
