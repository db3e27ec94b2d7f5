// The products `A_y(r) · F · A_x(r)ᵀ` of sampling.ts and their transposes, computed row by
// row: every output row is the weighted sum of the |Y_i| x |X_j| feature rows its bin reads
// (4 to 16 for RoIAlign with 2x2 samples — the non-zeros of the separable matrices, never a
// dense [R·h·w, H·W] matrix), and the gradient adds each output gradient row into those
// same feature rows with the same weights. The row kernels (kernels/) run in one linear
// memory holding the feature map (or its gradient) and a bounded chunk of output rows.
import type { RowKernels } from './kernels/row-kernels';
import { kernelsFor } from './kernels/select-kernels';
import type { SamplingPlan } from './sampling';

/** Output (or output-gradient) floats held in the kernels' memory at a time. */
const CHUNK_FLOATS = 1 << 18;

export type MapShape = readonly [number, number, number, number];

/** Reusable term lists: the feature rows one output row reads and their weights. */
class Terms {
  readonly rows: Int32Array;
  readonly weights: Float64Array;
  count = 0;

  constructor(plan: SamplingPlan) {
    const capacity = Math.max(1, plan.y.widest * plan.x.widest);
    this.rows = new Int32Array(capacity);
    this.weights = new Float64Array(capacity);
  }

  /** The terms of output cell (i, j) of RoI r, as offsets of feature rows from `base`. */
  collect(plan: SamplingPlan, r: number, i: number, j: number, base: number, width: number, channels: number): number {
    const { y, x } = plan;
    const ey = r * plan.outHeight + i;
    const ex = r * plan.outWidth + j;
    let k = 0;
    for (let a = y.start[ey]; a < y.start[ey + 1]; a++) {
      const rowBase = base + y.index[a] * width * channels;
      const wy = y.weight[a];
      for (let b = x.start[ex]; b < x.start[ex + 1]; b++) {
        this.rows[k] = rowBase + x.index[b] * channels;
        this.weights[k] = wy * x.weight[b];
        k++;
      }
    }
    this.count = k;
    return k;
  }
}

function chunkRois(plan: SamplingPlan, rowsPerRoi: number, channels: number): number {
  return Math.max(1, Math.min(plan.rois, Math.floor(CHUNK_FLOATS / Math.max(1, rowsPerRoi * channels))));
}

/** out[r, i, j, :] = Σ A_y(r)[i, y] A_x(r)[j, x] F[b_r, y, x, :]: [rois, outHeight, outWidth, C]. */
export function resampleForward(features: Float32Array, shape: MapShape, plan: SamplingPlan): Float32Array {
  const [, height, width, channels] = shape;
  const rowsPerRoi = plan.outHeight * plan.outWidth;
  const out = new Float32Array(plan.rois * rowsPerRoi * channels);
  if (out.length === 0) return out;
  const perChunk = chunkRois(plan, rowsPerRoi, channels);
  const outAt = features.length;
  const { kernels, mem } = kernelsFor(channels, outAt + perChunk * rowsPerRoi * channels);
  mem.set(features, 0);
  const terms = new Terms(plan);
  const mapFloats = height * width * channels;
  for (let r0 = 0; r0 < plan.rois; r0 += perChunk) {
    const r1 = Math.min(plan.rois, r0 + perChunk);
    mem.fill(0, outAt, outAt + (r1 - r0) * rowsPerRoi * channels);
    let dst = outAt;
    for (let r = r0; r < r1; r++) {
      const base = plan.image[r] * mapFloats;
      for (let i = 0; i < plan.outHeight; i++) {
        for (let j = 0; j < plan.outWidth; j++, dst += channels) {
          const k = terms.collect(plan, r, i, j, base, width, channels);
          if (k > 0) kernels.gather(dst, terms.rows, terms.weights, k, channels);
        }
      }
    }
    out.set(mem.subarray(outAt, dst), r0 * rowsPerRoi * channels);
  }
  return out;
}

/** The transpose: dF[b_r, y, x, :] += A_y(r)[i, y] A_x(r)[j, x] dOut[r, i, j, :]. */
export function resampleBackward(dy: Float32Array, shape: MapShape, plan: SamplingPlan): Float32Array {
  const [batch, height, width, channels] = shape;
  const mapFloats = height * width * channels;
  const gradFloats = batch * mapFloats;
  const rowsPerRoi = plan.outHeight * plan.outWidth;
  if (dy.length === 0 || gradFloats === 0) return new Float32Array(gradFloats);
  const perChunk = chunkRois(plan, rowsPerRoi, channels);
  const dyAt = gradFloats;
  const { kernels, mem } = kernelsFor(channels, dyAt + perChunk * rowsPerRoi * channels);
  mem.fill(0, 0, gradFloats);
  const terms = new Terms(plan);
  for (let r0 = 0; r0 < plan.rois; r0 += perChunk) {
    const r1 = Math.min(plan.rois, r0 + perChunk);
    mem.set(dy.subarray(r0 * rowsPerRoi * channels, r1 * rowsPerRoi * channels), dyAt);
    let src = dyAt;
    for (let r = r0; r < r1; r++) {
      const base = plan.image[r] * mapFloats;
      for (let i = 0; i < plan.outHeight; i++) {
        for (let j = 0; j < plan.outWidth; j++, src += channels) {
          const k = terms.collect(plan, r, i, j, base, width, channels);
          if (k > 0) kernels.scatter(src, terms.rows, terms.weights, k, channels);
        }
      }
    }
  }
  return mem.slice(0, gradFloats);
}

