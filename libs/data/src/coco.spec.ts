import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCoco } from './coco';
import { collect, FIXTURES, logLines, tempDir } from './testing/helpers';

const DIR = join(FIXTURES, 'coco');

describe('readCoco', () => {
  it('reads images with xywh boxes as corners, iscrowd as the flag, categories by id', async () => {
    const { log, lines } = logLines();
    const reader = await readCoco(DIR, 'train', { log });
    // Category ids 1 cat, 3 dog, 7 bird -> labels 1, 2, 3.
    expect(reader.classes).toEqual(['cat', 'dog', 'bird']);
    const examples = await collect(reader.examples);
    expect(examples.map((e) => e.id)).toEqual(['1', '2', '4']);
    expect(Array.from(examples[0].boxes)).toEqual([4, 5, 24, 35, 30, 10, 60.5, 30]);
    expect(Array.from(examples[0].labels)).toEqual([2, 1]);
    expect(Array.from(examples[0].difficult)).toEqual([0, 1]);
    expect(Array.from(examples[1].boxes)).toEqual([40, 50, 48, 64, 2, 2, 12, 14]);
    expect(Array.from(examples[1].labels)).toEqual([1, 3]);
    // No width/height: from the header; no annotations: kept.
    expect([examples[2].width, examples[2].height, examples[2].labels.length]).toEqual([32, 32, 0]);
    expect(reader.report.snapshot()).toMatchObject({
      listed: 5,
      examples: 3,
      emptyExamples: 1,
      boxes: 4,
      difficultBoxes: 1,
      clippedBoxes: 1,
      skippedExamples: { 'missing-image': 1, 'duplicate-id': 1 },
      skippedBoxes: { 'unknown-image': 1, 'degenerate-box': 1, 'malformed-record': 1, 'nan-coordinate': 1, 'unknown-class': 1 },
    });
    const text = lines.join('\n');
    expect(text).toContain('instances_train.json [annotation 14]: image_id 99 names no image (box skipped)');
    expect(text).toContain('[annotation 12]: bird bbox [10,10,0,5] has x2 <= x1 (box skipped)');
    expect(text).toContain('[annotation 13]: dog bbox [1,2,"x",4] has a non-numeric coordinate');
    expect(text).toContain('[annotation 15]: unknown class "category_id 42"');
    expect(text).toContain('[annotation 18]: bbox must be [x, y, w, h], got [1,2,3]');
    expect(text).toContain('[image 3]: no image');
    expect(text).toContain('[image 1]: image id 1 appears twice');
  });

  it('maps categories by name to explicit classes', async () => {
    const reader = await readCoco(DIR, 'train', { classes: ['bird', 'dog'], log: () => undefined });
    const examples = await collect(reader.examples);
    expect(Array.from(examples[0].labels)).toEqual([2]);
    expect(Array.from(examples[1].labels)).toEqual([1]);
    expect(reader.report.snapshot().skippedBoxes['unknown-class']).toBe(3);
  });

  it('opens a malformed or missing file empty, naming the line', async () => {
    const { log, lines } = logLines();
    const bad = await readCoco(DIR, 'val', { log });
    expect(await collect(bad.examples)).toEqual([]);
    expect(bad.report.snapshot().fatal).toMatch(/^malformed JSON: /);
    expect(lines[0]).toMatch(/instances_val\.json:3: malformed JSON: .* \(split skipped\)$/);
    const missing = await readCoco(DIR, 'test', { log: () => undefined });
    expect(missing.report.snapshot()).toMatchObject({ fatal: expect.stringMatching(/^annotation file missing \(ENOENT\)/), skippedExamples: { 'missing-file': 1 } });
  });

  it('reads a file with a byte order mark; a repeated category id keeps its first name', async () => {
    const tmp = tempDir();
    try {
      mkdirSync(join(tmp.dir, 'annotations'));
      mkdirSync(join(tmp.dir, 'train'));
      copyFileSync(join(DIR, 'train', 'a.jpg'), join(tmp.dir, 'train', 'a.jpg'));
      const json = {
        images: [{ id: 1, file_name: 'a.jpg', width: 64, height: 48 }],
        categories: [
          { id: 1, name: 'cat' },
          { id: 1, name: 'kitty' },
        ],
        annotations: [{ id: 5, image_id: 1, category_id: 1, bbox: [1, 1, 10, 10] }],
      };
      writeFileSync(join(tmp.dir, 'annotations', 'instances_train.json'), `\ufeff${JSON.stringify(json)}`);
      const { log, lines } = logLines();
      const reader = await readCoco(tmp.dir, 'train', { log });
      expect(reader.classes).toEqual(['cat']);
      const [example] = await collect(reader.examples);
      expect(Array.from(example.labels)).toEqual([1]);
      expect(lines).toEqual([
        `warning: ${join(tmp.dir, 'annotations', 'instances_train.json')} [category 1]: category id 1 appears twice; its boxes keep the first name "cat", not "kitty" (box skipped)`,
      ]);
    } finally {
      tmp.remove();
    }
  });

  it('opens a file that is not UTF-8 empty, naming the line', async () => {
    const tmp = tempDir();
    try {
      mkdirSync(join(tmp.dir, 'annotations'));
      const json = '{\n "images": [],\n "categories": [{ "id": 1, "name": "caf\xe9" }]\n}\n';
      writeFileSync(join(tmp.dir, 'annotations', 'instances_train.json'), Buffer.from(json, 'latin1'));
      const reader = await readCoco(tmp.dir, 'train', { log: () => undefined });
      expect(reader.report.snapshot()).toMatchObject({ fatal: 'not utf-8 text (save the file as UTF-8)', issues: [{ line: 3, reason: 'malformed-file' }] });
    } finally {
      tmp.remove();
    }
  });
});
