import type { Rank, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { assertNumber, assertOptions, assertRank, describe, fail, formatValues } from '@lumen/core';
import { resampleLevels } from './resample-op';
import { roiAlign } from './roi-align';
import { roiAlignPlan } from './sampling';
import { readPoolInputs } from './validate';

const f32 = Math.fround;
// torchvision's LevelMapper adds eps as a float32 tensor.
const LEVEL_EPS = f32(1e-6);

export interface LevelOptions {
  /** Side of a box that belongs to `canonicalLevel` (FPN's 224). Default 224. */
  canonicalScale?: number;
  /** Pyramid level k (stride 2^k) of a canonicalScale x canonicalScale box. Default 4. */
  canonicalLevel?: number;
}

export interface MultiScaleRoiAlignOptions extends LevelOptions {
  /** Spatial scale of each map (1/stride, finest first); give this or `imageSize`. */
  scales?: number[];
  /**
   * [height, width] the scales are inferred from: torchvision's `image_shapes` max per
   * dimension, i.e. the largest image of the batch before padding.
   */
  imageSize?: [number, number];
  /** Default 2 (torchvision's Faster R-CNN). */
  samplingRatio?: number;
  /** Default false: MultiScaleRoIAlign always pools with aligned=False. */
  aligned?: boolean;
}

/**
 * RoIAlign over a feature pyramid with the semantics of torchvision's
 * `MultiScaleRoIAlign(featmap_names, outputSize, samplingRatio)` (FPN, Lin et al. eq. 1), NHWC.
 *
 * `features` are the pyramid's maps [N, H_l, W_l, C], finest first, each half the previous
 * scale (R50-FPN's '0'..'3', strides 4..32; its 'pool' map is not pooled from). Each RoI
 * `boxes[r]` = [x1, y1, x2, y2] in input-image pixels on image `boxIndices[r]` goes to the
 * level `levelsOfBoxes` gives it and is pooled there by `roiAlign` with that map's scale;
 * the rows come back in the boxes' order. With one map this is plain `roiAlign`. The scales
 * are `options.scales` or inferred from `options.imageSize` as torchvision's `_infer_scale`
 * does (2^round(log2(map size / image size))), which must give height and width the same scale.
 *
 * Returns [R, h, w, C]. Differentiable w.r.t. every map; the boxes are constants.
 */
export function multiScaleRoiAlign(
  features: Tensor4D[],
  boxes: Tensor2D,
  boxIndices: Tensor1D,
  outputSize: [number, number],
  options: MultiScaleRoiAlignOptions = {},
): Tensor4D {
  const fn = 'multiScaleRoiAlign';
  assertOptions(fn, options, 'scales, imageSize, samplingRatio, aligned, canonicalScale, canonicalLevel');
  const { samplingRatio = 2, aligned = false } = options;
  const mapper = readLevelOptions(fn, options);
  assertPyramid(fn, features);
  assertNumber(fn, 'samplingRatio', samplingRatio, 'an integer (<= 0: adaptive)', Number.isInteger);
  if (typeof aligned !== 'boolean') fail(fn, `'aligned' must be a boolean, but got ${typeof aligned}.`);
  const scales = resolveScales(fn, features, options);
  const inputs = readPoolInputs(fn, features[0], boxes, boxIndices, outputSize, scales[0]);
  // torchvision skips the level mapper for one map.
  if (features.length === 1) return roiAlign(features[0], boxes, boxIndices, inputs.outputSize, scales[0], samplingRatio, aligned);
  const levels = mapLevels(fn, inputs.boxes, scales, mapper);
  const rowsOfLevel: number[][] = scales.map(() => []);
  levels.forEach((level, row) => rowsOfLevel[level].push(row));
  const poolLevels = features.map((map, level) => {
    const rows = rowsOfLevel[level];
    const [, height, width] = map.shape;
    const image = Int32Array.from(rows, (row) => inputs.image[row]);
    const plan = roiAlignPlan(pickRows(inputs.boxes, rows), image, height, width, { outputSize: inputs.outputSize, spatialScale: scales[level], samplingRatio, aligned });
    return { plan, rows: Int32Array.from(rows) };
  });
  return resampleLevels(features, poolLevels, levels.length);
}

/**
 * The pyramid level each box is pooled from, as an index into `scales` (0 = the finest map):
 * torchvision's LevelMapper, floor(canonicalLevel + log2(sqrt(area) / canonicalScale) + 1e-6)
 * clamped to [k_min, k_max] = -log2 of the first and last scale, in float32 as torchvision
 * computes it. An empty box goes to the finest map; a box with a negative area (inverted
 * in one axis) is an error, its level being undefined (NaN in torchvision).
 */
export function levelsOfBoxes(boxes: Tensor2D, scales: readonly number[], options: LevelOptions = {}): Int32Array {
  const fn = 'levelsOfBoxes';
  assertOptions(fn, options, 'canonicalScale, canonicalLevel');
  const mapper = readLevelOptions(fn, options);
  assertRank<Rank.R2>(fn, 'boxes', boxes, 2, ['float32']);
  if (boxes.shape[1] !== 4) fail(fn, `'boxes' must be boxes of shape [R, 4], but got ${describe(boxes)}.`);
  if (!Array.isArray(scales) || scales.length === 0) fail(fn, `'scales' must be a non-empty array of positive numbers, but got ${describe(scales)}.`);
  assertScales(fn, scales, scales.length);
  const data = boxes.dataSync() as Float32Array;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) fail(fn, `'boxes' must be finite, but row ${Math.floor(i / 4)} is ${formatValues(data.subarray(i - (i % 4), i - (i % 4) + 4))}.`);
  }
  return mapLevels(fn, data, scales, mapper);
}

