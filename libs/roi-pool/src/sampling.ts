// Where each output cell reads the feature map. Both poolings sample the map bilinearly on
// a regular grid per RoI, and bilinear weights are products of a row weight and a column
// weight, so an output cell (r, i, j) is
//
//   out[r, i, j, :] = Σ_y Σ_x  A_y(r)[i, y] · A_x(r)[j, x] · F[b_r, y, x, :]
//
// with small interpolation matrices A_y(r) (outHeight x H) and A_x(r) (outWidth x W) that
// hold a few non-zeros per row (samples averaged over a bin are folded into one row of
// weights). They are built here, in float32 arithmetic replaying torchvision's
// roi_align (and TensorFlow's crop_and_resize) so the same pixels are read with the same
// weights, and stored sparse: per output row/column, the map rows/columns and weights.
const f32 = Math.fround;

/** Per output row (or column), RoI-major: the map rows (columns) read and their weights (CSR). */
export interface AxisWeights {
  /** Entry e reads index[start[e]..start[e+1]). */
  readonly start: Int32Array;
  readonly index: Int32Array;
  readonly weight: Float64Array;
  /** The most map rows (columns) any entry reads. */
  readonly widest: number;
}

export interface SamplingPlan {
  readonly rois: number;
  /** Batch index of each RoI. */
  readonly image: Int32Array;
  readonly outHeight: number;
  readonly outWidth: number;
  /** rois x outHeight entries over the map's rows. */
  readonly y: AxisWeights;
  /** rois x outWidth entries over the map's columns. */
  readonly x: AxisWeights;
}

/**
 * Builds AxisWeights entry by entry, merging the weights a sample grid puts on each map index
 * (an entry touches a few indices: it searches its own, then sorts them when it closes).
 */
class AxisBuilder {
  private starts = new Int32Array(64);
  private indices = new Int32Array(256);
  private weights = new Float64Array(256);
  private entries = 0;
  private count = 0;
  private open = 0;
  private widest = 0;

  add(index: number, weight: number): void {
    if (weight === 0) return;
    for (let k = this.open; k < this.count; k++) {
      if (this.indices[k] === index) {
        this.weights[k] += weight;
        return;
      }
    }
    if (this.count === this.indices.length) {
      this.indices = grown(this.indices, new Int32Array(2 * this.count));
      this.weights = grown(this.weights, new Float64Array(2 * this.count));
    }
    this.indices[this.count] = index;
    this.weights[this.count] = weight;
    this.count++;
  }

  /** Closes the current entry: its indices ascending, zero sums dropped. */
  next(): void {
    let kept = this.open;
    for (let k = this.open; k < this.count; k++) {
      const index = this.indices[k];
      const weight = this.weights[k];
      if (weight === 0) continue;
      // insertion into the sorted prefix [open, kept)
      let at = kept;
      while (at > this.open && this.indices[at - 1] > index) {
        this.indices[at] = this.indices[at - 1];
        this.weights[at] = this.weights[at - 1];
        at--;
      }
      this.indices[at] = index;
      this.weights[at] = weight;
      kept++;
    }
    this.count = kept;
    this.widest = Math.max(this.widest, kept - this.open);
    this.open = kept;
    if (this.entries + 2 > this.starts.length) this.starts = grown(this.starts, new Int32Array(2 * this.starts.length));
    this.starts[++this.entries] = kept;
  }

  build(): AxisWeights {
    return { start: this.starts.slice(0, this.entries + 1), index: this.indices.slice(0, this.count), weight: this.weights.slice(0, this.count), widest: this.widest };
  }
}

function grown<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/**
 * torchvision roi_align along one axis: `bins` bins of `bin` map pixels from `start`, each
 * sampled at `grid` points averaged (weights / grid). A sample outside [-1, size] reads
 * nothing; inside, it is clamped to [0, size - 1] and interpolated between its floor and
 * the next pixel (torchvision's bilinear_interpolate).
 */
function roiAlignAxis(axis: AxisBuilder, start: number, bin: number, bins: number, grid: number, size: number): void {
  for (let p = 0; p < bins; p++) {
    const binStart = f32(start + f32(p * bin));
    for (let s = 0; s < grid; s++) {
      let v = f32(binStart + f32(f32((s + 0.5) * bin) / grid));
      if (v < -1 || v > size) continue;
      if (v <= 0) v = 0;
      let low = Math.trunc(v);
      let high: number;
      if (low >= size - 1) {
        high = low = size - 1;
        v = low;
      } else {
        high = low + 1;
      }
      const l = f32(v - low);
      const h = f32(1 - l);
      axis.add(low, h / grid);
      axis.add(high, l / grid);
    }
    axis.next();
  }
}

