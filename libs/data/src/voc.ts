import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { readFile } from 'node:fs/promises';
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
import type { DatasetType, Example } from './types';
import { decodeText, EncodingError, isDirectory, lineAt, listImages, mapOrdered, memoized, toNumber } from './util';
import { assertString, fromWorkspace } from '@lumen/core';
import { assertClasses } from './validate';

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  // Character references (&#233;) are XML; named HTML entities stay rejected by unsupportedEntity.
  htmlEntities: true,
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

/**
 * The first entity the parser would leave as written: it expands one level of <!ENTITY>
 * (an entity bomb's `&lol9;` stays literal) and keeps undefined references, so either would
 * become a class name. Comments and CDATA are blanked first, keeping offsets for the line.
 */
function unsupportedEntity(text: string): { index: number; message: string } | null {
  const markup = text.replace(/<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>/g, (m) => m.replace(/[^\n]/g, ' '));
  const declaration = markup.indexOf('<!ENTITY');
  if (declaration >= 0) return { index: declaration, message: 'entity declarations (<!ENTITY>) are not supported' };
  const reference = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+);)[A-Za-z_][\w.-]*;/.exec(markup);
  if (reference != null) return { index: reference.index, message: `unknown entity ${reference[0]} (XML defines &amp; &lt; &gt; &quot; &apos; and &#N;)` };
  return null;
}

type Parsed = { ok: true; annotation: VocAnnotation; text: string } | { ok: false; reason: 'missing-file' | 'malformed-file'; line?: number; message: string };

/**
 * The encoding an XML file is written in: a UTF-16 byte order mark, else the declaration's
 * `encoding="…"` (ISO-8859-1 files exist), else UTF-8 (XML's default).
 */
function xmlEncoding(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  const declaration = /^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']/.exec(bytes.subarray(0, 200).toString('latin1'));
  return declaration?.[1] ?? 'utf-8';
}

async function parseAnnotation(file: string): Promise<Parsed> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    return { ok: false, reason: 'missing-file', message: `annotation missing (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  let text: string;
  try {
    text = decodeText(bytes, xmlEncoding(bytes));
  } catch (e) {
    if (!(e instanceof EncodingError)) throw e;
    return { ok: false, reason: 'malformed-file', ...(e.line != null ? { line: e.line } : {}), message: `malformed XML: ${e.message}` };
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) return { ok: false, reason: 'malformed-file', line: valid.err.line, message: `malformed XML: ${valid.err.msg}` };
  const entity = unsupportedEntity(text);
  if (entity != null) return { ok: false, reason: 'malformed-file', line: lineAt(text, entity.index), message: `malformed XML: ${entity.message}` };
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

/** Where a VOC dataset's images are, and their headers read at most once. */
interface VocImages {
  byName: Map<string, string>;
  byStem: Map<string, string>;
  info: (path: string) => Promise<{ width: number; height: number }>;
}

const annotationPath = (dir: string, id: string) => join(dir, 'Annotations', `${id}.xml`);
const listPath = (dir: string, split: string) => join(dir, 'ImageSets', 'Main', `${split}.txt`);

/** The images `ids` annotate, in order; null for each skipped one (reported to `report`). */
async function* annotatedImages(dir: string, ids: string[], images: VocImages, report: ReportCollector, concurrency: number): AsyncGenerator<AnnotatedImage | null> {
  const read = (id: string) => parseAnnotation(annotationPath(dir, id)).then((parsed) => ({ id, parsed }));
  for await (const { id, parsed } of mapOrdered(ids, concurrency, read)) yield await annotate(id, parsed, annotationPath(dir, id), images, report);
}

/**
 * Reads a Pascal VOC split: ids from `ImageSets/Main/<split>.txt`, boxes from
 * `Annotations/<id>.xml`, images from `JPEGImages/` (the annotation's `<filename>` when it
 * exists there, else `<id>.<any image extension>`). VOC pixel indices are 1-based and
 * inclusive, so a box is `[xmin - 1, ymin - 1, xmax, ymax]` (detectron2's conversion);
 * `difficult` is kept as a flag. Without `options.classes` the classes are the sorted names
 * of the boxes kept in the `discoverFrom` splits (discoverClasses). A relative `dir` is read
 * under the workspace root (fromWorkspace).
 */
export async function readVoc(dir: string, split: string, options: ReaderOptions & { type?: DatasetType } = {}): Promise<AnnotationReader> {
  assertString('readVoc', 'dir', dir);
  assertString('readVoc', 'split', split);
  if (options.classes != null) assertClasses('readVoc', 'options.classes', options.classes);
  const type = options.type ?? 'voc';
  const root = fromWorkspace(dir);
  const file = listPath(root, split);
  const report = readerReport(type, root, split, file, options);
  const base = { type, dir: root, split, file, report, classes: options.classes };
  const ids = await readList(file);
  if (ids == null) {
    const where = (await isDirectory(root)) ? `no split list ${file}` : `dataset folder ${root} does not exist`;
    return emptyReader(base, { reason: 'missing-file', effect: 'split-skipped', file, message: where });
  }
  const concurrency = options.concurrency ?? 8;
  const images: VocImages = { ...(await listImages(join(root, 'JPEGImages'))), info: memoized(imageInfo) };
  const discover = async () => {
    const lists = await Promise.all((options.discoverFrom ?? [split]).map(async (other) => (other === split ? ids : ((await readList(listPath(root, other))) ?? []))));
    const silent = silentReport(type, root, split, file);
    return discoverClasses(annotatedImages(root, [...new Set(lists.flat())], images, silent, concurrency));
  };
  const classes = options.classes ?? (await discover());
  report.setClasses(classes);
  report.setListed(ids.length);
  const labels = labelMap(classes);
  const seen = new Set<string>();
  const unique = ids.filter((id) => {
    if (!seen.has(id)) return seen.add(id);
    report.issue({ reason: 'duplicate-id', effect: 'example-skipped', file, exampleId: id, message: `id ${JSON.stringify(id)} is listed twice` });
    return false;
  });
  async function* examples(): AsyncGenerator<Example> {
    for await (const image of annotatedImages(root, unique, images, report, concurrency)) if (image != null) yield buildExample(image, labels, report);
  }
  return { type, dir: root, split, file, classes, listed: ids.length, examples: examples(), report };
}

/** One listed id's image and boxes, or null when the example is skipped (reported). */
async function annotate(id: string, parsed: Parsed, file: string, images: VocImages, report: ReportCollector): Promise<AnnotatedImage | null> {
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
      ({ width, height } = await images.info(imagePath));
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
  return { id, imagePath, width, height, raw, file };
}
