import { openReader } from './dataset';
import { decodeAllPixels, imageInfo } from './decode';
import { ensureDigits } from './digits/generate';
import { formatDatasetReport, type DatasetReport } from './report';
import type { DataConfig, Example, Log, Split } from './types';
import { mapOrdered } from './util';
import { fail, fromWorkspace } from '@lumen/core';
import { assertDatasetConfig, assertSplit, splitNames } from './validate';

/** How deeply checkDataset opens images. */
export type ImageCheck = 'none' | 'header' | 'decode';

export interface CheckOptions {
  /** Splits to check (default every split the config names: train, val, test, then its others). */
  splits?: Split[];
  /**
   * 'header' (default): every image's header is read (format, size as displayed, which must
   * match the annotation); 'decode': every image is fully decoded (finds truncated files,
   * slower); 'none': annotations only.
   */
  images?: ImageCheck;
  /** Digits: generate the dataset when missing (default false: reported as missing). */
  generate?: boolean;
  /** Receives warnings as they are found (default: none — they are all in the report). */
  log?: Log;
  /** Files opened at once (default 8). */
  concurrency?: number;
}

export interface CheckReport {
  type: DataConfig['dataset']['type'];
  dir: string;
  images: ImageCheck;
  /** One report per checked split, in the order checked. */
  splits: Partial<Record<Split, DatasetReport>>;
  /** Findings across splits: differing class lists, an empty train split, classes without boxes. */
  notes: string[];
  /** Some checked split has a usable example (the `lumen dataset check` exit status is 0 then). */
  usable: boolean;
  /** Usable examples over the checked splits. */
  examples: number;
  seconds: number;
}

async function checkImage(path: string, mode: ImageCheck): Promise<{ width: number; height: number }> {
  const info = await imageInfo(path);
  if (mode === 'decode') await decodeAllPixels(path);
  return info;
}

/**
 * Reads every annotation of the configured dataset's splits — and by default every image
 * header — and reports what is unusable and why, per split: the report `lumen dataset check`
 * prints (formatCheckReport). Never throws for bad data; only for a bad config.
 */
export async function checkDataset(config: Pick<DataConfig, 'dataset'>, options: CheckOptions = {}): Promise<CheckReport> {
  assertDatasetConfig('checkDataset', config);
  const splits = options.splits ?? splitNames(config);
  splits.forEach((split) => assertSplit('checkDataset', config, split));
  const mode = options.images ?? 'header';
  if (!['none', 'header', 'decode'].includes(mode)) fail('checkDataset', `'options.images' must be one of none, header, decode, but got ${JSON.stringify(mode)}.`);
  const started = performance.now();
  const notes: string[] = [];
  if (config.dataset.type === 'digits' && options.generate === true) await ensureDigits(config, { log: options.log });
  const reports: Partial<Record<Split, DatasetReport>> = {};
  for (const split of splits) {
    const reader = await openReader(config, split, { log: options.log ?? (() => undefined), concurrency: options.concurrency });
    const check = async (example: Example) => {
      if (mode === 'none') return;
      try {
        const size = await checkImage(example.imagePath, mode);
        if (size.width !== example.width || size.height !== example.height) {
          reader.report.dropped(
            example,
            'bad-image-size',
            `the annotation gives ${example.width}x${example.height} but the image (EXIF orientation applied) is ${size.width}x${size.height}`,
          );
        }
      } catch (e) {
        reader.report.dropped(example, 'undecodable-image', (e as Error).message);
      }
    };
    const examples: Example[] = [];
    for await (const example of reader.examples) examples.push(example);
    for await (const _ of mapOrdered(examples, options.concurrency ?? 8, check)) void _;
    reports[split] = reader.report.snapshot();
  }
  const checked = splits.flatMap((s) => reports[s] ?? []).filter((r) => r.fatal == null);
  const first = checked[0];
  for (const report of checked.slice(1)) {
    if (first != null && report.classes.join('\n') !== first.classes.join('\n')) {
      notes.push(`class lists differ: ${first.role} has [${first.classes.join(', ')}], ${report.role} has [${report.classes.join(', ')}]`);
    }
  }
  const train = reports.train;
  if (train != null && train.examples === 0) notes.push('the train split has no usable example: training cannot start');
  if (train != null && train.examples > 0) {
    const unused = Object.entries(train.boxesPerClass).filter(([, n]) => n === 0).map(([name]) => name);
    if (unused.length > 0) notes.push(`classes without a box in train: ${unused.join(', ')}`);
  }
  if (config.dataset.type === 'digits' && splits.some((s) => reports[s]?.fatal != null) && options.generate !== true) {
    notes.push(`the digits dataset is generated on first use (openDataset / the train app) or with checkDataset(config, { generate: true })`);
  }
  const examples = splits.reduce((n, s) => n + (reports[s]?.examples ?? 0), 0);
  return {
    type: config.dataset.type,
    dir: fromWorkspace(config.dataset.dir),
    images: mode,
    splits: reports,
    notes,
    usable: examples > 0,
    examples,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

/** The check report as text: one block per split (see formatDatasetReport), notes, verdict. */
export function formatCheckReport(report: CheckReport, options: { issues?: number } = {}): string {
  const images = { none: 'annotations only', header: 'image headers read', decode: 'images decoded' }[report.images];
  const lines = [`dataset ${report.type} at ${report.dir} (${images}, ${report.seconds} s)`];
  for (const r of Object.values(report.splits)) if (r != null) lines.push(formatDatasetReport(r, options));
  for (const note of report.notes) lines.push(`note: ${note}`);
  lines.push(report.usable ? `usable: ${report.examples} example(s)` : 'NOT USABLE: no split has a usable example');
  return lines.join('\n');
}
