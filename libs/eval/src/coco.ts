import type { Box, FlaggedBox, ScoredBox } from './types';
import { orderByScore } from './voc';

// COCO box AP/AR as pycocotools' COCOeval (iouType 'bbox') computes it: evaluateImg per image,
// class and area range (done as images arrive), accumulate and summarize at the end.

/** 0.5, 0.55, …, 0.95 as np.linspace computes them (i * step + start, last = stop). */
export const COCO_IOU_THRESHOLDS: readonly number[] = Array.from({ length: 10 }, (_, i) => (i === 9 ? 0.95 : i * ((0.95 - 0.5) / 9) + 0.5));
/** 0, 0.01, …, 1 as np.linspace computes them. */
export const COCO_RECALL_THRESHOLDS: readonly number[] = Array.from({ length: 101 }, (_, i) => (i === 100 ? 1 : i * (1 / 100)));
export const COCO_MAX_DETS: readonly number[] = [1, 10, 100];
/** all, small, medium, large: box areas in pixels², both ends inclusive. */
export const COCO_AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e10],
];
export const COCO_AREA_NAMES = ['all', 'small', 'medium', 'large'] as const;

const T = COCO_IOU_THRESHOLDS.length;
const R = COCO_RECALL_THRESHOLDS.length;
const A = COCO_AREA_RANGES.length;
const M = COCO_MAX_DETS.length;

/** A box as pycocotools holds it: [x, y, w, h]. */
function toXywh(b: Box): [number, number, number, number] {
  return [b[0], b[1], b[2] - b[0], b[3] - b[1]];
}

/**
 * maskApi's bbIou for one pair (no +1: continuous coordinates). A crowd ground truth's
 * "union" is the detection's own area, so a detection inside a crowd region scores high.
 */
export function cocoIou(detection: Box, groundTruth: Box, iscrowd: boolean): number {
  const d = toXywh(detection);
  const g = toXywh(groundTruth);
  const w = Math.min(d[2] + d[0], g[2] + g[0]) - Math.max(d[0], g[0]);
  if (w <= 0) return 0;
  const h = Math.min(d[3] + d[1], g[3] + g[1]) - Math.max(d[1], g[1]);
  if (h <= 0) return 0;
  const inter = w * h;
  const da = d[2] * d[3];
  return inter / (iscrowd ? da : da + g[2] * g[3] - inter);
}

function boxArea(b: Box): number {
  const [, , w, h] = toXywh(b);
  return w * h;
}

/** evaluateImg's result for one image, class and area range (maxDets 100). */
export interface CocoImageResult {
  /** Detection scores, decreasing, at most 100. */
  scores: number[];
  /** [threshold][detection]: matched to a ground truth at that IoU threshold. */
  matched: boolean[][];
  /** [threshold][detection]: neither TP nor FP (matched a crowd / out-of-range object, or itself out of range and unmatched). */
  ignored: boolean[][];
  /** Ground truths that count: not crowd, area in range. */
  numPositives: number;
}

/**
 * pycocotools' evaluateImg for one image and class, for every area range; null where the
 * image has neither detections nor ground truths of the class (left out, as pycocotools does).
 */
export function evaluateCocoImage(detections: readonly ScoredBox[], groundTruths: readonly FlaggedBox[]): CocoImageResult[] | null {
  if (detections.length === 0 && groundTruths.length === 0) return null;
  const maxDet = COCO_MAX_DETS[M - 1];
  const dts = orderByScore(detections.map((d) => d.score))
    .slice(0, maxDet)
    .map((i) => detections[i]);
  // computeIoU: once per image and class, shared by the area ranges.
  const ious = dts.map((d) => groundTruths.map((g) => cocoIou(d.box, g.box, g.iscrowd)));
  const gtAreas = groundTruths.map((g) => boxArea(g.box));
  const dtAreas = dts.map((d) => boxArea(d.box));
  return COCO_AREA_RANGES.map(([lo, hi]) => {
    const gtIgnore = groundTruths.map((g, j) => g.iscrowd || gtAreas[j] < lo || gtAreas[j] > hi);
    // Ground truths that count first (stable), so a match to one is preferred over an ignored one.
    const gtOrder = groundTruths.map((_, j) => j).sort((i, j) => Number(gtIgnore[i]) - Number(gtIgnore[j]));
    const matched: boolean[][] = [];
    const ignored: boolean[][] = [];
    for (const t of COCO_IOU_THRESHOLDS) {
      const gtTaken = groundTruths.map(() => false);
      const dtMatched = dts.map(() => false);
      const dtIgnored = dts.map(() => false);
      dts.forEach((_, d) => {
        let iou = Math.min(t, 1 - 1e-10);
        let m = -1;
        for (const g of gtOrder) {
          // A matched object is taken, except a crowd region, which absorbs any number.
          if (gtTaken[g] && !groundTruths[g].iscrowd) continue;
          // Already matched to an object that counts, and only ignored ones are left.
          if (m > -1 && !gtIgnore[m] && gtIgnore[g]) break;
          if (ious[d][g] < iou) continue;
          iou = ious[d][g];
          m = g;
        }
        if (m === -1) return;
        dtIgnored[d] = gtIgnore[m];
        dtMatched[d] = true;
        gtTaken[m] = true;
      });
      // An unmatched detection outside the area range is no false positive of that range.
      dts.forEach((_, d) => {
        if (!dtMatched[d] && (dtAreas[d] < lo || dtAreas[d] > hi)) dtIgnored[d] = true;
      });
      matched.push(dtMatched);
      ignored.push(dtIgnored);
    }
    return { scores: dts.map((d) => d.score), matched, ignored, numPositives: gtIgnore.filter((x) => !x).length };
  });
}

