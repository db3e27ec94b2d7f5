import { checkBox } from './boxes';
import { createReportCollector, type Issue, type ReportCollector } from './report';
import type { DatasetType, Example, Log, Split } from './types';

/** Options every reader takes. */
export interface ReaderOptions {
  /** Explicit class list: labels 1..N in this order; boxes of other classes are skipped (reported). Null: discover. */
  classes?: string[] | null;
  /**
   * Splits whose annotations define the discovered class list when `classes` is not given
   * (default: this split). openDataset passes the config's three splits so every split
   * gets the same labels. COCO ignores it: its categories are declared in the file.
   */
  discoverFrom?: string[];
  /** Receives warnings (default console.warn). */
  log?: Log;
  /** Collects issues and counts; default a new one (returned as `report`). */
  report?: ReportCollector;
  /** Which config split this is (for the report). */
  role?: Split;
  /** Files read at once (default 8). */
  concurrency?: number;
}

/** A reader's result: the class list now, the examples as a one-pass stream. */
export interface AnnotationReader {
  type: DatasetType;
  dir: string;
  split: string;
  /** The split's list / annotation / CSV file. */
  file: string;
  classes: string[];
  /** Images the split's file lists (before validation). */
  listed: number;
  /**
   * Validated examples, read lazily as the stream is consumed (a 120k-image COCO split is
   * 120k small records, never 120k images). One pass: issues are reported as they are met.
   */
  examples: AsyncIterable<Example>;
  report: ReportCollector;
}

export function readerReport(type: DatasetType, dir: string, split: string, file: string, options: ReaderOptions): ReportCollector {
  return options.report ?? createReportCollector({ type, dir, split, role: options.role, file, log: options.log });
}

async function* noExamples(): AsyncGenerator<Example> {
  yield* [];
}

/** A reader that found nothing usable (missing or unreadable split file). */
export function emptyReader(base: Omit<AnnotationReader, 'examples' | 'listed' | 'classes'> & { classes?: string[] | null }, issue: Issue): AnnotationReader {
  base.report.issue(issue);
  base.report.setFatal(issue.message);
  base.report.setClasses(base.classes ?? []);
  return { ...base, classes: base.classes ?? [], listed: 0, examples: noExamples() };
}

/** A box as an annotation states it, in pixel corners, with where it came from. */
export interface RawBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  name: string;
  difficult: boolean;
  line?: number;
  annotation?: string | number;
  /** The box as the file writes it, for messages (default `box [x1, y1, x2, y2]`). */
  written?: string;
}

/** An image a reader keeps, with its annotation's boxes as written, before they are checked and labelled. */
export interface AnnotatedImage {
  id: string;
  imagePath: string;
  width: number;
  height: number;
  raw: RawBox[];
  /** The annotation file (issues about its boxes name it). */
  file: string;
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/**
 * An Example from an annotated image: each box is checked against the image (clipped or
 * skipped, reported naming the annotation file), its class looked up in `labels` (unknown
 * classes skipped).
 */
export function buildExample({ id, imagePath, width, height, raw, file }: AnnotatedImage, labels: Map<string, number>, report: ReportCollector): Example {
  const boxes: number[] = [];
  const classes: number[] = [];
  const difficult: number[] = [];
  for (const box of raw) {
    const where = { file, exampleId: id, ...(box.line != null ? { line: box.line } : {}), ...(box.annotation != null ? { annotation: box.annotation } : {}) };
    // Geometry before class, as in keptBoxNames: a bad box never counts as a class's box.
    const check = checkBox(box.x1, box.y1, box.x2, box.y2, width, height);
    const written = box.written ?? `box [${[box.x1, box.y1, box.x2, box.y2].map(round).join(', ')}]`;
    if (!check.ok) {
      report.issue({ ...where, reason: check.reason, effect: 'box-skipped', message: `${box.name} ${written} ${check.message}` });
      continue;
    }
    const label = labels.get(box.name);
    if (label == null) {
      report.issue({ ...where, reason: 'unknown-class', effect: 'box-skipped', message: `unknown class ${JSON.stringify(box.name)}` });
      continue;
    }
    if (check.clipped) {
      report.issue({
        ...where,
        reason: 'box-clipped',
        effect: 'box-clipped',
        message: `${box.name} ${written} reaches past the ${width}x${height} image; clipped to [${check.box.map(round).join(', ')}]`,
      });
    }
    boxes.push(...check.box);
    classes.push(label);
    difficult.push(box.difficult ? 1 : 0);
  }
  const example = { id, imagePath, width, height, boxes: Float32Array.from(boxes), labels: Int32Array.from(classes), difficult: Uint8Array.from(difficult) };
  report.kept(example);
  return example;
}

/**
 * The class names of the boxes buildExample keeps (class aside). Discovery reads only these,
 * from examples a reader keeps, so a skipped file or a skipped box adds no class.
 */
export function keptBoxNames(raw: RawBox[], width: number, height: number): string[] {
  return raw.filter((box) => checkBox(box.x1, box.y1, box.x2, box.y2, width, height).ok).map((box) => box.name);
}

/** Sorted names of the kept boxes (keptBoxNames) of the images a reader keeps (nulls are the skipped ones). */
export async function discoverClasses(images: AsyncIterable<AnnotatedImage | null>): Promise<string[]> {
  const names = new Set<string>();
  for await (const image of images) if (image != null) for (const name of keptBoxNames(image.raw, image.width, image.height)) names.add(name);
  return sortClasses(names);
}

/** A collector for passes whose issues the real pass reports again (class discovery). */
export function silentReport(type: DatasetType, dir: string, split: string, file: string): ReportCollector {
  return createReportCollector({ type, dir, split, file, log: () => undefined });
}

/** Class name -> label 1..N. */
export function labelMap(classes: string[]): Map<string, number> {
  return new Map(classes.map((name, i) => [name, i + 1]));
}

/** Discovered class names in a stable order: sorted (code points), so every split agrees. */
export function sortClasses(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
