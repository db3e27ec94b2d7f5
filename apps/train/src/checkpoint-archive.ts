// `lumen checkpoint export` / `import` of an export: a checkpoint folder as one .tar.gz and back.
// The archive holds the folder's files under one folder named like the checkpoint (as
// `tar czf x.tar.gz checkpoint-N/` would, so unpacking it by hand spills nothing), meta.json
// carrying the weights' sha256. Unpacking refuses anything but plain files inside that folder.
import { UserError } from '@lumen/core';
import {
  CONFIG_FILE,
  loadCheckpoint,
  META_FILE,
  OPTIMIZER_FILE,
  readCheckpointMeta,
  sha256OfFile,
  WEIGHTS_FILE,
  weightsMismatch,
  type CheckpointMeta,
} from '@lumen/detector';
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { create, extract, list, type ReadEntry } from 'tar';

const REQUIRED = [META_FILE, CONFIG_FILE, WEIGHTS_FILE];

export interface ExportOptions {
  /** The checkpoint folder. */
  dir: string;
  /** The archive to write (.tar.gz). */
  out: string;
  /** Replace `out` when it exists. */
  force?: boolean;
  /** Include optimizer.safetensors (to resume training elsewhere); left out by default. */
  optimizer?: boolean;
}

export interface ExportResult {
  out: string;
  /** The files archived, as named in the archive's folder. */
  files: string[];
  /** The weights' sha256, as the archived meta.json records it. */
  sha256: string;
  /** meta.json had no sha256 (an older checkpoint): the archived one has it. */
  addedSha256: boolean;
  bytes: number;
}

