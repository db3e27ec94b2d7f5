import type { ImageInput } from './transform';

/** Ground truth of one image, in the pixels of the (resized) network input. */
export interface ImageTargets {
  /** [K*4] x1, y1, x2, y2. */
  boxes: Float32Array;
  /** [K] class labels 1..N. */
  labels: Int32Array;
}

/** A training example as the data pipeline hands it over (structurally @lumen/data's DecodedExample). */
export interface TrainingExample extends ImageTargets, ImageInput {}
