/** A box `[x1, y1, x2, y2]` in pixels. */
export type Box = readonly number[];

/** One image's detections; the three arrays are parallel. Labels are classes 1..N. */
export interface Detections {
  boxes: readonly Box[];
  scores: readonly number[];
  labels: readonly number[];
}

/** One image's ground truth; `difficult` and `iscrowd` default to all false. */
export interface GroundTruth {
  boxes: readonly Box[];
  labels: readonly number[];
  difficult?: readonly boolean[];
  iscrowd?: readonly boolean[];
}

/** What `Evaluator.add` takes: an image with no detections or no objects may leave either out. */
export interface ImageEntry {
  imageId: string | number;
  detections?: Detections;
  groundTruth?: GroundTruth;
}

/** A detection of one class in one image. */
export interface ScoredBox {
  box: Box;
  score: number;
}

/** A ground truth of one class in one image. */
export interface FlaggedBox {
  box: Box;
  difficult: boolean;
  iscrowd: boolean;
}
