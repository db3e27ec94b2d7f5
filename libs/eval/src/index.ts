// @lumen/eval: detection metrics computed the way the standard tools compute them, so numbers
// compare with papers and with torchvision / detectron2 / mmdetection to the digit.
export { createEvaluator, METRIC_NAMES } from './evaluator';
export type { CocoSummary, EvalSummary, Evaluator, EvaluatorOptions, MetricName, PerClassAp, VocSummary } from './evaluator';
export { formatSummary } from './table';
export { matchVocImage, vocAp, vocClassAp, vocIou } from './voc';
export type { VocImageResult, VocOutcome, VocVariant } from './voc';
export {
  accumulateCoco,
  cocoIou,
  evaluateCocoImage,
  summarizeCoco,
  COCO_AREA_NAMES,
  COCO_AREA_RANGES,
  COCO_IOU_THRESHOLDS,
  COCO_MAX_DETS,
  COCO_RECALL_THRESHOLDS,
} from './coco';
export type { CocoCurves, CocoImageResult, CocoStats } from './coco';
export type { Box, Detections, FlaggedBox, GroundTruth, ImageEntry, ScoredBox } from './types';