/**
 * Each map's spatial scale as torchvision's `_infer_scale` finds it: map size / image size
 * rounded to float32, its log2 rounded half to even, per dimension. Unlike torchvision,
 * which keeps the height's, the two dimensions must agree.
 */
export function inferScales(features: Tensor4D[], imageSize: [number, number]): number[] {
  assertPyramid('inferScales', features);
  return inferredScales('inferScales', features, imageSize);
}

function assertPyramid(fn: string, features: unknown): asserts features is Tensor4D[] {
  if (!Array.isArray(features) || features.length === 0) {
    fail(fn, `'features' must be a non-empty array of rank-4 maps (finest first), but got ${describe(features)}.`);
  }
  features.forEach((map: unknown, i) => {
    assertRank<Rank.R4>(fn, `features[${i}]`, map, 4, ['float32']);
    const [batch, height, width, channels] = map.shape;
    if (height === 0 || width === 0) fail(fn, `'features[${i}]' must have a height and a width of at least 1, but got ${describe(map)}.`);
    const [batch0, , , channels0] = (features[0] as Tensor4D).shape;
    if (batch !== batch0 || channels !== channels0) {
      fail(fn, `'features[${i}]' must have the batch size and channels of features[0] (${batch0} and ${channels0}), but got ${describe(map)}.`);
    }
  });
}

function resolveScales(fn: string, features: Tensor4D[], options: MultiScaleRoiAlignOptions): number[] {
  const { scales, imageSize } = options;
  if ((scales === undefined) === (imageSize === undefined)) {
    fail(fn, `'options' must give exactly one of 'scales' and 'imageSize', but got ${scales === undefined ? 'neither' : 'both'}.`);
  }
  if (scales === undefined) return inferredScales(fn, features, imageSize as [number, number]);
  assertScales(fn, scales, features.length);
  return scales;
}

