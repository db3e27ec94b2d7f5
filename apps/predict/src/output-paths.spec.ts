import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './objects';
import { checkOutputFile, fsReason, openOutput, prepareMediaFolder } from './output-paths';

describe('--output and --save-media checks', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-paths-'));
    mkdirSync(join(dir, 'folder'));
    writeFileSync(join(dir, 'file'), 'kept');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const thrown = (check: () => unknown) => {
    try {
      check();
    } catch (error) {
      return error;
    }
    throw new Error('no error');
  };

  it('--output: a folder, or a file where its folder should be, is a UsageError', () => {
    expect(thrown(() => checkOutputFile(join(dir, 'folder')))).toStrictEqual(
      new UsageError(`--output ${join(dir, 'folder')} is a folder: give a file name, e.g. --output ${join(dir, 'folder', 'predictions.jsonl')}`),
    );
    expect(thrown(() => checkOutputFile(join(dir, 'file', 'out.jsonl')))).toStrictEqual(
      new UsageError(`--output ${join(dir, 'file', 'out.jsonl')}: cannot create its folder ${join(dir, 'file')}: a file is in the way (EEXIST)`),
    );
    expect(thrown(() => checkOutputFile(join(dir, 'file', 'sub', 'out.jsonl')))).toStrictEqual(
      new UsageError(`--output ${join(dir, 'file', 'sub', 'out.jsonl')}: cannot create its folder ${join(dir, 'file', 'sub')}: a file is in the way (ENOTDIR)`),
    );
  });

  it('--output: creates the missing folders, leaves an existing file as it is until it is opened', async () => {
    const nested = join(dir, 'new', 'deeper', 'out.jsonl');
    checkOutputFile(nested);
    expect(statSync(join(dir, 'new', 'deeper')).isDirectory()).toBe(true);
    expect(existsSync(nested)).toBe(false);
    checkOutputFile(join(dir, 'file'));
    expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('kept');
    const stream = await openOutput(nested);
    await new Promise<void>((done) => stream.end('line\n', () => done()));
    expect(readFileSync(nested, 'utf8')).toBe('line\n');
  });

  it('--output: a file that cannot be opened is a UsageError', async () => {
    await expect(openOutput(join(dir, 'folder'))).rejects.toStrictEqual(new UsageError(`--output ${join(dir, 'folder')}: cannot open it for writing: it is a folder (EISDIR)`));
  });

  it('--save-media: an existing file, or a folder that cannot be created, is a UsageError; a missing folder is created', () => {
    expect(thrown(() => prepareMediaFolder(join(dir, 'file')))).toStrictEqual(
      new UsageError(`--save-media ${join(dir, 'file')} is a file: give a folder for the drawn images (it is created when missing)`),
    );
    expect(thrown(() => prepareMediaFolder(join(dir, 'file', 'media')))).toStrictEqual(
      new UsageError(`--save-media ${join(dir, 'file', 'media')}: cannot create the folder ${join(dir, 'file', 'media')}: a file is in the way (ENOTDIR)`),
    );
    prepareMediaFolder(join(dir, 'media', 'drawn'));
    expect(statSync(join(dir, 'media', 'drawn')).isDirectory()).toBe(true);
    prepareMediaFolder(join(dir, 'folder'));
  });

  it('fsReason: a short reason with the code, else the error message', () => {
    expect(fsReason(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))).toBe('no space left on the device (ENOSPC)');
    expect(fsReason(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }))).toBe('EIO: i/o error, write');
  });
});
