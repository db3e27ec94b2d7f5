import { readCoco } from './coco';
import { readCsv } from './csv';
import { DIGIT_CLASSES, ensureDigits } from './digits/generate';
import type { AnnotationReader, ReaderOptions } from './reader';
import type { DatasetReport, ReportCollector } from './report';
import type { DataConfig, DatasetType, Example, Log, Split } from './types';
import { readVoc } from './voc';
import { assertDatasetConfig, assertSplit } from './validate';

/**
 * One split of a dataset, opened: its validated examples (annotations only — images are
 * decoded by the streams) and the report of everything skipped so far. The streams add
 * the images they cannot decode to the same report.
 */
export interface Dataset {
  type: DatasetType;
  /** The dataset root, absolute (a relative config dir is read under the workspace root). */
  dir: string;
  /** Which config split: a key of config.dataset.splits (train, val, test or another it names). */
  split: Split;
  /** The split's name in the dataset (`trainval`, `train2017`, …). */
  name: string;
  /** Labels 1..N in this order. */
  classes: string[];
  /** Usable examples read. */
  size: number;
  at(index: number): Example;
  /** The examples in dataset order. */
  examples(): AsyncIterable<Example>;
  /** Skipped items by reason, counts, the issues themselves. */
  report(): DatasetReport;
  /** Where the streams record what they skip. */
  readonly collector: ReportCollector;
}

export interface OpenOptions {
  /** Receives warnings (default console.warn). */
  log?: Log;
  /** Files read at once (default 8). */
  concurrency?: number;
}

/**
 * The reader for a config's split (a key of config.dataset.splits): VOC layout for digits and
 * voc, COCO JSON, Luminoth CSV. Classes are discovered from train, val and test only, whatever
 * other splits the config names.
 */
export function openReader(config: Pick<DataConfig, 'dataset'>, split: Split, options: OpenOptions = {}): Promise<AnnotationReader> {
  assertSplit('openReader', config, split);
  const { dataset } = config;
  const readerOptions: ReaderOptions = {
    classes: dataset.classes ?? (dataset.type === 'digits' ? [...DIGIT_CLASSES] : undefined),
    discoverFrom: [...new Set([dataset.splits.train, dataset.splits.val, dataset.splits.test])],
    log: options.log,
    role: split,
    concurrency: options.concurrency,
  };
  const name = dataset.splits[split];
  switch (dataset.type) {
    case 'digits':
      return readVoc(dataset.dir, name, { ...readerOptions, type: 'digits' });
    case 'voc':
      return readVoc(dataset.dir, name, readerOptions);
    case 'coco':
      return readCoco(dataset.dir, name, readerOptions);
    case 'csv':
      return readCsv(dataset.dir, name, readerOptions);
  }
}

/**
 * Opens one split of the configured dataset (train, val, test, or another key of
 * config.dataset.splits, e.g. digits' `shift`): reads and validates every annotation (a
 * warning per skipped box or image, through `log`), keeping the examples — small
 * records — in memory so epochs can be shuffled. Images are not opened here beyond their
 * headers where an annotation lacks a size. For the `digits` type the dataset is
 * generated first when `dir` has none (ensureDigits). A relative `dir` is read under the
 * workspace root (fromWorkspace of @lumen/core), not the working directory, so every
 * subfolder sees the same data. A split whose file is missing or
 * unreadable opens empty, with `report().fatal` saying why; check `size` before training.
 */
export async function openDataset(config: Pick<DataConfig, 'dataset'>, split: Split, options: OpenOptions = {}): Promise<Dataset> {
  assertDatasetConfig('openDataset', config);
  assertSplit('openDataset', config, split);
  if (config.dataset.type === 'digits') await ensureDigits(config, { log: options.log });
  const reader = await openReader(config, split, options);
  const examples: Example[] = [];
  for await (const example of reader.examples) examples.push(example);
  return {
    type: config.dataset.type,
    dir: reader.dir,
    split,
    name: reader.split,
    classes: reader.classes,
    size: examples.length,
    at(index) {
      const example = examples[index];
      if (example == null) throw new Error(`Error in Dataset.at: 'index' must be an integer in [0, ${examples.length}), but got ${index}.`);
      return example;
    },
    async *examples() {
      yield* examples;
    },
    report: () => reader.report.snapshot(),
    collector: reader.report,
  };
}
