import { loadConfig } from '@lumen/config';
import { openDataset } from '@lumen/data';
import { assignParams, buildDetector, initDetector, loadCheckpoint } from '@lumen/detector';
import { formatSummary } from '@lumen/eval';
import { initBackend } from '@lumen/runtime';
import { seededRandom, UserError } from '@lumen/core';
import { join } from 'node:path';
import { describeMap, evaluateToFile, type EvaluationResult } from './evaluate';

export interface EvalOptions {
  checkpoint: string;
  /** Config for the data; default the checkpoint's config.yaml. */
  config?: string;
  overrides?: string[];
  split?: 'train' | 'val' | 'test';
  maxImages?: number;
  log?: (message: string) => void;
}

/** `lumen eval`: scores a checkpoint on a split, prints the table, writes eval-<split>.json beside it. */
export async function runEvaluation(options: EvalOptions): Promise<EvaluationResult & { path: string }> {
  const log = options.log ?? ((m: string) => process.stderr.write(m + '\n'));
  await initBackend({ log });
  let checkpoint;
  try {
    checkpoint = loadCheckpoint(options.checkpoint);
  } catch (error) {
    throw new UserError((error as Error).message);
  }
  const config = loadConfig(options.config ?? join(options.checkpoint, 'config.yaml'), { overrides: options.overrides }).config;
  // The model is the checkpoint's; only data settings come from --config / --set.
  const modelConfig = { ...checkpoint.config, data: config.data, eval: config.eval };
  const split = options.split ?? 'test';
  const dataset = await openDataset(modelConfig.data, split, { log });
  if (dataset.size === 0) throw new UserError(`the ${split} split of ${modelConfig.data.dataset.dir} has no usable example`);
  const detector = buildDetector(modelConfig, checkpoint.meta.classes);
  const params = initDetector(detector, seededRandom(0));
  assignParams(params, checkpoint.weights, join(options.checkpoint, 'weights.safetensors'));
  const result = await evaluateToFile(detector, params, dataset, modelConfig, options.checkpoint, { maxImages: options.maxImages, log });
  process.stdout.write(formatSummary(result.summary) + '\n');
  log(`${describeMap(modelConfig.eval.metric, result, split)}; wrote ${result.path}`);
  return result;
}
