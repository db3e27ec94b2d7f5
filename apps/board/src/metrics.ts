// A job's metrics.jsonl (written by apps/train's MetricsLog) as chartable series. Read while the
// run appends to it: a last line without its newline is being written and is left for the
// next read; a line that is not a JSON object is counted and skipped, never fatal.

/** Columns of the `train` records: `step` ascending, every other array lined up with it. */
export type Columns = Record<string, Array<number | null>>;

/** A final evaluation (`eval.finalSplits`, after the last step). */
export interface FinalEvaluation {
  step: number;
  split: string;
  metric: string | null;
  mAP: number | null;
}

export interface JobSeries {
  /** Every numeric field of the `train` records (loss, loss_*, lr, gradNorm, stepsPerSecond…) by step. */
  train: Columns & { step: number[] };
  /** The periodic evaluations (`train.evalEvery`): mAP by step, null where a split had no ground truth. */
  evals: { step: number[]; mAP: Array<number | null>; split: string | null; metric: string | null };
  finals: FinalEvaluation[];
  /** `warning` records (bad steps, divergence) and `skipped` batches. */
  warnings: number;
  skipped: number;
  /** Lines that are not JSON objects (skipped), besides a last line still being written. */
  damaged: number;
  /** The last line had no newline yet: a record being written, left for the next read. */
  partial: boolean;
}

/** Fields of a train record that are not series. */
const NOT_SERIES = new Set(['step', 'time', 'type']);

const asNumber = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

/** Rows keyed by step (a later record for the same step replaces the earlier), as columns sorted by step. */
function toColumns(rows: Map<number, Record<string, unknown>>): Columns & { step: number[] } {
  const steps = [...rows.keys()].sort((a, b) => a - b);
  const keys: string[] = [];
  for (const row of rows.values()) {
    for (const [key, value] of Object.entries(row)) if (!NOT_SERIES.has(key) && typeof value === 'number' && !keys.includes(key)) keys.push(key);
  }
  const columns: Columns = {};
  for (const key of keys) columns[key] = steps.map((step) => asNumber(rows.get(step)?.[key]));
  return { ...columns, step: steps };
}

/** Parses the text of a metrics.jsonl. */
export function parseMetrics(text: string): JobSeries {
  const lines = text.split('\n');
  // After the last newline: '' for a complete file, else a record still being written.
  const partial = lines.pop() !== '';
  const train = new Map<number, Record<string, unknown>>();
  const evals = new Map<number, Record<string, unknown>>();
  // By split: a later final evaluation of the same split (a resumed run's) replaces the earlier.
  const finals = new Map<string, FinalEvaluation>();
  let warnings = 0;
  let skipped = 0;
  let damaged = 0;
  let split: string | null = null;
  let metric: string | null = null;
  for (const line of lines) {
    if (line.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      damaged++;
      continue;
    }
    if (record == null || typeof record !== 'object' || Array.isArray(record)) {
      damaged++;
      continue;
    }
    const row = record as Record<string, unknown>;
    const step = asNumber(row.step);
    switch (row.type) {
      case 'train':
        if (step != null) train.set(step, row);
        break;
      case 'eval':
        if (step == null) break;
        if (row.final === true) {
          const finalSplit = String(row.split ?? '');
          finals.set(finalSplit, { step, split: finalSplit, metric: typeof row.metric === 'string' ? row.metric : null, mAP: asNumber(row.mAP) });
        } else {
          evals.set(step, row);
          split = typeof row.split === 'string' ? row.split : split;
          metric = typeof row.metric === 'string' ? row.metric : metric;
        }
        break;
      case 'warning':
        warnings++;
        break;
      case 'skipped':
        skipped++;
        break;
    }
  }
  const evalSteps = [...evals.keys()].sort((a, b) => a - b);
  return {
    train: toColumns(train),
    evals: { step: evalSteps, mAP: evalSteps.map((step) => asNumber(evals.get(step)?.mAP)), split, metric },
    finals: [...finals.values()],
    warnings,
    skipped,
    damaged,
    partial,
  };
}
