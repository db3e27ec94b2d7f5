import type { Box, FlaggedBox, ScoredBox } from './types';

// Pascal VOC detection AP as py-faster-rcnn's voc_eval / voc_ap compute it (the VOC devkit's
// logic, also detectron2's): the numbers papers quote for VOC2007 test.

export type VocVariant = 'voc07' | 'voc';

/** What one detection turned out to be: true positive, false positive, or neither (difficult). */
export type VocOutcome = 'tp' | 'fp' | 'ignored';

/** One image's detections of one class, by decreasing score, with their outcomes. */
export interface VocImageResult {
  scores: number[];
  outcomes: VocOutcome[];
  /** Ground truths that count towards recall (not difficult, not crowd). */
  numPositives: number;
}

/** The devkit's IoU: inclusive pixel coordinates, so a box is x2 - x1 + 1 pixels wide. */
export function vocIou(a: Box, b: Box): number {
  const iw = Math.max(Math.min(b[2], a[2]) - Math.max(b[0], a[0]) + 1, 0);
  const ih = Math.max(Math.min(b[3], a[3]) - Math.max(b[1], a[1]) + 1, 0);
  const inter = iw * ih;
  const union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter;
  return inter / union;
}

/** Indices of `scores` by decreasing score; ties keep their order (a stable sort). */
export function orderByScore(scores: readonly number[]): number[] {
  return scores.map((_, i) => i).sort((i, j) => scores[j] - scores[i]);
}

/**
 * Matches one image's detections of one class to its ground truths, greedily by score.
 * Each detection looks only at the ground truth it overlaps most (first on ties), as the
 * devkit does: IoU must be > `iouThreshold` (strictly); a difficult (or crowd) best match makes
 * the detection neither TP nor FP; a best match already taken makes it a FP (duplicate) even
 * when another free object overlaps it enough.
 */
export function matchVocImage(detections: readonly ScoredBox[], groundTruths: readonly FlaggedBox[], iouThreshold = 0.5): VocImageResult {
  const order = orderByScore(detections.map((d) => d.score));
  const taken = groundTruths.map(() => false);
  const outcomes: VocOutcome[] = [];
  for (const d of order) {
    let best = -Infinity;
    let bestIndex = -1;
    groundTruths.forEach((g, j) => {
      const iou = vocIou(detections[d].box, g.box);
      if (iou > best) {
        best = iou;
        bestIndex = j;
      }
    });
    if (!(best > iouThreshold)) outcomes.push('fp');
    else if (groundTruths[bestIndex].difficult || groundTruths[bestIndex].iscrowd) outcomes.push('ignored');
    else if (taken[bestIndex]) outcomes.push('fp');
    else {
      taken[bestIndex] = true;
      outcomes.push('tp');
    }
  }
  return {
    scores: order.map((i) => detections[i].score),
    outcomes,
    numPositives: groundTruths.filter((g) => !g.difficult && !g.iscrowd).length,
  };
}

/**
 * voc_ap: `voc07` averages the best precision at recall >= t over t = 0, 0.1, …, 1 (t computed
 * as i * 0.1 like numpy's arange, so t = 0.30000000000000004 and a recall of exactly 0.3 does
 * not reach it — the devkit's arithmetic, kept); `voc` is the area under the precision
 * envelope (precision made monotone from the right) over the recall steps.
 */
export function vocAp(recall: readonly number[], precision: readonly number[], variant: VocVariant): number {
  if (variant === 'voc07') {
    let ap = 0;
    for (let i = 0; i <= 10; i++) {
      const t = i * 0.1;
      let p = 0;
      for (let k = 0; k < recall.length; k++) if (recall[k] >= t && precision[k] > p) p = precision[k];
      ap = ap + p / 11;
    }
    return ap;
  }
  const mrec = [0, ...recall, 1];
  const mpre = [0, ...precision, 0];
  for (let i = mpre.length - 1; i > 0; i--) mpre[i - 1] = Math.max(mpre[i - 1], mpre[i]);
  let ap = 0;
  for (let i = 0; i + 1 < mrec.length; i++) if (mrec[i + 1] !== mrec[i]) ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
  return ap;
}

/**
 * One class's AP over all images (in the order they were added), or null when the class has
 * no positive ground truth (py-faster-rcnn: NaN). Detections are ranked by score over the
 * whole set; ties keep image order, then score order within the image.
 */
export function vocClassAp(images: readonly VocImageResult[], variant: VocVariant): number | null {
  const numPositives = images.reduce((n, im) => n + im.numPositives, 0);
  if (numPositives === 0) return null;
  const scores = images.flatMap((im) => im.scores);
  const outcomes = images.flatMap((im) => im.outcomes);
  let tp = 0;
  let fp = 0;
  const recall: number[] = [];
  const precision: number[] = [];
  for (const i of orderByScore(scores)) {
    // An ignored detection still takes a rank: it repeats the previous point of the curve.
    if (outcomes[i] === 'tp') tp++;
    else if (outcomes[i] === 'fp') fp++;
    recall.push(tp / numPositives);
    precision.push(tp / Math.max(tp + fp, Number.EPSILON));
  }
  return vocAp(recall, precision, variant);
}
