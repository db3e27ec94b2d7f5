import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkDataset } from './check';
import { openDataset } from './dataset';
import { collect, FIXTURES, logLines, tempDir, testConfig } from './testing/helpers';

describe('openDataset', () => {
  it('opens a VOC split with classes discovered over the three splits', async () => {
    const { log, lines } = logLines();
    const dataset = await openDataset(testConfig({ type: 'voc', dir: join(FIXTURES, 'voc') }), 'val', { log });
    expect(dataset).toMatchObject({ type: 'voc', split: 'val', name: 'val', size: 2 });
    // 'unicorn' appears only in train: the val split still knows it, so labels agree.
    expect(dataset.classes).toEqual(['cat', 'dog', 'person', 'unicorn']);
    expect(dataset.at(0).id).toBe('000003');
    expect((await collect(dataset.examples())).map((e) => e.id)).toEqual(['000003', '000006']);
    expect(() => dataset.at(2)).toThrow("Error in Dataset.at: 'index' must be an integer in [0, 2), but got 2.");
    expect(lines).toEqual([]);
    expect(dataset.report()).toMatchObject({ role: 'val', listed: 2, examples: 2, emptyExamples: 1 });
  });

  it('opens COCO and CSV splits; explicit classes win', async () => {
    const coco = await openDataset(testConfig({ type: 'coco', dir: join(FIXTURES, 'coco') }), 'train', { log: () => undefined });
    expect([coco.size, coco.classes]).toEqual([3, ['cat', 'dog', 'bird']]);
    const csv = await openDataset(testConfig({ type: 'csv', dir: join(FIXTURES, 'csv'), classes: ['dog', 'cat'] }), 'train', { log: () => undefined });
    expect([csv.size, csv.classes]).toEqual([3, ['dog', 'cat']]);
    expect(Array.from(csv.at(0).labels)).toEqual([1, 2]);
  });

  it('uses the config split names', async () => {
    const config = testConfig({ type: 'voc', dir: join(FIXTURES, 'voc'), splits: { train: 'val', val: 'train', test: 'val' } });
    const dataset = await openDataset(config, 'train', { log: () => undefined });
    expect([dataset.split, dataset.name, dataset.size]).toEqual(['train', 'val', 2]);
  });

  it('opens another split the config names; classes are still discovered from train, val and test only', async () => {
    const config = testConfig({ type: 'voc', dir: join(FIXTURES, 'voc'), splits: { train: 'val', val: 'val', test: 'val', hard: 'train' } });
    const { log } = logLines();
    const hard = await openDataset(config, 'hard', { log });
    expect([hard.split, hard.name]).toEqual(['hard', 'train']);
    expect(hard.report()).toMatchObject({ role: 'hard', split: 'train' });
    // 'unicorn' appears only in the train list, which here only the extra split reads.
    expect(hard.classes).toEqual((await openDataset(config, 'val', { log })).classes);
    expect(hard.classes).not.toContain('unicorn');
  });

  it('opens a missing split empty with the reason, logged once', async () => {
    const { log, lines } = logLines();
    const dataset = await openDataset(testConfig({ type: 'voc', dir: join(FIXTURES, 'voc') }), 'test', { log });
    expect(dataset.size).toBe(0);
    expect(dataset.report().fatal).toMatch(/^no split list .*test\.txt$/);
    expect(lines).toHaveLength(1);
  });

  it('generates the digits dataset on first use', async () => {
    const tmp = tempDir();
    try {
      const dir = join(tmp.dir, 'data', 'digits');
      const { log, lines } = logLines();
      const config = testConfig({ type: 'digits', dir, digits: { seed: 3, train: 6, val: 2, test: 2 } });
      const dataset = await openDataset(config, 'val', { log });
      expect(existsSync(join(dir, 'digits.json'))).toBe(true);
      expect(dataset.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      expect(dataset.size).toBe(2);
      expect(lines[0]).toBe(`digits: ${dir} is missing: generating 10 images (6 train, 2 val, 2 test, seed 3) into ${dir}`);
      expect(lines[1]).toMatch(/^digits: generated 6\/2\/2 images/);
    } finally {
      tmp.remove();
    }
  }, 30000);

  it('reads and generates a relative dir under the workspace root, not the working directory', async () => {
    const tmp = tempDir();
    const cwd = process.cwd();
    try {
      writeFileSync(join(tmp.dir, 'nx.json'), '{}');
      const sub = join(tmp.dir, 'apps', 'deep');
      mkdirSync(sub, { recursive: true });
      process.chdir(sub);
      const { log, lines } = logLines();
      const config = testConfig({ type: 'digits', dir: 'data/digits', digits: { seed: 3, train: 2, val: 1, test: 1 } });
      const dataset = await openDataset(config, 'test', { log });
      const root = join(realpathSync(tmp.dir), 'data', 'digits');
      expect(dataset.dir).toBe(root);
      expect(dataset.at(0).imagePath.startsWith(join(root, 'JPEGImages'))).toBe(true);
      expect(existsSync(join(root, 'digits.json'))).toBe(true);
      expect(existsSync(join(sub, 'data'))).toBe(false);
      expect(lines[0]).toBe(`digits: data/digits is missing: generating 4 images (2 train, 1 val, 1 test, seed 3) into ${root}`);
      const checked = await checkDataset(config, { images: 'none' });
      expect([checked.dir, checked.examples]).toEqual([root, 4]);
      const missing = await openDataset(testConfig({ type: 'csv', dir: 'data/elsewhere' }), 'train', { log: () => undefined });
      expect(missing.report().fatal).toBe(`dataset folder ${join(realpathSync(tmp.dir), 'data', 'elsewhere')} does not exist`);
    } finally {
      process.chdir(cwd);
      tmp.remove();
    }
  }, 30000);

  it('names a bad config', async () => {
    await expect(openDataset({ dataset: { type: 'pascal' } } as never, 'train')).rejects.toThrow("Error in openDataset: 'config.dataset.type' must be one of digits, voc, coco, csv, but got \"pascal\".");
    await expect(openDataset(testConfig({ type: 'voc', dir: 'x' }), 'dev')).rejects.toThrow(
      "Error in openDataset: 'split' must be one of the splits config.dataset.splits names (train, val, test), but got \"dev\".",
    );
    await expect(openDataset(testConfig({ type: 'voc', dir: 'x', splits: { train: 'a', val: 'b', test: 'c', hard: 'd' } }), 'dev')).rejects.toThrow(
      "Error in openDataset: 'split' must be one of the splits config.dataset.splits names (train, val, test, hard), but got \"dev\".",
    );
    await expect(openDataset(testConfig({ type: 'voc', dir: 'x', splits: { train: 'a', val: 'b', test: 'c', 'a/b': 'd' } }), 'train')).rejects.toThrow(
      "Error in openDataset: 'config.dataset.splits' keys must be split names (a letter, then letters, digits, _ or -), but got \"a/b\".",
    );
    await expect(openDataset({ dataset: { type: 'voc', dir: 'x', splits: { train: 'a', val: 'b' } } } as never, 'train')).rejects.toThrow(
      "Error in openDataset: 'config.dataset.splits.test' must be a non-empty string, but got undefined.",
    );
  });
});
