import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { imageInfo } from './decode';
import {
  buildExample,
  discoverClasses,
  emptyReader,
  labelMap,
  readerReport,
  silentReport,
  type AnnotatedImage,
  type AnnotationReader,
  type RawBox,
  type ReaderOptions,
} from './reader';
import type { ReportCollector } from './report';
import type { Example } from './types';
import { isDirectory, isFile, listImages, mapOrdered, memoized, toNumber } from './util';
import { assertString, fromWorkspace } from '@lumen/core';
import { assertClasses } from './validate';

const COLUMNS = ['image_id', 'xmin', 'ymin', 'xmax', 'ymax', 'label'] as const;
type Column = (typeof COLUMNS)[number];

/** Header names mapped to Luminoth's columns (Luminoth's own FIELD_MAPPER, plus a few). */
const ALIASES: Record<string, Column> = {
  image_id: 'image_id',
  image: 'image_id',
  img: 'image_id',
  img_name: 'image_id',
  image_name: 'image_id',
  filename: 'image_id',
  file_name: 'image_id',
  path: 'image_id',
  xmin: 'xmin',
  x_min: 'xmin',
  x1: 'xmin',
  ymin: 'ymin',
  y_min: 'ymin',
  y1: 'ymin',
  xmax: 'xmax',
  x_max: 'xmax',
  x2: 'xmax',
  ymax: 'ymax',
  y_max: 'ymax',
  y2: 'ymax',
  label: 'label',
  class: 'label',
  class_id: 'label',
  label_id: 'label',
  name: 'label',
};

interface CsvRow {
  line: number;
  fields: Record<Column, string>;
}

interface CsvContent {
  /** Rows grouped by image id, in order of first appearance. */
  images: Map<string, CsvRow[]>;
  /** Why nothing could be read (a header without the needed columns). */
  fatal?: string;
}

/**
 * Parses a CSV file. A first row whose coordinate columns are not numbers and whose
 * names are known columns is a header (which may order the columns); otherwise the order
 * is image_id,xmin,ymin,xmax,ymax,label. Bad rows are reported with their line.
 */
async function readRows(file: string, report: ReportCollector | null): Promise<CsvContent | null> {
  if (!(await isFile(file))) return null;
  const images = new Map<string, CsvRow[]>();
  let order: number[] | null = null; // column index per COLUMNS entry
  const parser = createReadStream(file).pipe(
    parse({
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
      bom: true,
      skip_records_with_error: true,
      on_skip: (error) => {
        if (error == null) return undefined;
        report?.issue({
          reason: 'malformed-file',
          effect: 'example-skipped',
          file,
          line: typeof error.lines === 'number' ? error.lines : undefined,
          message: `malformed CSV: ${error.message}${error.code === 'CSV_QUOTE_NOT_CLOSED' ? ' (the rest of the file is unreadable)' : ''}`,
        });
        return undefined;
      },
    }),
  );
  let first = true;
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (first) {
      first = false;
      const names = record.map((name) => ALIASES[name.toLowerCase()]);
      const numeric = record.slice(1, 5).some((v) => v !== '' && Number.isFinite(Number(v)));
      if (!numeric && names.filter((n) => n != null).length >= 2) {
        const columns = COLUMNS.map((column) => names.indexOf(column));
        order = columns;
        const missing = COLUMNS.filter((_, i) => columns[i] < 0);
        if (missing.length > 0) {
          const message = `header lacks column(s) ${missing.join(', ')}`;
          report?.issue({ reason: 'malformed-file', effect: 'split-skipped', file, line: info.lines, message });
          return { images, fatal: message };
        }
        continue;
      }
    }
    // csv-parse reads bytes that are not UTF-8 as U+FFFD: the row would name another image or class.
    if (record.some((field) => field.includes('\uFFFD'))) {
      report?.issue({ reason: 'malformed-record', effect: 'box-skipped', file, line: info.lines, message: 'row is not UTF-8 text (save the file as UTF-8)' });
      continue;
    }
    const columns = order ?? [0, 1, 2, 3, 4, 5];
    const needed = Math.max(...columns) + 1;
    if (record.length < needed || record[columns[0]] === '') {
      report?.issue({
        reason: 'malformed-record',
        effect: record.length < needed ? 'box-skipped' : 'example-skipped',
        file,
        line: info.lines,
        message: record.length < needed ? `row has ${record.length} column(s), expected ${needed} (image_id,xmin,ymin,xmax,ymax,label)` : 'row without an image_id',
      });
      continue;
    }
    const fields = Object.fromEntries(COLUMNS.map((column, i) => [column, record[columns[i]]])) as Record<Column, string>;
    const rows = images.get(fields.image_id);
    if (rows != null) rows.push({ line: info.lines, fields });
    else images.set(fields.image_id, [{ line: info.lines, fields }]);
  }
  return { images };
}

/** A row with every box field empty only names an image (no boxes). */
const isImageOnly = (f: Record<Column, string>) => f.xmin === '' && f.ymin === '' && f.xmax === '' && f.ymax === '' && f.label === '';

/** How a split's image ids become files, and their headers read at most once. */
interface CsvImages {
  find: (id: string) => string | undefined;
  /** Where `find` looks, for messages. */
  where: string;
  info: (path: string) => Promise<{ width: number; height: number }>;
}

