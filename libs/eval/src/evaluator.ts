import { accumulateCoco, cocoClassAp, evaluateCocoImage, summarizeCoco } from './coco';
import type { CocoImageResult, CocoStats } from './coco';
import type { FlaggedBox, ImageEntry, ScoredBox } from './types';
import { fail } from '@lumen/core';
import { validateEntry } from './validate';
import { matchVocImage, vocClassAp } from './voc';
import type { VocImageResult } from './voc';

export type MetricName = 'voc07' | 'voc' | 'coco';
export const METRIC_NAMES: readonly MetricName[] = ['voc07', 'voc', 'coco'];

export interface EvaluatorOptions {
  /** Class names; label k (1..N) is classes[k - 1]. */
  classes: readonly string[];
  /** Which metrics to compute; all three by default. */
  metrics?: readonly MetricName[];
}

/** Per-class AP keyed by class name; null for a class without ground truth (left out of the mean). */
export type PerClassAp = Record<string, number | null>;

export interface VocSummary {
  /** Mean over the classes that have ground truth; null if none has. */
  mAP: number | null;
  perClass: PerClassAp;
}

/** pycocotools' twelve numbers (-1 where undefined, as pycocotools) and per-class AP@[.5:.95] and AP50. */
export interface CocoSummary extends CocoStats {
  perClass: PerClassAp;
  perClassAP50: PerClassAp;
}

export interface EvalSummary {
  classes: string[];
  numImages: number;
  /** Ground truths per class (all, including difficult and crowd) and detections per class. */
  numGroundTruths: Record<string, number>;
  numDetections: Record<string, number>;
  voc07?: VocSummary;
  voc?: VocSummary;
  coco?: CocoSummary;
}

export interface Evaluator {
  /** Adds one image's detections and ground truth; throws on bad input, naming image and field. */
  add(entry: ImageEntry): void;
  /** The metrics over every image added so far; adding more afterwards is fine. */
  summarize(): EvalSummary;
}

/**
 * A streaming evaluator: each image is matched as it is added and only the per-detection
 * outcomes are kept (scores and match flags, not boxes), so memory grows with the number of
 * detections, not with images or their sizes.
 */
export function createEvaluator(options: EvaluatorOptions): Evaluator {
  const fn = 'createEvaluator';
  const classes = options?.classes;
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string' && c.length > 0)) {
    fail(fn, `'classes' must be a non-empty array of class names, but got ${JSON.stringify(classes)}.`);
  }
  if (new Set(classes).size !== classes.length) fail(fn, `'classes' has a repeated name: ${JSON.stringify(classes)}.`);
  const metrics = options.metrics ?? METRIC_NAMES;
  for (const m of metrics) {
    if (!METRIC_NAMES.includes(m)) fail(fn, `unknown metric '${String(m)}'; known: ${METRIC_NAMES.join(', ')}.`);
  }
  const wantVoc = metrics.includes('voc07') || metrics.includes('voc');
  const wantCoco = metrics.includes('coco');
  const K = classes.length;

  const seen = new Set<string | number>();
  const numGt = new Array<number>(K).fill(0);
  const numDet = new Array<number>(K).fill(0);
  const voc: VocImageResult[][] = classes.map(() => []);
  const coco: CocoImageResult[][][] = classes.map(() => [[], [], [], []]);

  const add = (entry: ImageEntry): void => {
    const { imageId, detections, groundTruth } = validateEntry('Evaluator.add', entry, K);
    if (seen.has(imageId)) fail('Evaluator.add', `image ${JSON.stringify(imageId)} was added twice.`);
    seen.add(imageId);
    const dets: ScoredBox[][] = classes.map(() => []);
    const gts: FlaggedBox[][] = classes.map(() => []);
    detections.labels.forEach((label, i) => dets[label - 1].push({ box: detections.boxes[i], score: detections.scores[i] }));
    groundTruth.labels.forEach((label, i) =>
      gts[label - 1].push({ box: groundTruth.boxes[i], difficult: groundTruth.difficult[i], iscrowd: groundTruth.iscrowd[i] }),
    );
    for (let k = 0; k < K; k++) {
      numGt[k] += gts[k].length;
      numDet[k] += dets[k].length;
      if (wantVoc && (dets[k].length > 0 || gts[k].length > 0)) voc[k].push(matchVocImage(dets[k], gts[k]));
      const perArea = wantCoco ? evaluateCocoImage(dets[k], gts[k]) : null;
      perArea?.forEach((result, a) => coco[k][a].push(result));
    }
  };

  const byClass = <T>(value: (k: number) => T): Record<string, T> => Object.fromEntries(classes.map((name, k) => [name, value(k)]));

  const vocSummary = (variant: 'voc07' | 'voc'): VocSummary => {
    const perClass = byClass((k) => vocClassAp(voc[k], variant));
    const defined = Object.values(perClass).filter((v): v is number => v !== null);
    return { mAP: defined.length === 0 ? null : defined.reduce((s, v) => s + v, 0) / defined.length, perClass };
  };

  const summarize = (): EvalSummary => {
    const summary: EvalSummary = {
      classes: [...classes],
      numImages: seen.size,
      numGroundTruths: byClass((k) => numGt[k]),
      numDetections: byClass((k) => numDet[k]),
    };
    if (metrics.includes('voc07')) summary.voc07 = vocSummary('voc07');
    if (metrics.includes('voc')) summary.voc = vocSummary('voc');
    if (wantCoco) {
      const curves = accumulateCoco(coco);
      summary.coco = {
        ...summarizeCoco(curves),
        perClass: byClass((k) => cocoClassAp(curves, k, 'all')),
        perClassAP50: byClass((k) => cocoClassAp(curves, k, 0.5)),
      };
    }
    return summary;
  };

  return { add, summarize };
}
