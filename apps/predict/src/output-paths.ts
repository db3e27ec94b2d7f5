// Where `lumen predict` writes (--output, --save-media), checked before the model loads so
// that a wrong path costs no run.
import { once } from 'node:events';
import { accessSync, constants, createWriteStream, mkdirSync, statSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { UsageError } from './objects';
import { OutputError } from './predict';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  EEXIST: 'a file is in the way',
  ENOTDIR: 'a file is in the way',
  EISDIR: 'it is a folder',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EPIPE: 'the program reading it has closed it',
};

/** A file system error as a reader wants it: "permission denied (EACCES)", else Node's message. */
export function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code != null && code in REASONS ? `${REASONS[code]} (${code})` : (error as Error).message;
}

/** What is at `path`; 'missing' also when it cannot be looked at (mkdir then says why). */
function kindOf(path: string): 'folder' | 'file' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'folder' : 'file';
  } catch {
    return 'missing';
  }
}

/** Creates `folder` when missing and checks it can be written to; `path` is what the option gave. */
function makeFolder(option: string, path: string, folder: string): void {
  const named = resolve(folder) === resolve(path) ? `the folder ${path}` : `its folder ${folder}`;
  try {
    mkdirSync(folder, { recursive: true });
  } catch (error) {
    throw new UsageError(`${option} ${path}: cannot create ${named}: ${fsReason(error)}`);
  }
  try {
    accessSync(folder, constants.W_OK);
  } catch (error) {
    throw new UsageError(`${option} ${path}: cannot write to ${named}: ${fsReason(error)}`);
  }
}

/**
 * Checks --output: not a folder, its folder created (when missing) and writable, the file
 * itself writable when it exists. The file is opened later (openOutput), after the model has
 * loaded and the class names are checked, so a mistake there leaves an existing file as it was.
 */
export function checkOutputFile(path: string): void {
  const kind = kindOf(path);
  if (kind === 'folder') throw new UsageError(`--output ${path} is a folder: give a file name, e.g. --output ${join(path, 'predictions.jsonl')}`);
  makeFolder('--output', path, dirname(resolve(path)));
  if (kind === 'file') {
    try {
      accessSync(path, constants.W_OK);
    } catch (error) {
      throw new UsageError(`--output ${path}: cannot write to it: ${fsReason(error)}`);
    }
  }
}

/** Checks --save-media: a folder, created when missing, writable. */
export function prepareMediaFolder(path: string): void {
  if (kindOf(path) === 'file') throw new UsageError(`--save-media ${path} is a file: give a folder for the drawn images (it is created when missing)`);
  makeFolder('--save-media', path, path);
}

/** Opens --output for writing (replacing the file); a failure to open is a UsageError. */
export async function openOutput(path: string): Promise<WriteStream> {
  const stream = createWriteStream(path);
  try {
    await once(stream, 'open');
    return stream;
  } catch (error) {
    throw new UsageError(`--output ${path}: cannot open it for writing: ${fsReason(error)}`);
  }
}

/** Ends --output once its lines are on the disk; a failure to write the last of them is an OutputError. */
export async function closeOutput(stream: Writable): Promise<void> {
  try {
    await finished(stream.end());
  } catch (error) {
    throw new OutputError(error);
  }
}
