import { UserError } from '@lumen/core';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { trainCommands } from './cli';

const command = (name: string) => {
  const found = trainCommands().find((c) => c.name() === name);
  if (found == null) throw new Error(`no command ${name}`);
  return found.exitOverride();
};

describe('lumen eval --max-images', () => {
  it.each(['abc', '0', '-3', '1.5', '2x', '1e3', ''])('rejects %j, naming the option and the value', async (value) => {
    const run = command('eval').parseAsync(['--checkpoint', 'jobs/x', `--max-images=${value}`], { from: 'user' });
    await expect(run).rejects.toBeInstanceOf(UserError);
    await expect(run).rejects.toThrow(`--max-images must be a positive integer, but got ${JSON.stringify(value)}`);
  });

  it('takes a positive integer', async () => {
    let seen: unknown;
    const evaluate = command('eval').action((opts) => {
      seen = opts.maxImages;
    });
    await evaluate.parseAsync(['--checkpoint', 'jobs/x', '--max-images', '12'], { from: 'user' });
    expect(seen).toBe(12);
  });
});

describe('lumen eval --split', () => {
  it('takes any split name (runEvaluation checks it against the config), test by default', async () => {
    const seen: unknown[] = [];
    const parse = (...args: string[]) =>
      command('eval')
        .action((opts) => {
          seen.push(opts.split);
        })
        .parseAsync(['--checkpoint', 'jobs/x', ...args], { from: 'user' });
    await parse('--split', 'shift');
    await parse();
    await parse('--split=val');
    expect(seen).toEqual(['shift', 'test', 'val']);
  });
});

describe('lumen dataset check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lumen-check-'));
  const output: string[] = [];
  const exitCode = process.exitCode;

  beforeAll(async () => {
    // A VOC folder: good.jpg whole, cut.jpg without the second half of its bytes (its header reads).
    for (const sub of ['Annotations', 'JPEGImages', 'ImageSets/Main']) mkdirSync(join(dir, sub), { recursive: true });
    const texture = Buffer.from(Uint8Array.from({ length: 640 * 480 * 3 }, (_, i) => (i * 37) % 251));
    const jpeg = await sharp(texture, { raw: { width: 640, height: 480, channels: 3 } }).jpeg().toBuffer();
    writeFileSync(join(dir, 'JPEGImages', 'good.jpg'), jpeg);
    writeFileSync(join(dir, 'JPEGImages', 'cut.jpg'), jpeg.subarray(0, jpeg.length >> 1));
    const xml = '<annotation><size><width>640</width><height>480</height></size><object><name>cat</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>99</xmax><ymax>99</ymax></bndbox></object></annotation>';
    for (const id of ['good', 'cut']) writeFileSync(join(dir, 'Annotations', `${id}.xml`), xml);
    writeFileSync(join(dir, 'ImageSets', 'Main', 'trainval.txt'), 'good\ncut\n');
    writeFileSync(join(dir, 'ImageSets', 'Main', 'test.txt'), 'good\n');
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => output.push(String(chunk)) > 0);
  });
  afterAll(() => {
    jest.restoreAllMocks();
    process.exitCode = exitCode;
    rmSync(dir, { recursive: true, force: true });
  });

  const check = async (...flags: string[]) => {
    output.length = 0;
    await command('dataset').parseAsync(['check', '--config', 'voc', '--set', `data.dataset.dir=${dir}`, ...flags], { from: 'user' });
    return output.join('');
  };

  it('reads only image headers by default: a truncated JPEG passes', async () => {
    const text = await check();
    expect(text).toContain('(image headers read, ');
    expect(text).toContain('  images listed 2, usable 2 (0 without boxes)');
    expect(text).not.toContain('cut.jpg');
  });

  it('with --decode decodes the pixels and reports the truncated file by name', async () => {
    const text = await check('--decode');
    expect(text).toContain('(images decoded, ');
    expect(text).toContain('  images listed 2, usable 1 (0 without boxes)');
    expect(text).toContain(`  - ${join(dir, 'JPEGImages', 'cut.jpg')}: pixels do not decode: the JPEG is truncated: its ${statSync(join(dir, 'JPEGImages', 'cut.jpg')).size} bytes end before an end-of-image marker (image skipped)`);
    expect(process.exitCode).toBe(0);
  });
});
