/** Timing loops and the statistics the benches report. */

/** Unmeasured runs first (kernels compile, buffers grow), then the timed ones. */
export interface RunCounts {
  warmup: number;
  runs: number;
}

/** The median and every timed sample, in ms. */
export interface Timing {
  ms: number;
  samples: number[];
}

/** Called after every run, warm-up included; `index` counts the warm-up runs too. */
export type OnRun = (index: number, ms: number) => void;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Wall ms of the timed runs of `run` (awaited only when it returns a promise). */
export async function sampleRuns(run: (index: number) => unknown, counts: RunCounts, onRun?: OnRun): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < counts.warmup + counts.runs; i++) {
    const start = performance.now();
    const result = run(i);
    if (result instanceof Promise) await result;
    const ms = performance.now() - start;
    if (i >= counts.warmup) samples.push(ms);
    onRun?.(i, ms);
  }
  return samples;
}

export async function timeRuns(run: (index: number) => unknown, counts: RunCounts, onRun?: OnRun): Promise<Timing> {
  const samples = await sampleRuns(run, counts, onRun);
  return { ms: median(samples), samples };
}

/** Largest |a[i] - b[i]|; Infinity when the lengths differ. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