export interface RoiAlignOptions {
  outputSize: readonly [number, number];
  spatialScale: number;
  samplingRatio: number;
  aligned: boolean;
}

/** torchvision.ops.roi_align's sampling for boxes [x1, y1, x2, y2] in input pixels. */
export function roiAlignPlan(boxes: ArrayLike<number>, image: Int32Array, height: number, width: number, options: RoiAlignOptions): SamplingPlan {
  const [outHeight, outWidth] = options.outputSize;
  const scale = f32(options.spatialScale);
  const offset = options.aligned ? 0.5 : 0;
  const rois = image.length;
  const ys = new AxisBuilder();
  const xs = new AxisBuilder();
  for (let r = 0; r < rois; r++) {
    const startX = f32(f32(boxes[4 * r] * scale) - offset);
    const startY = f32(f32(boxes[4 * r + 1] * scale) - offset);
    const endX = f32(f32(boxes[4 * r + 2] * scale) - offset);
    const endY = f32(f32(boxes[4 * r + 3] * scale) - offset);
    let roiWidth = f32(endX - startX);
    let roiHeight = f32(endY - startY);
    if (!options.aligned) {
      // torchvision forces malformed RoIs to 1x1 map pixels.
      roiWidth = Math.max(roiWidth, 1);
      roiHeight = Math.max(roiHeight, 1);
    }
    const binHeight = f32(roiHeight / outHeight);
    const binWidth = f32(roiWidth / outWidth);
    // Adaptive: ceil(roi / bins) samples per bin, 0 (an empty bin, output 0) for an empty RoI.
    const gridH = options.samplingRatio > 0 ? options.samplingRatio : Math.max(0, Math.ceil(binHeight));
    const gridW = options.samplingRatio > 0 ? options.samplingRatio : Math.max(0, Math.ceil(binWidth));
    roiAlignAxis(ys, startY, binHeight, outHeight, gridH, height);
    roiAlignAxis(xs, startX, binWidth, outWidth, gridW, width);
  }
  return { rois, image, outHeight, outWidth, y: ys.build(), x: xs.build() };
}

/**
 * TensorFlow crop_and_resize along one axis: `count` samples evenly from a1 to a2
 * (normalised, 0..1 = first..last pixel; the middle when count is 1), each interpolated
 * between its floor and ceil; a sample outside [0, size - 1] reads nothing (extrapolation
 * value 0).
 */
function cropAxis(axis: AxisBuilder, a1: number, a2: number, count: number, size: number): void {
  const last = size - 1;
  const scale = count > 1 ? f32(f32(f32(a2 - a1) * last) / (count - 1)) : 0;
  for (let p = 0; p < count; p++) {
    const v = count > 1 ? f32(f32(a1 * last) + f32(p * scale)) : f32(0.5 * (a1 + a2) * last);
    if (v >= 0 && v <= last) {
      const top = Math.floor(v);
      const bottom = Math.ceil(v);
      const l = f32(v - top);
      axis.add(top, f32(1 - l));
      axis.add(bottom, l);
    }
    axis.next();
  }
}

/**
 * Luminoth's crop: boxes divided by the input size (map size / spatialScale) and cropped
 * with crop_and_resize to `cropSize` samples.
 */
export function cropPlan(boxes: ArrayLike<number>, image: Int32Array, height: number, width: number, cropSize: readonly [number, number], spatialScale: number): SamplingPlan {
  const [outHeight, outWidth] = cropSize;
  const inputHeight = f32(height / spatialScale);
  const inputWidth = f32(width / spatialScale);
  const rois = image.length;
  const ys = new AxisBuilder();
  const xs = new AxisBuilder();
  for (let r = 0; r < rois; r++) {
    const x1 = f32(boxes[4 * r] / inputWidth);
    const y1 = f32(boxes[4 * r + 1] / inputHeight);
    const x2 = f32(boxes[4 * r + 2] / inputWidth);
    const y2 = f32(boxes[4 * r + 3] / inputHeight);
    cropAxis(ys, y1, y2, outHeight, height);
    cropAxis(xs, x1, x2, outWidth, width);
  }
  return { rois, image, outHeight, outWidth, y: ys.build(), x: xs.build() };
}