/** accumulate's output: precision [T][R][K][A][M] and recall [T][K][A][M], -1 where undefined. */
export interface CocoCurves {
  numClasses: number;
  precision: Float64Array;
  recall: Float64Array;
}

export function precisionIndex(numClasses: number, t: number, r: number, k: number, a: number, m: number): number {
  return (((t * R + r) * numClasses + k) * A + a) * M + m;
}

export function recallIndex(numClasses: number, t: number, k: number, a: number, m: number): number {
  return ((t * numClasses + k) * A + a) * M + m;
}

/**
 * pycocotools' accumulate. `perClass[k][a]` lists the image results of class k + 1 and area
 * range a, in image order (pycocotools: sorted image ids; here the order of `add`, which
 * only decides ties between equal scores of different images).
 */
export function accumulateCoco(perClass: readonly (readonly (readonly CocoImageResult[])[])[]): CocoCurves {
  const K = perClass.length;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < A; a++) {
      const images = perClass[k][a];
      if (images.length === 0) continue;
      const numPositives = images.reduce((n, e) => n + e.numPositives, 0);
      if (numPositives === 0) continue;
      COCO_MAX_DETS.forEach((maxDet, m) => {
        const scores = images.flatMap((e) => e.scores.slice(0, maxDet));
        const order = orderByScore(scores);
        for (let t = 0; t < T; t++) {
          const matched = images.flatMap((e) => e.matched[t].slice(0, maxDet));
          const ignored = images.flatMap((e) => e.ignored[t].slice(0, maxDet));
          let tp = 0;
          let fp = 0;
          const rc: number[] = [];
          const pr: number[] = [];
          for (const i of order) {
            if (ignored[i]) {
              // pycocotools keeps ignored detections in the cumulative sums (unchanged counts).
            } else if (matched[i]) tp++;
            else fp++;
            rc.push(tp / numPositives);
            pr.push(tp / (fp + tp + Number.EPSILON));
          }
          recall[recallIndex(K, t, k, a, m)] = rc.length > 0 ? rc[rc.length - 1] : 0;
          // Monotone envelope, then the precision at the first rank reaching each recall
          // threshold (searchsorted 'left'); 0 for thresholds never reached.
          for (let i = pr.length - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
          let rank = 0;
          for (let r = 0; r < R; r++) {
            while (rank < rc.length && rc[rank] < COCO_RECALL_THRESHOLDS[r]) rank++;
            precision[precisionIndex(K, t, r, k, a, m)] = rank < rc.length ? pr[rank] : 0;
          }
        }
      });
    }
  }
  return { numClasses: K, precision, recall };
}

export interface CocoStats {
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARs: number;
  ARm: number;
  ARl: number;
}

/** Mean of the defined (> -1) entries, -1 if none: pycocotools' _summarize. */
function meanDefined(values: Iterable<number>): number {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v > -1) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? -1 : sum / n;
}

function* precisionValues(c: CocoCurves, ts: readonly number[], ks: readonly number[], a: number, m: number): Generator<number> {
  for (const t of ts) for (let r = 0; r < R; r++) for (const k of ks) yield c.precision[precisionIndex(c.numClasses, t, r, k, a, m)];
}

function* recallValues(c: CocoCurves, a: number, m: number): Generator<number> {
  for (let t = 0; t < T; t++) for (let k = 0; k < c.numClasses; k++) yield c.recall[recallIndex(c.numClasses, t, k, a, m)];
}

const ALL_T = COCO_IOU_THRESHOLDS.map((_, t) => t);

/** The twelve numbers pycocotools prints (stats[0..11]); -1 where nothing is defined. */
export function summarizeCoco(c: CocoCurves): CocoStats {
  const ks = Array.from({ length: c.numClasses }, (_, k) => k);
  const m100 = M - 1;
  const ap = (ts: readonly number[], a: number) => meanDefined(precisionValues(c, ts, ks, a, m100));
  return {
    AP: ap(ALL_T, 0),
    AP50: ap([0], 0),
    AP75: ap([5], 0),
    APs: ap(ALL_T, 1),
    APm: ap(ALL_T, 2),
    APl: ap(ALL_T, 3),
    AR1: meanDefined(recallValues(c, 0, 0)),
    AR10: meanDefined(recallValues(c, 0, 1)),
    AR100: meanDefined(recallValues(c, 0, 2)),
    ARs: meanDefined(recallValues(c, 1, 2)),
    ARm: meanDefined(recallValues(c, 2, 2)),
    ARl: meanDefined(recallValues(c, 3, 2)),
  };
}

/** One class's AP (area all, 100 detections) over all IoU thresholds or just 0.5; null without ground truth. */
export function cocoClassAp(c: CocoCurves, k: number, iou: 'all' | 0.5): number | null {
  const v = meanDefined(precisionValues(c, iou === 'all' ? ALL_T : [0], [k], 0, M - 1));
  return v === -1 ? null : v;
}
