import fg from 'fast-glob';
import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { TextDecoder } from 'node:util';

/**
 * Maps `items` through an async `fn` with at most `concurrency` calls running, yielding
 * results in input order (so reading ahead never reorders a dataset).
 */
export async function* mapOrdered<T, R>(items: Iterable<T>, concurrency: number, fn: (item: T, index: number) => Promise<R>): AsyncGenerator<R> {
  const iterator = items[Symbol.iterator]();
  const pending: Promise<R>[] = [];
  let index = 0;
  const fill = () => {
    while (pending.length < concurrency) {
      const next = iterator.next();
      if (next.done) return;
      const promise = fn(next.value, index++);
      promise.catch(() => undefined); // rejection handled when awaited in order
      pending.push(promise);
    }
  };
  fill();
  for (let head = pending.shift(); head != null; head = pending.shift()) {
    const result = await head;
    fill();
    yield result;
  }
}

/**
 * Image file extensions sharp decodes (matched case-insensitively): what dataset readers and
 * predict's folder and glob search look for, one list so both see the same images.
 */
export const IMAGE_EXTENSIONS: readonly string[] = ['jpg', 'jpeg', 'jpe', 'jfif', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif'];

/** The images directly in `dir` (any IMAGE_EXTENSIONS, any case): file name -> path and stem -> path. */
export async function listImages(dir: string, deep = false): Promise<{ byName: Map<string, string>; byStem: Map<string, string> }> {
  const files = await fg(`${deep ? '**/' : ''}*.{${IMAGE_EXTENSIONS.join(',')}}`, {
    cwd: dir,
    caseSensitiveMatch: false,
    onlyFiles: true,
    followSymbolicLinks: true,
    suppressErrors: true,
  });
  files.sort();
  const byName = new Map<string, string>();
  const byStem = new Map<string, string>();
  const rank = (name: string) => {
    const i = IMAGE_EXTENSIONS.indexOf(extname(name).slice(1).toLowerCase());
    return i < 0 ? IMAGE_EXTENSIONS.length : i;
  };
  for (const file of files) {
    const path = `${dir}/${file}`;
    byName.set(file, path);
    const stem = file.slice(0, file.length - extname(file).length);
    const other = byStem.get(stem);
    // Two images with one stem (a.jpg, a.png): the earlier extension of IMAGE_EXTENSIONS wins.
    if (other == null || rank(file) < rank(basename(other))) byStem.set(stem, path);
  }
  return { byName, byStem };
}

export async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** 1-based line of character `index` in `text`. */
export function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Parses a number the way annotation files write one; '' and junk give NaN. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value.trim() === '') return NaN;
  return Number(value.trim());
}

/** `fn` with each key's promise kept: a reader's discovery and reading passes open a header once. */
export function memoized<R>(fn: (key: string) => Promise<R>): (key: string) => Promise<R> {
  const results = new Map<string, Promise<R>>();
  return (key) => {
    let result = results.get(key);
    if (result == null) {
      result = fn(key);
      results.set(key, result);
    }
    return result;
  };
}

/** Bytes that are not text in the expected encoding (`line` is where the first bad byte is). */
export class EncodingError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

/**
 * A file's bytes as text in `encoding`, a byte order mark dropped. Invalid bytes throw an
 * EncodingError naming the line: read as U+FFFD they would silently rename classes and files.
 */
export function decodeText(bytes: Uint8Array, encoding = 'utf-8'): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding, { fatal: true });
  } catch {
    throw new EncodingError(`unsupported encoding ${JSON.stringify(encoding)}`);
  }
  try {
    return decoder.decode(bytes);
  } catch {
    const loose = new TextDecoder(encoding).decode(bytes);
    throw new EncodingError(`not ${decoder.encoding} text (save the file as UTF-8)`, lineAt(loose, loose.indexOf('\uFFFD')));
  }
}
