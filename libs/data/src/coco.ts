import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fg from 'fast-glob';
import { imageInfo } from './decode';
import { buildExample, emptyReader, labelMap, readerReport, type AnnotationReader, type RawBox, type ReaderOptions } from './reader';
import type { Example } from './types';
import { decodeText, EncodingError, isDirectory, lineAt, mapOrdered } from './util';
import { assertString, fromWorkspace } from '@lumen/core';
import { assertClasses } from './validate';

interface CocoImage {
  id?: unknown;
  file_name?: unknown;
  width?: unknown;
  height?: unknown;
}
interface CocoAnnotation {
  id?: unknown;
  image_id?: unknown;
  category_id?: unknown;
  bbox?: unknown;
  iscrowd?: unknown;
}
interface CocoCategory {
  id?: unknown;
  name?: unknown;
}

const key = (v: unknown) => (typeof v === 'number' || typeof v === 'string' ? String(v) : null);

/**
 * Reads a COCO split: `annotations/instances_<split>.json`, images under `<split>/`.
 * `bbox` [x, y, w, h] becomes [x, y, x + w, y + h]; `iscrowd` is kept as the difficult flag.
 * Categories are labelled 1..N by increasing category id (names kept), or by
 * `options.classes` names when given. Images without annotations are kept. The JSON is
 * parsed whole (it is annotations, not images); examples are built lazily as the stream
 * is read. A relative `dir` is read under the workspace root (fromWorkspace).
 */