/**
 * The four crop samples (2i + a, 2j + b) under pooled cell (i, j) of RoI r, computed into the
 * scratch rows at `scratch` (4 rows): the candidates of one 2x2 max-pool window.
 */
function cropWindow(kernels: RowKernels, mem: Float32Array, terms: Terms, plan: SamplingPlan, r: number, i: number, j: number, base: number, width: number, channels: number, scratch: number): void {
  mem.fill(0, scratch, scratch + 4 * channels);
  for (let q = 0; q < 4; q++) {
    const k = terms.collect(plan, r, 2 * i + (q >> 1), 2 * j + (q & 1), base, width, channels);
    if (k > 0) kernels.gather(scratch + q * channels, terms.rows, terms.weights, k, channels);
  }
}

/** Crop (plan: 2h x 2w samples per RoI) then 2x2 max-pool, stride 2: [rois, h, w, C]. */
export function cropPoolForward(features: Float32Array, shape: MapShape, plan: SamplingPlan): Float32Array {
  const [, height, width, channels] = shape;
  const h = plan.outHeight / 2;
  const w = plan.outWidth / 2;
  const rowsPerRoi = h * w;
  const out = new Float32Array(plan.rois * rowsPerRoi * channels);
  if (out.length === 0) return out;
  const perChunk = chunkRois(plan, rowsPerRoi, channels);
  const scratch = features.length;
  const outAt = scratch + 4 * channels;
  const { kernels, mem } = kernelsFor(channels, outAt + perChunk * rowsPerRoi * channels);
  mem.set(features, 0);
  const terms = new Terms(plan);
  const mapFloats = height * width * channels;
  const [a0, a1, a2, a3] = [0, 1, 2, 3].map((q) => scratch + q * channels);
  for (let r0 = 0; r0 < plan.rois; r0 += perChunk) {
    const r1 = Math.min(plan.rois, r0 + perChunk);
    let dst = outAt;
    for (let r = r0; r < r1; r++) {
      const base = plan.image[r] * mapFloats;
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++, dst += channels) {
          cropWindow(kernels, mem, terms, plan, r, i, j, base, width, channels, scratch);
          kernels.max4(dst, a0, a1, a2, a3, channels);
        }
      }
    }
    out.set(mem.subarray(outAt, dst), r0 * rowsPerRoi * channels);
  }
  return out;
}

/**
 * Gradient of cropPoolForward w.r.t. the features: each pooled gradient goes to the first
 * maximal crop sample of its window (recomputed from `features`), then through that
 * sample's bilinear weights into the map.
 */
export function cropPoolBackward(features: Float32Array, dy: Float32Array, shape: MapShape, plan: SamplingPlan): Float32Array {
  const [, height, width, channels] = shape;
  const mapFloats = height * width * channels;
  const gradFloats = features.length;
  const h = plan.outHeight / 2;
  const w = plan.outWidth / 2;
  const rowsPerRoi = h * w;
  if (dy.length === 0 || gradFloats === 0) return new Float32Array(gradFloats);
  const perChunk = chunkRois(plan, rowsPerRoi, channels);
  const gradAt = features.length;
  const scratch = gradAt + gradFloats;
  const dyAt = scratch + 4 * channels;
  const { kernels, mem } = kernelsFor(channels, dyAt + perChunk * rowsPerRoi * channels);
  mem.set(features, 0);
  mem.fill(0, gradAt, gradAt + gradFloats);
  const terms = new Terms(plan);
  const [a0, a1, a2, a3] = [0, 1, 2, 3].map((q) => scratch + q * channels);
  for (let r0 = 0; r0 < plan.rois; r0 += perChunk) {
    const r1 = Math.min(plan.rois, r0 + perChunk);
    mem.set(dy.subarray(r0 * rowsPerRoi * channels, r1 * rowsPerRoi * channels), dyAt);
    let src = dyAt;
    for (let r = r0; r < r1; r++) {
      const base = plan.image[r] * mapFloats;
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++, src += channels) {
          cropWindow(kernels, mem, terms, plan, r, i, j, base, width, channels, scratch);
          kernels.route4(src, a0, a1, a2, a3, channels);
          for (let q = 0; q < 4; q++) {
            const k = terms.collect(plan, r, 2 * i + (q >> 1), 2 * j + (q & 1), gradAt + base, width, channels);
            if (k > 0) kernels.scatter(scratch + q * channels, terms.rows, terms.weights, k, channels);
          }
        }
      }
    }
  }
  return mem.slice(gradAt, gradAt + gradFloats);
}
