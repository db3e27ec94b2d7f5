import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkDataset, formatCheckReport } from './check';
import { FIXTURES, tempDir, testConfig, truncatedJpeg } from './testing/helpers';

/** A CSV dataset of two images, `cut.jpg` truncated (see truncatedJpeg). */
async function writeTruncatedDataset(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const jpeg = await truncatedJpeg();
  writeFileSync(join(dir, 'whole.jpg'), jpeg.whole);
  writeFileSync(join(dir, 'cut.jpg'), jpeg.cut);
  writeFileSync(join(dir, 'train.csv'), 'whole.jpg,1,1,20,20,cat\ncut.jpg,1,1,20,20,cat\n');
  return join(dir, 'cut.jpg');
}

describe('checkDataset', () => {
  it('reports every split with image headers checked', async () => {
    const report = await checkDataset(testConfig({ type: 'voc', dir: join(FIXTURES, 'voc') }));
    expect(report.usable).toBe(true);
    expect(report.examples).toBe(7);
    expect(report.splits.train).toMatchObject({
      listed: 11,
      examples: 5,
      skippedExamples: { 'duplicate-id': 1, 'malformed-file': 1, 'missing-file': 1, 'missing-image': 1, 'undecodable-image': 1, 'bad-image-size': 1 },
    });
    expect(report.splits.val).toMatchObject({ examples: 2 });
    expect(report.splits.test?.fatal).toMatch(/^no split list/);
    const text = formatCheckReport(report);
    expect(text).toMatch(/^dataset voc at .*voc \(image headers read, [\d.]+ s\)\n/);
    expect(text).toContain('voc train: ');
    expect(text).toContain('  images listed 11, usable 5 (1 without boxes)');
    expect(text).toContain('  images skipped: 1 missing-file, 1 malformed-file, 1 missing-image, 1 undecodable-image, 1 bad-image-size, 1 duplicate-id');
    expect(text).toContain('  boxes skipped: 1 malformed-record, 1 nan-coordinate, 1 degenerate-box, 1 box-outside-image');
    expect(text).toContain('  classes (4): cat 1, dog 2, person 2, unicorn 1');
    expect(text).toMatch(/000004\.jpg: Input file contains unsupported image format \(image skipped\)/);
    expect(text).toContain('  UNUSABLE: no split list');
    expect(text.endsWith('usable: 7 example(s)')).toBe(true);
  });

  it('decodes images fully on request, and checks only some splits', async () => {
    const report = await checkDataset(testConfig({ type: 'csv', dir: join(FIXTURES, 'csv') }), { splits: ['train'], images: 'decode' });
    expect(Object.keys(report.splits)).toEqual(['train']);
    expect(report.splits.train).toMatchObject({ examples: 3, skippedExamples: { 'missing-image': 1, 'undecodable-image': 1 } });
    expect(report.notes).toEqual(['classes without a box in train: bird']); // bird is only in val.csv
  });

  it('finds a truncated JPEG only when decoding the pixels; headers alone pass it', async () => {
    const tmp = tempDir();
    try {
      const cut = await writeTruncatedDataset(tmp.dir);
      const config = testConfig({ type: 'csv', dir: tmp.dir });
      const headers = await checkDataset(config, { splits: ['train'] });
      expect(headers.splits.train?.examples).toBe(2);
      expect(headers.splits.train?.skippedExamples).toEqual({});
      const decoded = await checkDataset(config, { splits: ['train'], images: 'decode' });
      expect(decoded.splits.train?.examples).toBe(1);
      expect(decoded.splits.train?.skippedExamples).toEqual({ 'undecodable-image': 1 });
      const text = formatCheckReport(decoded);
      expect(text).toMatch(/\(images decoded, [\d.]+ s\)/);
      expect(text).toContain(`  - ${cut}: pixels do not decode: the JPEG is truncated: its ${statSync(cut).size} bytes end before an end-of-image marker (image skipped)`);
    } finally {
      tmp.remove();
    }
  });

  it('notes differing class lists and an unusable dataset', async () => {
    const coco = await checkDataset(testConfig({ type: 'coco', dir: join(FIXTURES, 'coco') }), { images: 'none' });
    expect(coco.usable).toBe(true);
    expect(coco.splits.val?.fatal).toMatch(/^malformed JSON/);
    const tmp = tempDir();
    try {
      const empty = await checkDataset(testConfig({ type: 'digits', dir: join(tmp.dir, 'digits') }));
      expect(empty.usable).toBe(false);
      expect(empty.notes).toContain('the train split has no usable example: training cannot start');
      expect(empty.notes.some((n) => n.startsWith('the digits dataset is generated on first use'))).toBe(true);
      expect(formatCheckReport(empty).endsWith('NOT USABLE: no split has a usable example')).toBe(true);
    } finally {
      tmp.remove();
    }
  });

  it('names bad options', async () => {
    await expect(checkDataset(testConfig({ type: 'voc', dir: 'x' }), { images: 'all' as never })).rejects.toThrow(
      "Error in checkDataset: 'options.images' must be one of none, header, decode, but got \"all\".",
    );
  });
});
