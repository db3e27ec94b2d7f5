// The dataset and config checks of this lib, with @lumen/core's messages and generic checks.
import { assertNumber, assertString, describe, fail, formatValues, isFraction, isNonNegativeInteger, isPositiveInteger } from '@lumen/core';
import type { DataConfig, ResizeMode, RotatedBoxRule, Split } from './types';
import { RESIZE_MODES, ROTATED_BOX_RULES, SPLITS } from './types';

/** A split's key in `dataset.splits`: it names files (`eval-<split>.json`) and CLI choices. */
export const SPLIT_KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** The splits a config names: train, val, test, then its others in their order. */
export function splitNames(config: Pick<DataConfig, 'dataset'>): Split[] {
  return [...SPLITS, ...Object.keys(config.dataset.splits).filter((key) => !(SPLITS as readonly string[]).includes(key))];
}

/** `value` is a split `config` names (a key of config.dataset.splits). */
export function assertSplit(fn: string, config: Pick<DataConfig, 'dataset'>, value: unknown): asserts value is Split {
  const names = splitNames(config);
  if (typeof value !== 'string' || !names.includes(value)) {
    fail(fn, `'split' must be one of the splits config.dataset.splits names (${names.join(', ')}), but got ${describe(value)}.`);
  }
}

export function assertSizes(fn: string, name: string, value: unknown): asserts value is { minSize: number; maxSize: number; resize?: ResizeMode } {
  const v = value as { minSize?: unknown; maxSize?: unknown; resize?: unknown } | undefined;
  if (v == null || typeof v !== 'object') fail(fn, `'${name}' must be { minSize, maxSize, resize? }, but got ${describe(value)}.`);
  assertNumber(fn, `${name}.minSize`, v.minSize, 'a positive number', (x) => x > 0 && Number.isFinite(x));
  assertNumber(fn, `${name}.maxSize`, v.maxSize, 'a positive number', (x) => x > 0 && Number.isFinite(x));
  if (v.resize !== undefined && !RESIZE_MODES.includes(v.resize as ResizeMode)) {
    fail(fn, `'${name}.resize' must be one of ${RESIZE_MODES.join(', ')}, but got ${describe(v.resize)}.`);
  }
}

function section(fn: string, config: unknown, path: string): Record<string, unknown> {
  let value: unknown = config;
  for (const key of path.split('.')) value = value != null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  if (value == null || typeof value !== 'object') fail(fn, `'config.${path}' must be an object, but got ${describe(value)}.`);
  return value as Record<string, unknown>;
}

/** The dataset part of a config (readers, openDataset, checkDataset). */
export function assertDatasetConfig(fn: string, config: unknown): asserts config is Pick<DataConfig, 'dataset'> {
  const dataset = section(fn, config, 'dataset');
  if (!['digits', 'voc', 'coco', 'csv'].includes(dataset.type as string)) {
    fail(fn, `'config.dataset.type' must be one of digits, voc, coco, csv, but got ${describe(dataset.type)}.`);
  }
  assertString(fn, 'config.dataset.dir', dataset.dir);
  const splits = section(fn, config, 'dataset.splits');
  for (const split of SPLITS) assertString(fn, `config.dataset.splits.${split}`, splits[split]);
  for (const [key, name] of Object.entries(splits)) {
    if (!SPLIT_KEY.test(key)) fail(fn, `'config.dataset.splits' keys must be split names (a letter, then letters, digits, _ or -), but got ${JSON.stringify(key)}.`);
    assertString(fn, `config.dataset.splits.${key}`, name);
  }
  if (dataset.classes != null) assertClasses(fn, 'config.dataset.classes', dataset.classes);
  if (dataset.digits !== undefined) assertDigitsOptions(fn, 'config.dataset.digits', dataset.digits);
}

export function assertClasses(fn: string, name: string, value: unknown): asserts value is string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((c) => typeof c !== 'string' || c.length === 0)) {
    fail(fn, `'${name}' must be a non-empty array of class names, but got ${describe(value)}.`);
  }
  const seen = new Set<string>();
  for (const c of value as string[]) {
    if (seen.has(c)) fail(fn, `'${name}' must not repeat a class, but ${JSON.stringify(c)} appears twice.`);
    seen.add(c);
  }
}

export function assertDigitsOptions(fn: string, name: string, value: unknown): void {
  const v = value as Record<string, unknown> | undefined;
  if (v == null || typeof v !== 'object') fail(fn, `'${name}' must be { seed, train, val, test, shift? }, but got ${describe(value)}.`);
  assertNumber(fn, `${name}.seed`, v.seed, 'an integer', Number.isInteger);
  for (const split of SPLITS) assertNumber(fn, `${name}.${split}`, v[split], 'a non-negative integer', isNonNegativeInteger);
  if (v.shift !== undefined) assertNumber(fn, `${name}.shift`, v.shift, 'a non-negative integer', isNonNegativeInteger);
}

