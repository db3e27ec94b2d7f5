import { cropBoxes, type Window } from './boxes';
import { LUMA, type ColourPlan, type ImageInfo, type ResizeRule } from './decode';
import type { Rng } from '@lumen/core';
import type { DataConfig } from './types';
import { randomInt, uniform } from './random';

export type AugmentConfig = DataConfig['augment'];

/** The random choices for one training example. */
export interface AugmentPlan {
  /** The short-side target used (scale jitter picks it from `minSizes`). */
  minSize: number;
  flip: boolean;
  /** Window of the oriented image, chosen so it keeps at least one box when there are any. */
  crop?: Window;
  colour?: ColourPlan & { brightness: number; saturation: number; hue: number };
}

/** Windows tried for a crop that keeps a box before the crop is given up. */
export const CROP_ATTEMPTS = 10;

type Matrix = number[][];

const multiply = (a: Matrix, b: Matrix): Matrix => a.map((row) => [0, 1, 2].map((c) => row[0] * b[0][c] + row[1] * b[1][c] + row[2] * b[2][c]));

/**
 * The 3x3 RGB matrix of a brightness factor (x b), a saturation factor (blend with the
 * ITU-R 601 grey, torchvision's `adjust_saturation`) and a hue rotation by `hue` turns
 * about the grey axis (the W3C `hue-rotate` matrix; torchvision rotates in HSV instead),
 * applied in that order.
 */
export function colourMatrix(brightness: number, saturation: number, hue: number): Matrix {
  const b = [
    [brightness, 0, 0],
    [0, brightness, 0],
    [0, 0, brightness],
  ];
  const s = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (r === c ? saturation : 0) + (1 - saturation) * LUMA[c]));
  const angle = hue * 2 * Math.PI;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const h = [
    [0.213 + cos * 0.787 - sin * 0.213, 0.715 - cos * 0.715 - sin * 0.715, 0.072 - cos * 0.072 + sin * 0.928],
    [0.213 - cos * 0.213 + sin * 0.143, 0.715 + cos * 0.285 + sin * 0.14, 0.072 - cos * 0.072 - sin * 0.283],
    [0.213 - cos * 0.213 - sin * 0.787, 0.715 - cos * 0.715 + sin * 0.715, 0.072 + cos * 0.928 + sin * 0.072],
  ];
  return multiply(h, multiply(s, b));
}

/**
 * Draws one example's augmentation from `random`, always in the same order (flip, scale
 * jitter, photometric, crop), so a seed gives the same plan whatever else happens.
 * Photometric factors are ColorJitter's: brightness, contrast and saturation uniform in
 * [1 - x, 1 + x], hue in [-hue, hue] turns. A crop window has each side scaled uniformly
 * in [minScale, 1] and a uniform position; up to CROP_ATTEMPTS windows are tried for one
 * that keeps a box (`minBoxVisible` of its area) when the image has boxes, else no crop.
 */
export function planAugmentation(random: Rng, augment: AugmentConfig, image: ResizeRule, source: ImageInfo, boxes: Float32Array): AugmentPlan {
  const flip = random() < augment.flip;
  let minSize = image.minSize;
  if (random() < augment.scaleJitter.prob) minSize = augment.scaleJitter.minSizes[randomInt(random, 0, augment.scaleJitter.minSizes.length - 1)];
  const plan: AugmentPlan = { minSize, flip };
  if (random() < augment.photometric.prob) {
    const p = augment.photometric;
    const brightness = uniform(random, 1 - p.brightness, 1 + p.brightness);
    const contrast = uniform(random, 1 - p.contrast, 1 + p.contrast);
    const saturation = uniform(random, 1 - p.saturation, 1 + p.saturation);
    const hue = uniform(random, -p.hue, p.hue);
    plan.colour = { matrix: colourMatrix(brightness, saturation, hue), contrast, brightness, saturation, hue };
  }
  if (random() < augment.crop.prob) {
    const { minScale, minBoxVisible } = augment.crop;
    for (let attempt = 0; attempt < CROP_ATTEMPTS; attempt++) {
      const width = Math.max(1, Math.round(uniform(random, minScale, 1) * source.width));
      const height = Math.max(1, Math.round(uniform(random, minScale, 1) * source.height));
      const window = { left: randomInt(random, 0, source.width - width), top: randomInt(random, 0, source.height - height), width, height };
      if (boxes.length === 0 || cropBoxes(boxes, window, minBoxVisible).keep.length > 0) {
        if (width < source.width || height < source.height) plan.crop = window;
        break;
      }
    }
  }
  return plan;
}
