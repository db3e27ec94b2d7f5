import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '@lumen/config';
import { describe, fail } from '@lumen/core';
import { localContrastNormalise } from './local-contrast';

/**
 * An image as the data pipeline hands it over, already resized: RGB, HWC, either bytes
 * (sharp resized them) or float32 in [0, 1] (torchvision's bilinear on the [0, 1] image,
 * @lumen/data with `data.image.resize: 'torchvision'`). Never normalised: batchImages does it.
 */
export interface ImageInput {
  pixels: Uint8Array | Float32Array;
  width: number;
  height: number;
}

export interface ImageBatch {
  /** [N, H, W, 3], normalised, zero-padded bottom/right to a multiple of sizeDivisible. */
  images: tf.Tensor4D;
  /** Each image's own [height, width] inside the padded batch (boxes are clipped to it). */
  sizes: Array<[number, number]>;
}

function checkInput(input: ImageInput, n: number): void {
  const { pixels, width: w, height: h } = input;
  const unit = pixels instanceof Uint8Array ? 'bytes' : pixels instanceof Float32Array ? 'values' : null;
  if (unit == null) fail('batchImages', `image ${n}'s pixels must be a Uint8Array or a Float32Array, but got ${describe(pixels)}.`);
  if (pixels.length !== w * h * 3) fail('batchImages', `image ${n} has ${pixels.length} ${unit}, but ${w}x${h} RGB needs ${w * h * 3}.`);
}

type Normalise = (input: ImageInput, transform: ModelConfig['transform'], out: Float32Array, offset: number, rowStride: number) => void;

/** Bytes: `byte * (1 / (255 std)) - mean / std`, read from a table of the 256 values per channel. */
const normaliseBytes: Normalise = ({ pixels, width: w, height: h }, transform, out, offset, rowStride) => {
  const [t0, t1, t2] = transform.std.map((s, c) => {
    const scale = 1 / (255 * s);
    const shift = -transform.mean[c] / s;
    return Float32Array.from({ length: 256 }, (_, byte) => byte * scale + shift);
  });
  for (let y = 0; y < h; y++) {
    let src = y * w * 3;
    let dst = offset + y * rowStride;
    for (let x = 0; x < w; x++, src += 3, dst += 3) {
      out[dst] = t0[pixels[src]];
      out[dst + 1] = t1[pixels[src + 1]];
      out[dst + 2] = t2[pixels[src + 2]];
    }
  }
};

/** Floats in [0, 1]: torchvision's `(x - mean) / std`, mean and std as float32 tensors. */
const normaliseUnit: Normalise = ({ pixels, width: w, height: h }, transform, out, offset, rowStride) => {
  const [m0, m1, m2] = transform.mean.map(Math.fround);
  const [s0, s1, s2] = transform.std.map(Math.fround);
  for (let y = 0; y < h; y++) {
    let src = y * w * 3;
    let dst = offset + y * rowStride;
    for (let x = 0; x < w; x++, src += 3, dst += 3) {
      out[dst] = (pixels[src] - m0) / s0;
      out[dst + 1] = (pixels[src + 1] - m1) / s1;
      out[dst + 2] = (pixels[src + 2] - m2) / s2;
    }
  }
};

/**
 * torchvision's GeneralizedRCNNTransform after resizing: scale to [0,1], normalise with
 * mean/std (or, with `transform.localContrast`, by local contrast instead), pad every image to the batch's largest size rounded up to sizeDivisible. Built in
 * one typed array: per-image tensor ops would cost more than the arithmetic. Float pixels are
 * normalised as torchvision does, `(x - mean) / std` with float32 mean and std; torchvision
 * normalises before resizing, which rounds differently: within 1e-6 of its batch (the
 * torchvision fixtures in transform.spec.ts).
 */
export function batchImages(inputs: readonly ImageInput[], transform: ModelConfig['transform']): ImageBatch {
  if (inputs.length === 0) fail('batchImages', 'expected at least one image.');
  inputs.forEach(checkInput);
  const divisible = transform.sizeDivisible;
  const height = Math.ceil(Math.max(...inputs.map((i) => i.height)) / divisible) * divisible;
  const width = Math.ceil(Math.max(...inputs.map((i) => i.width)) / divisible) * divisible;
  const out = new Float32Array(inputs.length * height * width * 3);
  const local = transform.localContrast;
  inputs.forEach((input, n) => {
    const offset = n * height * width * 3;
    if (local != null) localContrastNormalise(input.pixels, input.width, input.height, local, out, offset, width * 3);
    else (input.pixels instanceof Uint8Array ? normaliseBytes : normaliseUnit)(input, transform, out, offset, width * 3);
  });
  return { images: tf.tensor4d(out, [inputs.length, height, width, 3]), sizes: inputs.map((i) => [i.height, i.width]) };
}

/**
 * torchvision's `resize_boxes`: [x1, y1, x2, y2] rows of an image of size `from` ([height,
 * width]) moved to one of size `to`, x scaled by `to / from` widths and y by heights, each
 * ratio and product in float32 as torch computes them. Its postprocess maps detections back
 * with from = the resized size, to = the original size.
 */
export function resizeBoxes(boxes: ArrayLike<number>, from: readonly [number, number], to: readonly [number, number]): Float32Array {
  if (boxes.length % 4 !== 0) fail('resizeBoxes', `'boxes' must hold [x1, y1, x2, y2] rows, but got ${boxes.length} values.`);
  for (const [name, size] of [['from', from], ['to', to]] as const) {
    if (!(size?.length === 2 && size.every((s) => s > 0 && Number.isFinite(s)))) fail('resizeBoxes', `'${name}' must be a positive [height, width], but got ${describe(size)}.`);
  }
  const ratioY = Math.fround(to[0] / from[0]);
  const ratioX = Math.fround(to[1] / from[1]);
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = Math.fround(boxes[i]) * ratioX;
    out[i + 1] = Math.fround(boxes[i + 1]) * ratioY;
    out[i + 2] = Math.fround(boxes[i + 2]) * ratioX;
    out[i + 3] = Math.fround(boxes[i + 3]) * ratioY;
  }
  return out;
}
