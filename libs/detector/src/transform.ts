import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '@lumen/config';

/** An image as the data pipeline hands it over: RGB bytes, HWC, already resized. */
export interface ImageInput {
  pixels: Uint8Array;
  width: number;
  height: number;
}

export interface ImageBatch {
  /** [N, H, W, 3], normalised, zero-padded bottom/right to a multiple of sizeDivisible. */
  images: tf.Tensor4D;
  /** Each image's own [height, width] inside the padded batch (boxes are clipped to it). */
  sizes: Array<[number, number]>;
}

/**
 * torchvision's GeneralizedRCNNTransform after resizing: scale to [0,1], normalise with
 * mean/std, pad every image to the batch's largest size rounded up to sizeDivisible. Built in
 * one typed array: per-image tensor ops would cost more than the arithmetic.
 */
export function batchImages(inputs: readonly ImageInput[], transform: ModelConfig['transform']): ImageBatch {
  if (inputs.length === 0) throw new Error('Error in batchImages: expected at least one image.');
  const divisible = transform.sizeDivisible;
  const height = Math.ceil(Math.max(...inputs.map((i) => i.height)) / divisible) * divisible;
  const width = Math.ceil(Math.max(...inputs.map((i) => i.width)) / divisible) * divisible;
  const out = new Float32Array(inputs.length * height * width * 3);
  const scale = transform.std.map((s) => 1 / (255 * s));
  const shift = transform.mean.map((m, c) => -m / transform.std[c]);
  inputs.forEach((input, n) => {
    const { pixels, width: w, height: h } = input;
    if (pixels.length !== w * h * 3) {
      throw new Error(`Error in batchImages: image ${n} has ${pixels.length} bytes, but ${w}x${h} RGB needs ${w * h * 3}.`);
    }
    for (let y = 0; y < h; y++) {
      let src = y * w * 3;
      let dst = ((n * height + y) * width) * 3;
      for (let x = 0; x < w; x++, src += 3, dst += 3) {
        out[dst] = pixels[src] * scale[0] + shift[0];
        out[dst + 1] = pixels[src + 1] * scale[1] + shift[1];
        out[dst + 2] = pixels[src + 2] * scale[2] + shift[2];
      }
    }
  });
  return { images: tf.tensor4d(out, [inputs.length, height, width, 3]), sizes: inputs.map((i) => [i.height, i.width]) };
}
