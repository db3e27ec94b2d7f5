import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imageInfo } from './decode';
import { buildExample, emptyReader, labelMap, readerReport, sortClasses, type AnnotationReader, type RawBox, type ReaderOptions } from './reader';
import type { ReportCollector } from './report';
import type { DatasetType, Example } from './types';
import { isDirectory, lineAt, listImages, mapOrdered, toNumber } from './util';
import { assertString } from '@lumen/core';
import { assertClasses } from './validate';

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (_name, jpath) => jpath === 'annotation.object',
});

interface VocObject {
  name?: unknown;
  difficult?: unknown;
  bndbox?: { xmin?: unknown; ymin?: unknown; xmax?: unknown; ymax?: unknown };
}
interface VocAnnotation {
  filename?: unknown;
  size?: { width?: unknown; height?: unknown };
  object?: VocObject[];
}

/** The ids of `ImageSets/Main/<split>.txt` (first token of each line; `<class>_<split>` lists work too), or null when missing. */
async function readList(file: string): Promise<string[] | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim().split(/\s+/)[0])
    .filter((id) => id.length > 0);
}

type Parsed = { ok: true; annotation: VocAnnotation; text: string } | { ok: false; reason: 'missing-file' | 'malformed-file'; line?: number; message: string };

async function parseAnnotation(file: string): Promise<Parsed> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { ok: false, reason: 'missing-file', message: `annotation missing (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) return { ok: false, reason: 'malformed-file', line: valid.err.line, message: `malformed XML: ${valid.err.msg}` };
  const root = parser.parse(text) as { annotation?: VocAnnotation };
  if (root.annotation == null || typeof root.annotation !== 'object') return { ok: false, reason: 'malformed-file', message: 'no <annotation> element' };
  return { ok: true, annotation: root.annotation, text };
}

/** Line of the `index`-th <object> element. */
function objectLine(text: string, index: number): number | undefined {
  const re = /<object[\s>]/g;
  for (let i = 0, match = re.exec(text); match != null; i++, match = re.exec(text)) if (i === index) return lineAt(text, match.index);
  return undefined;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');

/**
 * Reads a Pascal VOC split: ids from `ImageSets/Main/<split>.txt`, boxes from
 * `Annotations/<id>.xml`, images from `JPEGImages/` (the annotation's `<filename>` when it
 * exists there, else `<id>.<any image extension>`). VOC pixel indices are 1-based and
 * inclusive, so a box is `[xmin - 1, ymin - 1, xmax, ymax]` (detectron2's conversion);
 * `difficult` is kept as a flag. Without `options.classes` the classes are the sorted names
 * found in the `discoverFrom` splits' annotations.
 */
export async function readVoc(dir: string, split: string, options: ReaderOptions & { type?: DatasetType } = {}): Promise<AnnotationReader> {
  assertString('readVoc', 'dir', dir);
  assertString('readVoc', 'split', split);
  if (options.classes != null) assertClasses('readVoc', 'options.classes', options.classes);
  const type = options.type ?? 'voc';
  const file = join(dir, 'ImageSets', 'Main', `${split}.txt`);
  const report = readerReport(type, dir, split, file, options);
  const base = { type, dir, split, file, report, classes: options.classes };
  const ids = await readList(file);
  if (ids == null) {
    const where = (await isDirectory(dir)) ? `no split list ${file}` : `dataset folder ${dir} does not exist`;
    return emptyReader(base, { reason: 'missing-file', effect: 'split-skipped', file, message: where });
  }
  const concurrency = options.concurrency ?? 8;
  const annotationFile = (id: string) => join(dir, 'Annotations', `${id}.xml`);
  let classes = options.classes;
  if (classes == null) {
    const names: string[] = [];
    for (const other of options.discoverFrom ?? [split]) {
      const list = other === split ? ids : await readList(join(dir, 'ImageSets', 'Main', `${other}.txt`));
      for await (const parsed of mapOrdered(list ?? [], concurrency, (id) => parseAnnotation(annotationFile(id)))) {
        if (parsed.ok) for (const object of parsed.annotation.object ?? []) if (text(object?.name) !== '') names.push(text(object.name));
      }
    }
    classes = sortClasses(names);
  }
  report.setClasses(classes);
  report.setListed(ids.length);
  const images = await listImages(join(dir, 'JPEGImages'));
  const labels = labelMap(classes);
  const seen = new Set<string>();
  const unique = ids.filter((id) => {
    if (!seen.has(id)) return seen.add(id);
    report.issue({ reason: 'duplicate-id', effect: 'example-skipped', file, exampleId: id, message: `id ${JSON.stringify(id)} is listed twice` });
    return false;
  });
  async function* examples(): AsyncGenerator<Example> {
    const read = (id: string) => parseAnnotation(annotationFile(id)).then((parsed) => ({ id, parsed }));
    for await (const { id, parsed } of mapOrdered(unique, concurrency, read)) {
      const example = await toExample(id, parsed, annotationFile(id), images, labels, report);
      if (example != null) yield example;
    }
  }
  return { type, dir, split, file, classes, listed: ids.length, examples: examples(), report };
}

async function toExample(
  id: string,
  parsed: Parsed,
  file: string,
  images: { byName: Map<string, string>; byStem: Map<string, string> },
  labels: Map<string, number>,
  report: ReportCollector,
): Promise<Example | null> {
  if (!parsed.ok) {
    report.issue({ reason: parsed.reason, effect: 'example-skipped', file, exampleId: id, ...(parsed.line != null ? { line: parsed.line } : {}), message: parsed.message });
    return null;
  }
  const { annotation } = parsed;
  const imagePath = images.byName.get(text(annotation.filename)) ?? images.byStem.get(id);
  if (imagePath == null) {
    report.issue({ reason: 'missing-image', effect: 'example-skipped', file, exampleId: id, message: `no image ${id}.* (or ${JSON.stringify(text(annotation.filename))}) in JPEGImages/` });
    return null;
  }
  let width = toNumber(text(annotation.size?.width));
  let height = toNumber(text(annotation.size?.height));
  if (!(width > 0 && height > 0)) {
    // No usable <size>: the image header has it.
    try {
      ({ width, height } = await imageInfo(imagePath));
    } catch (e) {
      report.issue({ reason: 'undecodable-image', effect: 'example-skipped', file: imagePath, exampleId: id, message: `no <size> in ${file} and the image is unreadable: ${(e as Error).message}` });
      return null;
    }
  }
  const raw: RawBox[] = [];
  (annotation.object ?? []).forEach((object, index) => {
    const name = text(object?.name);
    const box = object?.bndbox;
    if (name === '' || box == null || typeof box !== 'object') {
      report.issue({
        reason: 'malformed-record',
        effect: 'box-skipped',
        file,
        exampleId: id,
        annotation: `object ${index}`,
        line: objectLine(parsed.text, index),
        message: `<object> without ${name === '' ? '<name>' : '<bndbox>'}`,
      });
      return;
    }
    raw.push({
      written: `box (xmin ${text(box.xmin) || '?'}, ymin ${text(box.ymin) || '?'}, xmax ${text(box.xmax) || '?'}, ymax ${text(box.ymax) || '?'})`,
      x1: toNumber(text(box.xmin)) - 1,
      y1: toNumber(text(box.ymin)) - 1,
      x2: toNumber(text(box.xmax)),
      y2: toNumber(text(box.ymax)),
      name,
      difficult: toNumber(text(object.difficult)) === 1,
      annotation: `object ${index}`,
      line: objectLine(parsed.text, index),
    });
  });
  return buildExample(id, imagePath, width, height, raw, labels, report, file);
}