/** One positive scale per map; with several maps, powers of two halving from map to map (the mapper's levels are consecutive). */
function assertScales(fn: string, scales: unknown, count: number): asserts scales is number[] {
  const ok = Array.isArray(scales) && scales.length === count && scales.every((s) => typeof s === 'number' && Number.isFinite(s) && s > 0);
  if (!ok) fail(fn, `'scales' must be ${count} positive number(s), one per feature map, but got ${Array.isArray(scales) ? formatValues(scales) : describe(scales)}.`);
  if (count > 1 && !scales.every((s, i) => 2 ** Math.round(Math.log2(s)) === s && (i === 0 || s === scales[i - 1] / 2))) {
    fail(fn, `'scales' must be powers of two halving from each map to the next (finest first, e.g. [0.25, 0.125]), but got ${formatValues(scales)}.`);
  }
}

function inferredScales(fn: string, features: Tensor4D[], imageSize: unknown): number[] {
  const size = imageSize as unknown[];
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0)) {
    fail(fn, `'imageSize' must be [height, width] of positive numbers, but got ${Array.isArray(imageSize) ? formatValues(imageSize) : describe(imageSize)}.`);
  }
  const [imageHeight, imageWidth] = size as [number, number];
  const scales = features.map((map, i) => {
    const [, height, width] = map.shape;
    const byHeight = inferredScale(height, imageHeight);
    const byWidth = inferredScale(width, imageWidth);
    if (byHeight !== byWidth) {
      fail(fn, `'imageSize' ${formatValues(size)} must give features[${i}] (${height}x${width}) one scale, but its height gives ${byHeight} and its width ${byWidth}; pass 'scales'.`);
    }
    return byHeight;
  });
  if (scales.some((s, i) => i > 0 && s !== scales[i - 1] / 2)) {
    fail(fn, `'features' must halve in scale from each map to the next (finest first), but 'imageSize' ${formatValues(size)} gives them ${formatValues(scales)}.`);
  }
  return scales;
}

function inferredScale(mapSize: number, imageSize: number): number {
  return 2 ** roundHalfEven(f32(Math.log2(f32(mapSize / imageSize))));
}

// torch.round.
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function readLevelOptions(fn: string, options: LevelOptions): Required<LevelOptions> {
  const { canonicalScale = 224, canonicalLevel = 4 } = options;
  assertNumber(fn, 'canonicalScale', canonicalScale, 'a positive number', (v) => Number.isFinite(v) && v > 0);
  assertNumber(fn, 'canonicalLevel', canonicalLevel, 'an integer', Number.isInteger);
  return { canonicalScale, canonicalLevel };
}

/** Level indices of checked boxes [x1, y1, x2, y2, ...] and checked scales. */
function mapLevels(fn: string, boxes: Float32Array, scales: readonly number[], { canonicalScale, canonicalLevel }: Required<LevelOptions>): Int32Array {
  // Scales are powers of two (or a single map), so these are the integers torchvision truncates to.
  const kMin = Math.trunc(-Math.log2(scales[0]));
  const kMax = Math.trunc(-Math.log2(scales[scales.length - 1]));
  const scale0 = f32(canonicalScale);
  const levels = new Int32Array(boxes.length / 4);
  for (let r = 0; r < levels.length; r++) {
    const [x1, y1, x2, y2] = boxes.subarray(4 * r, 4 * r + 4);
    const area = f32(f32(x2 - x1) * f32(y2 - y1));
    if (area < 0) {
      fail(fn, `'boxes' must have x1 <= x2 and y1 <= y2 (or both inverted): a negative area has no pyramid level, but row ${r} is ${formatValues([x1, y1, x2, y2])}.`);
    }
    const level = Math.floor(f32(f32(canonicalLevel + f32(Math.log2(f32(f32(Math.sqrt(area)) / scale0)))) + LEVEL_EPS));
    levels[r] = Math.min(Math.max(level, kMin), kMax) - kMin;
  }
  return levels;
}

function pickRows(boxes: Float32Array, rows: readonly number[]): Float32Array {
  const picked = new Float32Array(4 * rows.length);
  rows.forEach((row, i) => picked.set(boxes.subarray(4 * row, 4 * row + 4), 4 * i));
  return picked;
}