/** Everything the decoding streams read: image sizes, augmentation and loader settings. */
export function assertStreamConfig(fn: string, config: unknown): asserts config is DataConfig {
  assertSizes(fn, 'config.image', section(fn, config, 'image'));
  const augment = section(fn, config, 'augment');
  assertNumber(fn, 'config.augment.flip', augment.flip, 'a probability in [0, 1]', isFraction);
  const jitter = section(fn, config, 'augment.scaleJitter');
  assertNumber(fn, 'config.augment.scaleJitter.prob', jitter.prob, 'a probability in [0, 1]', isFraction);
  if (!Array.isArray(jitter.minSizes) || jitter.minSizes.some((s) => typeof s !== 'number' || !(s > 0) || !Number.isFinite(s))) {
    fail(fn, `'config.augment.scaleJitter.minSizes' must be an array of positive numbers, but got ${describe(jitter.minSizes)}.`);
  }
  if ((jitter.prob as number) > 0 && jitter.minSizes.length === 0) {
    fail(fn, `'config.augment.scaleJitter.minSizes' must not be empty when scaleJitter.prob > 0, but got an array of length 0.`);
  }
  const photo = section(fn, config, 'augment.photometric');
  assertNumber(fn, 'config.augment.photometric.prob', photo.prob, 'a probability in [0, 1]', isFraction);
  for (const key of ['brightness', 'contrast', 'saturation']) {
    assertNumber(fn, `config.augment.photometric.${key}`, photo[key], 'a number in [0, 1]', isFraction);
  }
  assertNumber(fn, 'config.augment.photometric.hue', photo.hue, 'a number in [0, 0.5]', (v) => v >= 0 && v <= 0.5);
  const crop = section(fn, config, 'augment.crop');
  assertNumber(fn, 'config.augment.crop.prob', crop.prob, 'a probability in [0, 1]', isFraction);
  assertNumber(fn, 'config.augment.crop.minScale', crop.minScale, 'a number in (0, 1]', (v) => v > 0 && v <= 1);
  assertNumber(fn, 'config.augment.crop.minBoxVisible', crop.minBoxVisible, 'a number in [0, 1]', isFraction);
  assertLaterAugmentations(fn, config, augment);
  const loader = section(fn, config, 'loader');
  assertNumber(fn, 'config.loader.concurrency', loader.concurrency, 'a positive integer', isPositiveInteger);
  assertNumber(fn, 'config.loader.prefetch', loader.prefetch, 'a positive integer', isPositiveInteger);
  if (typeof loader.shuffle !== 'boolean') fail(fn, `'config.loader.shuffle' must be a boolean, but got ${describe(loader.shuffle)}.`);
}

/** A `[min, max]` pair of numbers that pass `ok`, min <= max. */
function assertRange(fn: string, name: string, value: unknown, expected: string, ok: (v: number) => boolean): void {
  if (!Array.isArray(value) || value.length !== 2 || value.some((v) => typeof v !== 'number' || Number.isNaN(v) || !ok(v)) || value[0] > value[1]) {
    fail(fn, `'${name}' must be [min, max] with min <= max, each ${expected}, but got ${Array.isArray(value) && value.length <= 4 ? formatValues(value) : describe(value)}.`);
  }
}

/** The augmentation keys after crop: each may be left out (probability 0). */
function assertLaterAugmentations(fn: string, config: unknown, augment: Record<string, unknown>): void {
  const present = (key: string) => {
    if (augment[key] === undefined) return null;
    const value = section(fn, config, `augment.${key}`);
    assertNumber(fn, `config.augment.${key}.prob`, value.prob, 'a probability in [0, 1]', isFraction);
    return value;
  };
  for (const key of ['grayscale', 'channelShuffle', 'invert']) present(key);
  const rotate = present('rotate');
  if (rotate != null) {
    assertNumber(fn, 'config.augment.rotate.degrees', rotate.degrees, 'a number of degrees in [0, 180]', (v) => v >= 0 && v <= 180);
    assertNumber(fn, 'config.augment.rotate.minBoxVisible', rotate.minBoxVisible, 'a number in [0, 1]', isFraction);
    if (rotate.boxes !== undefined && !ROTATED_BOX_RULES.includes(rotate.boxes as RotatedBoxRule)) {
      fail(fn, `'config.augment.rotate.boxes' must be one of ${ROTATED_BOX_RULES.join(', ')}, but got ${describe(rotate.boxes)}.`);
    }
  }
  const blur = present('blur');
  if (blur != null) assertRange(fn, 'config.augment.blur.sigma', blur.sigma, "in [0.3, 1000] (sharp's blur)", (v) => v >= 0.3 && v <= 1000);
  const noise = present('noise');
  if (noise != null) assertRange(fn, 'config.augment.noise.sigma', noise.sigma, 'in (0, 255]', (v) => v > 0 && v <= 255);
  const jpeg = present('jpeg');
  if (jpeg != null) assertRange(fn, 'config.augment.jpeg.quality', jpeg.quality, 'an integer in [1, 100]', (v) => Number.isInteger(v) && v >= 1 && v <= 100);
  const pattern = present('pattern');
  if (pattern != null) {
    assertRange(fn, 'config.augment.pattern.period', pattern.period, 'a number of pixels in [2, 10000]', (v) => v >= 2 && v <= 10000);
    assertRange(fn, 'config.augment.pattern.alpha', pattern.alpha, 'an opacity in [0, 1]', isFraction);
  }
}