/** Flushes a file or a folder's entries to disk. */
function flush(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A system error while writing `path` (a full disk, no permission) as a UserError naming it; anything else as it is. */
function writeError(path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? new UserError(`cannot write ${path}: ${(error as Error).message}`) : error;
}

/** The checkpoint's meta.json, and the UserError when a file a checkpoint needs is missing. */
function checkpointMeta(dir: string): CheckpointMeta {
  const meta = readCheckpointMeta(dir);
  for (const file of REQUIRED) if (!existsSync(join(dir, file))) throw new UserError(`${dir} is not a Lumen checkpoint: ${file} is missing`);
  return meta;
}

/**
 * Writes a checkpoint folder as one .tar.gz: its files (optimizer.safetensors only when asked),
 * meta.json with the weights' sha256 (checked first when recorded: a damaged checkpoint is not
 * exported). Written to `<out>.partial`, flushed and renamed: `out` is whole or absent.
 */
export async function exportCheckpoint(options: ExportOptions): Promise<ExportResult> {
  const { dir, out } = options;
  const meta = checkpointMeta(dir);
  if (existsSync(out)) {
    if (statSync(out).isDirectory()) throw new UserError(`--out ${out} is a folder: give the archive's file name, e.g. ${join(out, `${basename(resolve(dir))}.tar.gz`)}`);
    if (!options.force) throw new UserError(`--out ${out} already exists: pass --force to replace it`);
  }
  const weightsPath = join(dir, WEIGHTS_FILE);
  const sha256 = await sha256OfFile(weightsPath);
  if (meta.weightsSha256 !== undefined && meta.weightsSha256 !== sha256) throw weightsMismatch(weightsPath, meta.weightsSha256, sha256);

  const skipped = new Set([META_FILE, ...(options.optimizer ? [] : [OPTIMIZER_FILE])]);
  // meta.json, config.yaml, weights first; then the rest (eval-<split>.json…) by name.
  const rank = (file: string) => (REQUIRED.includes(file) ? REQUIRED.indexOf(file) : REQUIRED.length);
  const others = readdirSync(dir)
    .filter((file) => !skipped.has(file) && lstatSync(join(dir, file)).isFile())
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const files = [META_FILE, ...others];
  const name = basename(resolve(dir));
  // The archive's folder: meta.json written with the sha256, the other files linked (packed as files).
  const staging = mkdtempSync(join(tmpdir(), 'lumen-export-'));
  const partial = `${out}.partial`;
  try {
    mkdirSync(join(staging, name));
    writeFileSync(join(staging, name, META_FILE), JSON.stringify({ ...meta, weightsSha256: sha256 }, null, 2) + '\n');
    for (const file of others) symlinkSync(resolve(dir, file), join(staging, name, file));
    mkdirSync(dirname(resolve(out)), { recursive: true });
    rmSync(partial, { force: true });
    await create({ file: partial, cwd: staging, gzip: true, follow: true, portable: true }, files.map((file) => `${name}/${file}`));
    flush(partial);
    renameSync(partial, out);
    flush(dirname(resolve(out)));
  } catch (error) {
    rmSync(partial, { force: true });
    throw writeError(out, error);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { out, files, sha256, addedSha256: meta.weightsSha256 === undefined, bytes: statSync(out).size };
}

/** Whether a file is a tar archive, gzip'd (magic 1f 8b) or not (`ustar` at byte 257), by its content. */
export function isTarArchive(file: string): boolean {
  const head = Buffer.alloc(262);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const n = readSync(fd, head, 0, head.length, 0);
    return (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) || (n >= 262 && head.toString('latin1', 257, 262) === 'ustar');
  } finally {
    closeSync(fd);
  }
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * An archive entry's path as segments, or why it cannot be unpacked safely: only plain files and
 * folders, relative paths without `..`, at most one folder deep.
 */
function entryProblem(entry: ReadEntry): string | null {
  const { path, type } = entry;
  if (!FILE_TYPES.has(type) && type !== 'Directory') return `'${path}' is a ${type === 'SymbolicLink' ? 'symbolic link' : type === 'Link' ? 'hard link' : `${type} entry`}: a checkpoint archive holds only files`;
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.includes('\\')) return `'${path}' is an absolute path`;
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return `'${path}' points outside the folder it is unpacked into`;
  if (FILE_TYPES.has(type) && segments.length > 2) return `'${path}' is in a subfolder: a checkpoint folder holds only files`;
  return null;
}

/** The relative paths of an archive's files, every entry checked first (nothing is written). */
async function listArchive(file: string): Promise<string[]> {
  const files: string[] = [];
  let problem: string | null = null;
  try {
    await list({
      file,
      strict: true,
      onReadEntry: (entry) => {
        problem ??= entryProblem(entry);
        if (FILE_TYPES.has(entry.type)) files.push(entry.path.split('/').filter((s) => s !== '' && s !== '.').join('/'));
      },
    });
  } catch (error) {
    throw new UserError(`${file}: not a readable .tar.gz archive: ${(error as Error).message}`);
  }
  if (problem) throw new UserError(`${file}: refused: ${problem}`);
  return files;
}

/** 1 when every file sits in one top folder (an export), 0 when all are at the top; else the problem. */
function topFolders(file: string, paths: string[]): number {
  const tops = new Set(paths.map((p) => (p.includes('/') ? p.split('/')[0] : '')));
  if (tops.size === 1 && !tops.has('')) return 1;
  if (tops.size === 1) return 0;
  throw new UserError(`${file}: not a Lumen checkpoint archive: its files are in ${tops.size} folders (${[...tops].map((t) => t || '.').join(', ')}), a checkpoint in one`);
}

export interface ArchiveImport {
  dir: string;
  meta: CheckpointMeta;
  /** meta.json recorded the weights' sha256 and the file matched it. */
  verified: boolean;
  files: string[];
}

/**
 * Unpacks an archive `lumen checkpoint export` wrote (or a tar of a checkpoint folder) into a new
 * checkpoint folder `out`: entries checked before anything is written (no links, no path out of
 * the folder), unpacked into `<out>.partial`, read back whole (config, meta.json, tensors, the
 * weights' sha256), flushed and renamed.
 */
export async function importCheckpointArchive(file: string, out: string): Promise<ArchiveImport> {
  if (existsSync(out)) throw new UserError(`--out ${out} already exists: give a new folder for the checkpoint`);
  const paths = await listArchive(file);
  const strip = topFolders(file, paths);
  const names = paths.map((p) => p.split('/').slice(strip).join('/'));
  const missing = REQUIRED.filter((name) => !names.includes(name));
  if (missing.length > 0) throw new UserError(`${file}: not a Lumen checkpoint archive: ${missing.join(', ')} missing`);

  const partial = `${out}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  try {
    let problem: string | null = null;
    await extract({
      file,
      cwd: partial,
      strip,
      strict: true,
      preserveOwner: false,
      // Checked again as written (the listing pass already refused the archive otherwise).
      filter: (_path, entry) => {
        const found = entryProblem(entry as ReadEntry);
        problem ??= found;
        return found === null && FILE_TYPES.has((entry as ReadEntry).type);
      },
    });
    if (problem) throw new UserError(`${file}: refused: ${problem}`);
    let checkpoint;
    try {
      checkpoint = loadCheckpoint(partial);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      throw new UserError(`${file}: ${error.message.split(`${partial}/`).join('')}`);
    }
    for (const name of names) flush(join(partial, name));
    flush(partial);
    renameSync(partial, out);
    flush(dirname(resolve(out)));
    return { dir: out, meta: checkpoint.meta, verified: checkpoint.meta.weightsSha256 !== undefined, files: names };
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw writeError(out, error);
  }
}
