// What `lumen checkpoint list` and `info` say about a checkpoint in a few words: the classes,
// the date, sizes, and the evaluations its job's metrics.jsonl recorded for it.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** "10 (0, 1, 2, …)": the number of classes and as many names as fit in `width` characters. */
export function describeClasses(classes: readonly string[], width = 28): string {
  const all = `${classes.length} (${classes.join(', ')})`;
  if (all.length <= width) return all;
  let shown = '';
  for (const name of classes) {
    const next = shown === '' ? name : `${shown}, ${name}`;
    if (`${classes.length} (${next}, …)`.length > width) break;
    shown = next;
  }
  return `${classes.length} (${shown === '' ? '…' : `${shown}, …`})`;
}

/** "2026-12-06 14:03" in local time; the text as it is when it is not a date. */
export function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso || '-';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

/** "12.3 MB", "812 B". */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** An evaluation of a checkpoint's weights that its job's metrics.jsonl recorded. */
export interface LoggedEvaluation {
  split: string;
  mAP: number | null;
  images?: number;
  metric?: string;
  /** A run's closing evaluation of a whole split (eval.finalSplits), not a periodic one. */
  final: boolean;
}

/**
 * The evaluations logged at a checkpoint's step in the metrics.jsonl of the job folder holding
 * it (a checkpoint saved after an evaluation at its step holds those weights); none when there
 * is no such file. Damaged lines are passed over.
 */
export function loggedEvaluations(checkpointDir: string, step: number): LoggedEvaluation[] {
  const path = join(dirname(checkpointDir), 'metrics.jsonl');
  if (!/^checkpoint-\d+/.test(basename(checkpointDir)) || !existsSync(path)) return [];
  const found: LoggedEvaluation[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (record?.type !== 'eval' || record.step !== step) continue;
    found.push({
      split: String(record.split ?? '?'),
      mAP: typeof record.mAP === 'number' ? record.mAP : null,
      ...(typeof record.images === 'number' ? { images: record.images } : {}),
      ...(typeof record.metric === 'string' ? { metric: record.metric } : {}),
      final: record.final === true,
    });
  }
  return found;
}

/** The validation mAP of a checkpoint: the periodic evaluation at its step, else what meta.json's metrics hold. */
export function validationMap(checkpointDir: string, step: number, metrics: Record<string, number>): number | null {
  const periodic = loggedEvaluations(checkpointDir, step).filter((e) => !e.final && e.mAP != null);
  if (periodic.length > 0) return periodic.at(-1)?.mAP ?? null;
  return typeof metrics.mAP === 'number' ? metrics.mAP : null;
}