export async function readCoco(dir: string, split: string, options: ReaderOptions = {}): Promise<AnnotationReader> {
  assertString('readCoco', 'dir', dir);
  assertString('readCoco', 'split', split);
  if (options.classes != null) assertClasses('readCoco', 'options.classes', options.classes);
  dir = fromWorkspace(dir);
  const file = join(dir, 'annotations', `instances_${split}.json`);
  const report = readerReport('coco', dir, split, file, options);
  const base = { type: 'coco' as const, dir, split, file, report, classes: options.classes };
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const message = (await isDirectory(dir)) ? `annotation file missing (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` : `dataset folder ${dir} does not exist`;
    return emptyReader(base, { reason: 'missing-file', effect: 'split-skipped', file, message });
  }
  let content: string;
  try {
    content = decodeText(bytes); // JSON is UTF-8 (RFC 8259)
  } catch (e) {
    if (!(e instanceof EncodingError)) throw e;
    return emptyReader(base, { reason: 'malformed-file', effect: 'split-skipped', file, ...(e.line != null ? { line: e.line } : {}), message: e.message });
  }
  let json: { images?: unknown; annotations?: unknown; categories?: unknown };
  try {
    json = JSON.parse(content);
  } catch (e) {
    const message = (e as Error).message;
    const position = /position (\d+)/.exec(message);
    const line = position != null ? lineAt(content, Number(position[1])) : undefined;
    return emptyReader(base, { reason: 'malformed-file', effect: 'split-skipped', file, ...(line != null ? { line } : {}), message: `malformed JSON: ${message}` });
  }
  content = '';
  const images = Array.isArray(json?.images) ? (json.images as CocoImage[]) : null;
  const categories = Array.isArray(json?.categories) ? (json.categories as CocoCategory[]) : null;
  if (images == null || categories == null) {
    const missing = [images == null ? '"images"' : null, categories == null ? '"categories"' : null].filter(Boolean).join(' and ');
    return emptyReader(base, { reason: 'malformed-file', effect: 'split-skipped', file, message: `no ${missing} array` });
  }
  const annotations = Array.isArray(json.annotations) ? (json.annotations as CocoAnnotation[]) : [];

  // Category id -> class name; labels by increasing id unless names are given.
  const categoryName = new Map<string, string>();
  const categoryOrder: { id: number | string; name: string }[] = [];
  categories.forEach((category, index) => {
    const id = key(category?.id);
    if (id == null || typeof category.name !== 'string' || category.name === '') {
      report.issue({ reason: 'malformed-record', effect: 'box-skipped', file, annotation: `category ${index}`, message: 'category without an id or a name; its boxes are unknown-class' });
      return;
    }
    // A second category with the id would rename the first's boxes and leave a class without any.
    if (categoryName.has(id)) {
      const message = `category id ${id} appears twice; its boxes keep the first name ${JSON.stringify(categoryName.get(id))}, not ${JSON.stringify(category.name)}`;
      report.issue({ reason: 'duplicate-id', effect: 'box-skipped', file, annotation: `category ${index}`, message });
      return;
    }
    categoryName.set(id, category.name);
    categoryOrder.push({ id: category.id as number | string, name: category.name });
  });
  categoryOrder.sort((a, b) => (typeof a.id === 'number' && typeof b.id === 'number' ? a.id - b.id : String(a.id).localeCompare(String(b.id))));
  const classes = options.classes ?? [...new Set(categoryOrder.map((c) => c.name))];
  report.setClasses(classes);
  report.setListed(images.length);

  const imageDir = join(dir, split);
  if (!(await isDirectory(imageDir))) {
    return emptyReader({ ...base, classes }, { reason: 'missing-file', effect: 'split-skipped', file: imageDir, message: `image folder ${imageDir} does not exist` });
  }
  const present = new Set(await fg('**/*', { cwd: imageDir, onlyFiles: true, followSymbolicLinks: true, suppressErrors: true }));

  // Annotations grouped by image; an annotation naming no image is reported.
  const imageIds = new Set<string>();
  for (const image of images) {
    const id = key(image?.id);
    if (id != null) imageIds.add(id);
  }
  const byImage = new Map<string, CocoAnnotation[]>();
  annotations.forEach((annotation, index) => {
    const imageId = key(annotation?.image_id);
    if (imageId == null || !imageIds.has(imageId)) {
      const name = key(annotation?.id) ?? `annotations[${index}]`;
      report.issue({ reason: 'unknown-image', effect: 'box-skipped', file, annotation: `annotation ${name}`, message: `image_id ${JSON.stringify(annotation?.image_id)} names no image` });
      return;
    }
    const list = byImage.get(imageId);
    if (list != null) list.push(annotation);
    else byImage.set(imageId, [annotation]);
  });

  const labels = labelMap(classes);
  const seen = new Set<string>();
  async function toExample(image: CocoImage, index: number): Promise<Example | null> {
    const id = key(image?.id);
    const where = { file, annotation: `image ${id ?? `images[${index}]`}` };
    if (id == null || typeof image.file_name !== 'string' || image.file_name === '') {
      report.issue({ ...where, reason: 'malformed-record', effect: 'example-skipped', message: 'image without an id or a file_name' });
      return null;
    }
    if (seen.has(id)) {
      report.issue({ ...where, reason: 'duplicate-id', effect: 'example-skipped', exampleId: id, message: `image id ${id} appears twice` });
      return null;
    }
    seen.add(id);
    const imagePath = join(imageDir, image.file_name);
    if (!present.has(image.file_name.replace(/\\/g, '/'))) {
      report.issue({ ...where, reason: 'missing-image', effect: 'example-skipped', exampleId: id, message: `no image ${imagePath}` });
      return null;
    }
    let width = typeof image.width === 'number' ? image.width : NaN;
    let height = typeof image.height === 'number' ? image.height : NaN;
    if (!(width > 0 && height > 0)) {
      try {
        ({ width, height } = await imageInfo(imagePath));
      } catch (e) {
        report.issue({ ...where, reason: 'undecodable-image', effect: 'example-skipped', exampleId: id, message: `no width/height and the image is unreadable: ${(e as Error).message}` });
        return null;
      }
    }
    const raw: RawBox[] = [];
    for (const annotation of byImage.get(id) ?? []) {
      const name = `annotation ${key(annotation.id) ?? '?'}`;
      const bbox = annotation.bbox;
      if (!Array.isArray(bbox) || bbox.length !== 4) {
        report.issue({ file, annotation: name, exampleId: id, reason: 'malformed-record', effect: 'box-skipped', message: `bbox must be [x, y, w, h], got ${JSON.stringify(bbox)}` });
        continue;
      }
      const [x, y, w, h] = bbox.map((v) => (typeof v === 'number' ? v : NaN));
      const category = key(annotation.category_id);
      raw.push({
        written: `bbox ${JSON.stringify(bbox)}`,
        x1: x,
        y1: y,
        x2: x + w,
        y2: y + h,
        name: (category != null ? categoryName.get(category) : undefined) ?? `category_id ${JSON.stringify(annotation.category_id)}`,
        difficult: annotation.iscrowd === 1 || annotation.iscrowd === true,
        annotation: name,
      });
    }
    return buildExample({ id, imagePath, width, height, raw, file }, labels, report);
  }
  const list = images;
  async function* examples(): AsyncGenerator<Example> {
    for await (const example of mapOrdered(list, options.concurrency ?? 8, toExample)) if (example != null) yield example;
  }
  return { type: 'coco', dir, split, file, classes, listed: images.length, examples: examples(), report };
}
