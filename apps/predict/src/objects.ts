import { UserError } from '@lumen/core';
import type { Detection } from '@lumen/detector';

/** One detected object as written to JSON Lines and returned by the server (Luminoth's format). */
export interface PredictedObject {
  /** [x1, y1, x2, y2] in original-image pixels (EXIF orientation applied), 2 decimals. */
  bbox: [number, number, number, number];
  label: string;
  /** Class probability, 4 decimals. */
  prob: number;
}

/** Which objects to keep. */
export interface ObjectFilter {
  /** Keep objects with prob >= minProb (default 0.5). */
  minProb?: number;
  /** Keep at most this many, the most probable (default 100). */
  maxDetections?: number;
  /** Keep only these classes (names); empty or absent = every class. */
  onlyClasses?: readonly string[];
  /** Drop these classes (names). */
  ignoreClasses?: readonly string[];
}

export const DEFAULT_MIN_PROB = 0.5;

const round = (value: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** A bad option or class name: a UserError (one line, exit code 2). */
export class UsageError extends UserError {
  override name = 'UsageError';
}

/**
 * Class names from `--only-class` / `--ignore-class` values: each value may hold several
 * names separated by commas. Every name must be one of the checkpoint's classes.
 */
export function parseClassNames(option: string, values: readonly string[] | undefined, classes: readonly string[]): string[] {
  const names = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
  const unknown = names.filter((n) => !classes.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(
      `${option}: unknown class${unknown.length > 1 ? 'es' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}; ` +
        `the checkpoint's classes are: ${classes.join(', ')}`,
    );
  }
  return [...new Set(names)];
}

/** A probability threshold from an option or query value: a number in [0, 1]. */
export function parseProbability(option: string, value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!(n >= 0 && n <= 1)) throw new UsageError(`${option} must be a number from 0 to 1, but got '${String(value)}'`);
  return n;
}

/** A positive integer from an option value. */
export function parsePositiveInt(option: string, value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${option} must be a positive integer, but got '${String(value)}'`);
  return n;
}

/** A whole number >= 0 from an option value, written in digits ('' is not 0). */
export function parseNonNegativeInt(option: string, value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`${option} must be a non-negative integer, but got '${value}'`);
  return n;
}

/** A duration in seconds from an option value: a number > 0 (decimals allowed). */
export function parseSeconds(option: string, value: string): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!(n > 0 && Number.isFinite(n))) throw new UsageError(`${option} must be a number of seconds greater than 0, but got '${value}'`);
  return n;
}

/**
 * A detector's output for one image as objects: labels named by `classes` (label k is
 * `classes[k - 1]`), filtered by class and probability, by decreasing prob (ties: the
 * detector's order), at most `maxDetections` (none given: every one the detector returned, at
 * most its own model.rcnn.detectionsPerImage).
 */
export function toObjects(detection: Detection, classes: readonly string[], filter: ObjectFilter = {}): PredictedObject[] {
  const minProb = filter.minProb ?? DEFAULT_MIN_PROB;
  const max = filter.maxDetections ?? Infinity;
  const only = filter.onlyClasses != null && filter.onlyClasses.length > 0 ? new Set(filter.onlyClasses) : null;
  const ignore = new Set(filter.ignoreClasses ?? []);
  const kept: Array<{ index: number; object: PredictedObject }> = [];
  detection.scores.forEach((score, index) => {
    const label = classes[detection.labels[index] - 1] ?? `class ${detection.labels[index]}`;
    if (score < minProb || (only != null && !only.has(label)) || ignore.has(label)) return;
    const [x1, y1, x2, y2] = detection.boxes[index];
    kept.push({ index, object: { bbox: [round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)], label, prob: round(score, 4) } });
  });
  kept.sort((a, b) => detection.scores[b.index] - detection.scores[a.index] || a.index - b.index);
  return kept.slice(0, max).map((k) => k.object);
}
