import { readSafetensors, writeSafetensors, type SafeTensor } from '@lumen/backbone';
import { configToYaml, loadConfig, type Config } from '@lumen/config';
import { UserError } from '@lumen/core';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isSha256, sha256Hex, weightsMismatch } from './checkpoint-integrity';
import type { OptimizerState } from './optimizer';
import { optimizerSlots } from './optimizer';
import { flattenParams, type NamedArray, type ParamTree } from './params';

export const WEIGHTS_FILE = 'weights.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const CONFIG_FILE = 'config.yaml';
export const META_FILE = 'meta.json';

/** meta.json: what a checkpoint is, besides its tensors (docs/architecture.md §6). */
export interface CheckpointMeta {
  format: 'lumen-checkpoint';
  formatVersion: 1;
  classes: string[];
  step: number;
  /** Metrics at this step (losses, mAP…), as logged. */
  metrics: Record<string, number>;
  /** Library and runtime versions that wrote it. */
  versions: Record<string, string>;
  createdAt: string;
  /** Training position to resume from (epoch and examples consumed in it). */
  resume?: { epoch: number; offset: number; optimizerStep: number };
  /** Hex sha256 of weights.safetensors, checked at load (absent in checkpoints written before it was recorded). */
  weightsSha256?: string;
}

export interface SaveCheckpointOptions {
  params: ParamTree;
  config: Config;
  classes: string[];
  step: number;
  metrics?: Record<string, number>;
  optimizer?: OptimizerState;
  resume?: CheckpointMeta['resume'];
  versions?: Record<string, string>;
}

/** A safetensors record as named arrays: F32 and I32 kept, other number types converted to float32. */
function toNamedArrays(tensors: Record<string, SafeTensor>): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype === 'I32') out[name] = { dtype: 'int32', shape: t.shape, data: t.data as Int32Array };
    else if (t.data instanceof Float32Array) out[name] = { dtype: 'float32', shape: t.shape, data: t.data };
    else out[name] = { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data as ArrayLike<number>, Number) };
  }
  return out;
}

/** Writes a file and flushes it to disk before returning. */
function writeDurably(path: string, data: string | Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flushes a folder's entries (a rename inside it) to disk. */
function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a checkpoint folder: weights.safetensors (every param by dotted name, our layouts),
 * optimizer.safetensors (slots, when training), config.yaml (fully resolved) and meta.json.
 * Written into `<dir>.partial`, flushed to disk, and renamed, so an interrupted save (or a
 * power cut) never leaves a half folder where a resume would look.
 */
export async function saveCheckpoint(dir: string, options: SaveCheckpointOptions): Promise<void> {
  const partial = `${dir}.partial`;
  try {
    writeCheckpointFiles(partial, options);
  } catch (error) {
    try {
      rmSync(partial, { recursive: true, force: true });
    } catch {
      // Nothing was created there.
    }
    // A full disk, a quota, a permission: the earlier checkpoints stay as they were.
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('E')) {
      throw new UserError(`cannot write checkpoint ${dir}: ${(error as Error).message}; the earlier checkpoints are intact`);
    }
    throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  syncPath(dirname(dir));
}

function writeCheckpointFiles(partial: string, options: SaveCheckpointOptions): void {
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const weights = writeSafetensors(Object.fromEntries(flattenParams(options.params)), { format: 'lumen', step: String(options.step) });
  writeDurably(join(partial, WEIGHTS_FILE), weights);
  if (options.optimizer) {
    const slots = Object.fromEntries(optimizerSlots(options.optimizer));
    writeDurably(join(partial, OPTIMIZER_FILE), writeSafetensors(slots, { optimizer: options.optimizer.config.type }));
  }
  writeDurably(join(partial, CONFIG_FILE), configToYaml(options.config));
  const meta: CheckpointMeta = {
    format: 'lumen-checkpoint',
    formatVersion: 1,
    classes: options.classes,
    step: options.step,
    metrics: options.metrics ?? {},
    versions: options.versions ?? {},
    createdAt: new Date().toISOString(),
    ...(options.resume ? { resume: options.resume } : {}),
    weightsSha256: sha256Hex(weights),
  };
  writeDurably(join(partial, META_FILE), JSON.stringify(meta, null, 2) + '\n');
  syncPath(partial);
}

export interface LoadedCheckpoint {
  dir: string;
  config: Config;
  meta: CheckpointMeta;
  weights: Record<string, NamedArray>;
  /** Optimizer slots `<param>.<slot>`, when the checkpoint has them. */
  optimizer: Record<string, NamedArray> | null;
}

export interface LoadCheckpointOptions {
  /** Read optimizer.safetensors too (resuming a run); predict and eval leave it alone. Default true. */
  optimizer?: boolean;
}

/**
 * A checkpoint file's tensors; anything wrong is a UserError naming the file. With `sha256`,
 * the bytes must hash to it (checked after parsing, so a truncated file is still called so).
 */
function readTensorFile(path: string, sha256?: string): Record<string, NamedArray> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new UserError(`${path}: cannot read: ${(error as Error).message}`);
  }
  let tensors: Record<string, NamedArray>;
  try {
    tensors = toNamedArrays(readSafetensors(bytes));
  } catch (error) {
    throw new UserError(`${path}: ${(error as Error).message.replace(/^Error in readSafetensors: /, '')}`);
  }
  if (sha256 !== undefined) {
    const actual = sha256Hex(bytes);
    if (actual !== sha256) throw weightsMismatch(path, sha256, actual);
  }
  return tensors;
}

