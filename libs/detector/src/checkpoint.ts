import { readSafetensors, writeSafetensors, type SafeTensor } from '@lumen/backbone';
import { configToYaml, loadConfig, type Config } from '@lumen/config';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * Writes a checkpoint folder: weights.safetensors (every param by dotted name, our layouts),
 * optimizer.safetensors (slots, when training), config.yaml (fully resolved) and meta.json.
 * Written into `<dir>.partial` and renamed, so an interrupted save never leaves a half folder
 * where a resume would look.
 */
export async function saveCheckpoint(dir: string, options: SaveCheckpointOptions): Promise<void> {
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const weights = Object.fromEntries(flattenParams(options.params));
  writeFileSync(join(partial, WEIGHTS_FILE), writeSafetensors(weights, { format: 'lumen', step: String(options.step) }));
  if (options.optimizer) {
    const slots = Object.fromEntries(optimizerSlots(options.optimizer));
    writeFileSync(join(partial, OPTIMIZER_FILE), writeSafetensors(slots, { optimizer: options.optimizer.config.type }));
  }
  writeFileSync(join(partial, CONFIG_FILE), configToYaml(options.config));
  const meta: CheckpointMeta = {
    format: 'lumen-checkpoint',
    formatVersion: 1,
    classes: options.classes,
    step: options.step,
    metrics: options.metrics ?? {},
    versions: options.versions ?? {},
    createdAt: new Date().toISOString(),
    ...(options.resume ? { resume: options.resume } : {}),
  };
  writeFileSync(join(partial, META_FILE), JSON.stringify(meta, null, 2) + '\n');
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
}

export interface LoadedCheckpoint {
  dir: string;
  config: Config;
  meta: CheckpointMeta;
  weights: Record<string, NamedArray>;
  /** Optimizer slots `<param>.<slot>`, when the checkpoint has them. */
  optimizer: Record<string, NamedArray> | null;
}

/** Reads a checkpoint folder; a missing or foreign folder is an error saying which file. */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  if (!existsSync(dir)) throw new Error(`checkpoint ${dir} does not exist`);
  for (const file of [WEIGHTS_FILE, CONFIG_FILE, META_FILE]) {
    if (!existsSync(join(dir, file))) throw new Error(`${dir} is not a Lumen checkpoint: ${file} is missing`);
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, META_FILE), 'utf8'));
  } catch (error) {
    throw new Error(`${join(dir, META_FILE)}: not valid JSON: ${(error as Error).message}`);
  }
  if (meta.format !== 'lumen-checkpoint') throw new Error(`${join(dir, META_FILE)}: not a Lumen checkpoint (format '${meta.format}')`);
  if (!Array.isArray(meta.classes) || meta.classes.some((c) => typeof c !== 'string')) {
    throw new Error(`${join(dir, META_FILE)}: 'classes' must be a list of class names`);
  }
  const config = loadConfig(join(dir, CONFIG_FILE)).config;
  const read = (file: string) => toNamedArrays(readSafetensors(new Uint8Array(readFileSync(join(dir, file)))));
  const weights = read(WEIGHTS_FILE);
  const optimizer = existsSync(join(dir, OPTIMIZER_FILE)) ? read(OPTIMIZER_FILE) : null;
  return { dir, config, meta, weights, optimizer };
}
