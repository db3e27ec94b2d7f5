import { describe, fail } from '@lumen/core';
import { tensor2d, tidy, type Tensor2D } from '@tensorflow/tfjs-core';
import { checkPositiveList, gridAnchors, referenceAnchors } from './anchors';

export interface PyramidAnchors {
  /** [ΣK_l, 4]: each level's `gridAnchors`, level after level (torchvision's `torch.cat` over the maps). */
  anchors: Tensor2D;
  /** K_l = H_l·W_l·A_l, anchors of each level in order (torchvision's `num_anchors_per_level`). */
  anchorsPerLevel: number[];
}

type Size = readonly [number, number];

function isSize(value: unknown): value is Size {
  return Array.isArray(value) && value.length === 2 && value.every((v) => Number.isInteger(v) && v > 0);
}

/**
 * Each map's [strideY, strideX]: the padded input's size divided by the map's, rounded down
 * per axis (torchvision `AnchorGenerator.forward`), so a map whose size was rounded up by a
 * pooling or a strided convolution gets the stride torchvision gives it, not the nominal one.
 */
export function levelStrides(imageSize: Size, mapSizes: readonly Size[]): Array<[number, number]> {
  const fn = 'levelStrides';
  checkSizes(fn, imageSize, mapSizes);
  return mapSizes.map(([h, w]) => [Math.floor(imageSize[0] / h), Math.floor(imageSize[1] / w)]);
}

function checkSizes(fn: string, imageSize: unknown, mapSizes: unknown): asserts mapSizes is Size[] {
  if (!isSize(imageSize)) fail(fn, `'imageSize' must be the padded input's [height, width], positive integers, but got ${JSON.stringify(imageSize)}.`);
  if (!Array.isArray(mapSizes) || mapSizes.length === 0) fail(fn, `'mapSizes' must be a non-empty array of [height, width], one per map, but got ${describe(mapSizes)}.`);
  mapSizes.forEach((size: unknown, l) => {
    if (!isSize(size)) fail(fn, `'mapSizes[${l}]' must be [height, width], positive integers, but got ${JSON.stringify(size)}.`);
    // A map larger than the input would get stride 0: every anchor at the origin.
    if (size[0] > imageSize[0] || size[1] > imageSize[1]) {
      fail(fn, `'mapSizes[${l}]' must not exceed the input size [${imageSize.join(', ')}], but got [${size.join(', ')}].`);
    }
  });
}

/**
 * Anchors over every map of a feature pyramid for one padded input (torchvision
 * `AnchorGenerator(sizes, aspect_ratios)` called on an `ImageList` and a list of maps):
 * level l has `referenceAnchors(sizes[l], ratios[l])` on a `mapSizes[l]` grid with stride
 * `levelStrides(imageSize, mapSizes)[l]`, and the levels are concatenated in order, so row
 * i lines up with the head outputs flattened level after level (torchvision's
 * `concat_box_prediction_layers`). One map is `gridAnchors` of that map.
 *
 * torchvision's R50-FPN: sizes [[32], [64], [128], [256], [512]], ratios [0.5, 1, 2] on
 * every level; MobileNetV3-FPN: [32, 64, 128, 256, 512] on each of 3 levels.
 */
export function pyramidAnchors(sizes: readonly number[][], ratios: readonly number[][], mapSizes: readonly Size[], imageSize: Size): PyramidAnchors {
  const fn = 'pyramidAnchors';
  checkSizes(fn, imageSize, mapSizes);
  for (const [name, lists] of [['sizes', sizes], ['ratios', ratios]] as const) {
    if (!Array.isArray(lists) || lists.length !== mapSizes.length) {
      fail(fn, `'${name}' must hold one list per map (${mapSizes.length}), but got ${describe(lists)}.`);
    }
    lists.forEach((list: unknown, l) => checkPositiveList(fn, `${name}[${l}]`, list));
  }
  const strides = levelStrides(imageSize, mapSizes);
  const anchorsPerLevel = mapSizes.map(([h, w], l) => h * w * sizes[l].length * ratios[l].length);
  const out = new Float32Array(4 * anchorsPerLevel.reduce((sum, k) => sum + k, 0));
  let offset = 0;
  mapSizes.forEach(([h, w], l) => {
    tidy(() => out.set(gridAnchors(referenceAnchors(sizes[l], ratios[l]), h, w, strides[l]).dataSync(), offset));
    offset += 4 * anchorsPerLevel[l];
  });
  return { anchors: tensor2d(out, [out.length / 4, 4]), anchorsPerLevel };
}
