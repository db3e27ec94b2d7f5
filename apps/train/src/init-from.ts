import { parseOverride, mergeConfig, validateConfig, type Config, type LoadedConfig } from '@lumen/config';
import { UserError } from '@lumen/core';
import { assignParams, loadCheckpoint, WEIGHTS_FILE, type DetectorParams, type LoadedCheckpoint } from '@lumen/detector';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

// `lumen train --init DIR` (or `model.init` in a config): fine-tuning, as torchvision's recipe does it. The run takes the
// checkpoint's model (what its weights are for) and image sizes, and starts from its weights;
// when the dataset's classes are not the checkpoint's, the box predictor alone is left to its
// fresh initialisation (torchvision replaces `roi_heads.box_predictor` with a new
// FastRCNNPredictor).

/** The params a new class list re-initialises. */
export const PREDICTOR_PREFIX = 'roi_heads.box_predictor.';

/**
 * The checkpoint a run starts from, read without its optimizer state (a new run has its own).
 * `key` is the config key that named it, put before a read error.
 */
export function readInitCheckpoint(dir: string, key?: string): LoadedCheckpoint {
  if (key != null && !existsSync(dir)) {
    throw new UserError(`${key}: checkpoint ${dir} does not exist: write it from a torchvision .pth with lumen checkpoint import FILE --arch NAME --out ${dir} (see the README), or name a trained one`);
  }
  try {
    return loadCheckpoint(dir, { optimizer: false });
  } catch (error) {
    if (key != null && error instanceof UserError) throw new UserError(`${key}: ${error.message}`);
    throw error;
  }
}

/**
 * The run's config with the model and `data.image` of the checkpoint it starts from, then the
 * run's --set overrides again on top (a threshold, `model.backbone.freezeAt`). The
 * checkpoint's weights replace any pretrained backbone, so `model.backbone.weights` is null;
 * `model.init` names the checkpoint, so the job's config.yaml says where the run started.
 */
export function configForInit(loaded: LoadedConfig, checkpoint: LoadedCheckpoint, overrides: readonly string[] = []): LoadedConfig {
  const from = checkpoint.config;
  const base: Config = {
    ...loaded.config,
    model: { ...from.model, init: checkpoint.dir, backbone: { ...from.model.backbone, weights: null } },
    data: { ...loaded.config.data, image: from.data.image },
  };
  let tree = base as unknown as Record<string, unknown>;
  for (const override of overrides) tree = mergeConfig(tree, parseOverride(override));
  const source = `${loaded.path} with the model of ${checkpoint.dir}${overrides.length > 0 ? ` and --set ${overrides.join(' ')}` : ''}`;
  return { ...loaded, config: validateConfig(tree, source) };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((name, i) => name === b[i]);

/**
 * Assigns a checkpoint's weights to a new run's params. With the checkpoint's classes every
 * tensor is taken; with others the box predictor keeps its initialisation and its names are
 * returned. A tensor missing, of another shape, or one the model does not have is a
 * UserError naming the file.
 */
export function assignInitWeights(checkpoint: LoadedCheckpoint, params: DetectorParams, classes: readonly string[]): string[] {
  const source = join(checkpoint.dir, WEIGHTS_FILE);
  if (sameList(classes, checkpoint.meta.classes)) {
    const unused = assignParams(params, checkpoint.weights, source);
    if (unused.length > 0) throw new UserError(`${source}: ${unused.length} tensor(s) the model does not have: ${unused.slice(0, 5).join(', ')}`);
    return [];
  }
  // The same variables, the predictor left out: assignParams sets every leaf it is given.
  const withoutPredictor = { ...params, roi_heads: { box_head: params.roi_heads.box_head } };
  const unused = assignParams(withoutPredictor, checkpoint.weights, source).filter((name) => !name.startsWith(PREDICTOR_PREFIX));
  if (unused.length > 0) throw new UserError(`${source}: ${unused.length} tensor(s) the model does not have: ${unused.slice(0, 5).join(', ')}`);
  return Object.keys(checkpoint.weights).filter((name) => name.startsWith(PREDICTOR_PREFIX));
}

/** The log line for an initialisation: where from, and what was re-initialised. */
export function describeInit(checkpoint: LoadedCheckpoint, classes: readonly string[], reinitialised: readonly string[]): string {
  if (reinitialised.length === 0) return `initialised from ${checkpoint.dir} (every tensor, its ${classes.length} classes)`;
  return `initialised from ${checkpoint.dir}; the dataset's ${classes.length} classes are not its ${checkpoint.meta.classes.length}, so roi_heads.box_predictor starts afresh`;
}
