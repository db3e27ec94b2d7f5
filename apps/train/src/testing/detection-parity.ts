// The issue's bar for a model against torchvision: detections compared by class name, box
// overlap and probability.

/** One detection: box in original-image pixels, class name, probability. */
export interface NamedDetection {
  box: number[];
  name: string;
  score: number;
}

export interface ParityBar {
  /** Detections below this probability need no counterpart (they may fall under the other side's threshold). */
  minScore: number;
  minIou: number;
  /** Largest probability difference of a counterpart. */
  maxScoreDiff: number;
}

export const ISSUE_BAR: ParityBar = { minScore: 0.07, minIou: 0.9, maxScoreDiff: 0.02 };

export function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** How many of `reference`'s detections at or over the bar's probability have a counterpart in `other`, and which do not. */
export function matched(reference: readonly NamedDetection[], other: readonly NamedDetection[], bar: ParityBar = ISSUE_BAR) {
  const counted = reference.filter((d) => d.score >= bar.minScore);
  const unmatched = counted.filter(
    (d) => !other.some((o) => o.name === d.name && Math.abs(o.score - d.score) <= bar.maxScoreDiff && iou(o.box, d.box) >= bar.minIou),
  );
  return { total: counted.length, matched: counted.length - unmatched.length, unmatched };
}