/** `image_id` looked up in `<dir>/<split>/` then `<dir>/`, by file name then by stem. */
async function csvImages(dir: string, split: string, info: CsvImages['info']): Promise<CsvImages> {
  const [inSplit, inDir] = await Promise.all([listImages(join(dir, split)), listImages(dir)]);
  const find = (id: string) => inSplit.byName.get(id) ?? inDir.byName.get(id) ?? inSplit.byStem.get(id) ?? inDir.byStem.get(id);
  return { find, where: `${join(dir, split)}/ or ${dir}/`, info };
}

/** One image id's file, size and boxes, or null when the example is skipped (reported). */
async function annotate([id, rows]: [string, CsvRow[]], file: string, images: CsvImages, report: ReportCollector): Promise<AnnotatedImage | null> {
  const imagePath = images.find(id);
  if (imagePath == null) {
    report.issue({ reason: 'missing-image', effect: 'example-skipped', file, line: rows[0].line, exampleId: id, message: `no image ${JSON.stringify(id)} in ${images.where}` });
    return null;
  }
  let size: { width: number; height: number };
  try {
    size = await images.info(imagePath);
  } catch (e) {
    report.issue({ reason: 'undecodable-image', effect: 'example-skipped', file: imagePath, exampleId: id, message: `unreadable image: ${(e as Error).message}` });
    return null;
  }
  const raw: RawBox[] = rows
    .filter((row) => !isImageOnly(row.fields))
    .map(({ line, fields }) => ({
      x1: toNumber(fields.xmin),
      y1: toNumber(fields.ymin),
      x2: toNumber(fields.xmax),
      y2: toNumber(fields.ymax),
      name: fields.label,
      difficult: false,
      line,
    }));
  return { id, imagePath, width: size.width, height: size.height, raw, file };
}

/**
 * The rows grouped by the file their image_id names, in order of first appearance: rows of
 * `b` and `b.png` are one image (apart, each would be the image with only some of its boxes).
 * Ids naming no file stay apart, to be reported.
 */
function groupByFile(content: CsvContent, images: CsvImages): [string, CsvRow[]][] {
  const groups = new Map<string, [string, CsvRow[]]>();
  for (const [id, rows] of content.images) {
    const key = images.find(id) ?? `\0${id}`;
    const group = groups.get(key);
    if (group != null) group[1].push(...rows);
    else groups.set(key, [id, [...rows]]);
  }
  return [...groups.values()];
}

/** The images of `groups`, in order; null for each skipped one (reported to `report`). */
function annotatedImages(groups: [string, CsvRow[]][], file: string, images: CsvImages, report: ReportCollector, concurrency: number): AsyncGenerator<AnnotatedImage | null> {
  return mapOrdered(groups, concurrency, (group) => annotate(group, file, images, report));
}

/**
 * Reads a CSV split as Luminoth does: `<dir>/<split>.csv`, rows
 * `image_id,xmin,ymin,xmax,ymax,label` (header optional; Luminoth's alternative column names
 * accepted), boxes in pixel corners as written. A row with empty box fields names an image
 * without boxes. `image_id` is a file name (or a name without extension) looked up in
 * `<dir>/<split>/` then `<dir>/`; sizes come from the image headers. Without
 * `options.classes` the classes are the sorted labels of the boxes kept in the
 * `discoverFrom` splits (discoverClasses). A relative `dir` is read under the workspace root.
 */
export async function readCsv(dir: string, split: string, options: ReaderOptions = {}): Promise<AnnotationReader> {
  assertString('readCsv', 'dir', dir);
  assertString('readCsv', 'split', split);
  if (options.classes != null) assertClasses('readCsv', 'options.classes', options.classes);
  const root = fromWorkspace(dir);
  const file = join(root, `${split}.csv`);
  const report = readerReport('csv', root, split, file, options);
  const base = { type: 'csv' as const, dir: root, split, file, report, classes: options.classes };
  const parsed = await readRows(file, report);
  if (parsed == null) {
    const message = (await isDirectory(root)) ? `no CSV file ${file}` : `dataset folder ${root} does not exist`;
    return emptyReader(base, { reason: 'missing-file', effect: 'split-skipped', file, message });
  }
  const content = parsed;
  const concurrency = options.concurrency ?? 8;
  const info = memoized(imageInfo);
  const images = await csvImages(root, split, info);
  const discover = async () => {
    const silent = silentReport('csv', root, split, file);
    const splits = await Promise.all(
      (options.discoverFrom ?? [split]).map(async (other) => {
        const otherFile = join(root, `${other}.csv`);
        const rows = other === split ? content : await readRows(otherFile, null);
        if (rows == null) return null;
        const found = other === split ? images : await csvImages(root, other, info);
        return { groups: groupByFile(rows, found), file: otherFile, images: found };
      }),
    );
    async function* all(): AsyncGenerator<AnnotatedImage | null> {
      for (const s of splits) if (s != null) yield* annotatedImages(s.groups, s.file, s.images, silent, concurrency);
    }
    return discoverClasses(all());
  };
  const classes = options.classes ?? (await discover());
  report.setClasses(classes);
  const groups = groupByFile(content, images);
  report.setListed(groups.length);
  if (content.fatal != null) report.setFatal(content.fatal);
  const labels = labelMap(classes);
  async function* examples(): AsyncGenerator<Example> {
    for await (const image of annotatedImages(groups, file, images, report, concurrency)) if (image != null) yield buildExample(image, labels, report);
  }
  return { type: 'csv', dir: root, split, file, classes, listed: groups.length, examples: examples(), report };
}
