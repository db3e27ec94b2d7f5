import { cropBoxes, type Window } from './boxes';
import { LUMA, type ColourPlan, type ImageInfo, type RenderEffects, type ResizeRule } from './decode';
import { CHANNEL_PERMUTATIONS, multiply } from './effects';
import type { Rng } from '@lumen/core';
import type { DataConfig } from './types';
import { randomInt, uniform } from './random';

export type AugmentConfig = DataConfig['augment'];

/**
 * The random choices for one training example. An example is rendered in this order
 * (renderImage, decodeExample), geometry first, then colour, blur, noise and JPEG last, as
 * a camera would: crop (a window of the source), resize (`minSize`), flip, `rotate` (about
 * the centre of the resized image — of the crop, before torchvision's resize), `colour`
 * (brightness/saturation/hue matrix, then contrast), `grayscale`, `channels` (shuffle),
 * `invert`, `blur`, `pattern`, `noise`, `jpeg`. A field left out is not applied. The boxes follow crop,
 * resize, flip and rotation (rotate.ts); the rest leave them alone.
 */
export interface AugmentPlan extends RenderEffects {
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
 * jitter, photometric, crop, then rotate, grayscale, channelShuffle, invert, blur, noise,
 * jpeg, pattern), so a seed gives the same plan whatever else happens — and the same flip, jitter,
 * photometric and crop as before the later keys existed. Each key draws its gate (one
 * uniform against `prob`, also when the key is left out: probability 0), then, when it
 * applies, its values. Photometric factors are ColorJitter's: brightness, contrast and
 * saturation uniform in [1 - x, 1 + x], hue in [-hue, hue] turns. A crop window has each side
 * scaled uniformly in [minScale, 1] and a uniform position; up to CROP_ATTEMPTS windows are
 * tried for one that keeps a box (`minBoxVisible` of its area) when the image has boxes, else
 * no crop. The rotation angle is uniform in [-degrees, degrees] (0: none), the channel
 * permutation one of the five that move a channel, blur and noise sigmas uniform in their
 * [min, max], the noise's seed one draw, the JPEG quality an integer uniform in [min, max]; a
 * pattern is stripes or checks (even odds), its period and opacity uniform in their ranges, its
 * angle uniform in [0, pi), its phases uniform, its colour uniform bytes.
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
  const rotate = augment.rotate;
  if (random() < (rotate?.prob ?? 0) && rotate != null) {
    const angle = uniform(random, -rotate.degrees, rotate.degrees);
    if (angle !== 0) plan.rotate = angle;
  }
  if (random() < (augment.grayscale?.prob ?? 0)) plan.grayscale = true;
  if (random() < (augment.channelShuffle?.prob ?? 0)) plan.channels = CHANNEL_PERMUTATIONS[randomInt(random, 0, CHANNEL_PERMUTATIONS.length - 1)];
  if (random() < (augment.invert?.prob ?? 0)) plan.invert = true;
  const blur = augment.blur;
  if (random() < (blur?.prob ?? 0) && blur != null) plan.blur = uniform(random, blur.sigma[0], blur.sigma[1]);
  const noise = augment.noise;
  if (random() < (noise?.prob ?? 0) && noise != null) {
    const sigma = uniform(random, noise.sigma[0], noise.sigma[1]);
    plan.noise = { sigma, seed: Math.floor(random() * 4294967296) };
  }
  const jpeg = augment.jpeg;
  if (random() < (jpeg?.prob ?? 0) && jpeg != null) plan.jpeg = randomInt(random, jpeg.quality[0], jpeg.quality[1]);
  const pattern = augment.pattern;
  if (random() < (pattern?.prob ?? 0) && pattern != null) {
    plan.pattern = {
      kind: random() < 0.5 ? 'stripes' : 'checks',
      period: uniform(random, pattern.period[0], pattern.period[1]),
      angle: random() * Math.PI,
      phase: [random(), random()],
      colour: [randomInt(random, 0, 255), randomInt(random, 0, 255), randomInt(random, 0, 255)],
      alpha: uniform(random, pattern.alpha[0], pattern.alpha[1]),
    };
  }
  return plan;
}