function readMeta(path: string): CheckpointMeta {
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UserError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  if (meta === null || typeof meta !== 'object' || meta.format !== 'lumen-checkpoint') {
    throw new UserError(`${path}: not a Lumen checkpoint (format '${(meta as CheckpointMeta | null)?.format}')`);
  }
  if (!Array.isArray(meta.classes) || meta.classes.length === 0 || meta.classes.some((c) => typeof c !== 'string')) {
    throw new UserError(`${path}: 'classes' must be a non-empty list of class names`);
  }
  if (!Number.isInteger(meta.step) || meta.step < 0) throw new UserError(`${path}: 'step' must be a non-negative integer, but got ${JSON.stringify(meta.step)}`);
  if (meta.weightsSha256 !== undefined && !isSha256(meta.weightsSha256)) {
    throw new UserError(`${path}: 'weightsSha256' must be 64 lowercase hex digits, but got ${JSON.stringify(meta.weightsSha256)}`);
  }
  return meta;
}

/** A checkpoint folder's meta.json, checked (without reading its tensors); a UserError when the folder is not a Lumen checkpoint. */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  if (!existsSync(dir)) throw new UserError(`checkpoint ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new UserError(`checkpoint ${dir} is a file: give the checkpoint folder (jobs/<run>/checkpoint-NNNNNNN)`);
  if (!existsSync(join(dir, META_FILE))) throw new UserError(`${dir} is not a Lumen checkpoint: ${META_FILE} is missing`);
  return readMeta(join(dir, META_FILE));
}

/** Reads a checkpoint folder; whatever is missing or damaged is a UserError naming the file. */
export function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): LoadedCheckpoint {
  if (!existsSync(dir)) throw new UserError(`checkpoint ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new UserError(`checkpoint ${dir} is a file: give the checkpoint folder (jobs/<run>/checkpoint-NNNNNNN)`);
  for (const file of [WEIGHTS_FILE, CONFIG_FILE, META_FILE]) {
    if (!existsSync(join(dir, file))) throw new UserError(`${dir} is not a Lumen checkpoint: ${file} is missing`);
  }
  const meta = readMeta(join(dir, META_FILE));
  const config = loadConfig(join(dir, CONFIG_FILE)).config;
  const weights = readTensorFile(join(dir, WEIGHTS_FILE), meta.weightsSha256);
  const readOptimizer = (options.optimizer ?? true) && existsSync(join(dir, OPTIMIZER_FILE));
  const optimizer = readOptimizer ? readTensorFile(join(dir, OPTIMIZER_FILE)) : null;
  return { dir, config, meta, weights, optimizer };
}
