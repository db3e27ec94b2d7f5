import { loadConfig } from '@lumen/config';
import { openDataset } from '@lumen/data';
import { assignParams, buildDetector, CONFIG_FILE, disposeParams, initDetector, loadCheckpoint, WEIGHTS_FILE } from '@lumen/detector';
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
  /** A key of the config's data.dataset.splits (default test). */
  split?: string;
  maxImages?: number;
  log?: (message: string) => void;
}

/**
 * `--set` keys eval applies: data.*, eval.*, and the model settings that only steer inference
 * (torchvision's rpn_*_nms_top_n_test, rpn_nms_thresh, box_score_thresh, box_nms_thresh,
 * box_detections_per_img); the rest of the model (and its training) is the checkpoint's.
 */
const EVAL_OVERRIDABLE = /^\s*(data|eval)\./;
const INFERENCE_SETTINGS = [
  'model.rpn.preNmsTopN.test',
  'model.rpn.postNmsTopN.test',
  'model.rpn.nmsThresh',
  'model.rcnn.scoreThresh',
  'model.rcnn.nmsThresh',
  'model.rcnn.detectionsPerImage',
];

/** The config key an override sets (`model.rcnn.nmsThresh=0.4` -> `model.rcnn.nmsThresh`). */
const keyOf = (override: string) => override.split('=')[0].trim();
const isInferenceSetting = (override: string) => INFERENCE_SETTINGS.includes(keyOf(override));

/**
 * `lumen eval`: scores a checkpoint on a split (any key of the config's data.dataset.splits:
 * train, val, test, digits' shift, …), prints the table, writes eval-<split>.json
 * beside it. The model, its classes and its weights come from the checkpoint; --config and
 * --set choose the data, the metric and the inference settings (INFERENCE_SETTINGS).
 */
export async function runEvaluation(options: EvalOptions): Promise<EvaluationResult & { path: string }> {
  const log = options.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const overrides = options.overrides ?? [];
  const inference = overrides.filter(isInferenceSetting);
  const ignored = overrides.filter((o) => !EVAL_OVERRIDABLE.test(o) && !isInferenceSetting(o));
  if (ignored.length > 0) {
    throw new UserError(
      `--set ${ignored[0]}: eval scores the checkpoint's own model; data.*, eval.* and the inference settings (${INFERENCE_SETTINGS.join(', ')}) apply`,
    );
  }
  const checkpoint = loadCheckpoint(options.checkpoint, { optimizer: false });
  const { classes } = checkpoint.meta;
  const config = loadConfig(options.config ?? join(options.checkpoint, CONFIG_FILE), { overrides: options.overrides }).config;
  const named = config.data.dataset.classes;
  if (named != null && named.join('\n') !== classes.join('\n')) {
    throw new UserError(`data.dataset.classes (${named.join(', ')}) differ from the checkpoint's classes (${classes.join(', ')}): the labels would not match`);
  }
  // Labels are read in the checkpoint's class order, whatever the annotations discover.
  const data = { ...config.data, dataset: { ...config.data.dataset, classes } };
  // The checkpoint's own config with the inference settings set on it, as it was loaded.
  const model = inference.length > 0 ? loadConfig(join(options.checkpoint, CONFIG_FILE), { overrides: inference }).config.model : checkpoint.config.model;
  const modelConfig = { ...checkpoint.config, model, data, eval: config.eval };
  const split = options.split ?? 'test';
  const names = Object.keys(config.data.dataset.splits);
  if (!names.includes(split)) {
    throw new UserError(
      `--split ${split}: the config names the splits ${names.join(', ')} (data.dataset.splits); name another with --set data.dataset.splits.${split}=<its name in the dataset>`,
    );
  }
  await initBackend({ log });
  const dataset = await openDataset(data, split, { log });
  if (dataset.size === 0) throw new UserError(`the ${split} split of ${data.dataset.dir} has no usable example`);
  const detector = buildDetector(modelConfig, classes);
  const params = initDetector(detector, seededRandom(0));
  try {
    assignParams(params, checkpoint.weights, join(options.checkpoint, WEIGHTS_FILE));
    const result = await evaluateToFile(detector, params, dataset, modelConfig, options.checkpoint, { maxImages: options.maxImages, log });
    process.stdout.write(formatSummary(result.summary) + '\n');
    log(`${describeMap(modelConfig.eval.metric, result, split)}; wrote ${result.path}`);
    return result;
  } finally {
    disposeParams(params);
  }
}
