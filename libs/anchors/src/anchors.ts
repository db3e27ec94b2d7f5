import { assertBoxes } from '@lumen/boxes';
import { fail } from '@lumen/core';
import { tensor2d, type Tensor2D } from '@tensorflow/tfjs-core';

const f32 = Math.fround;

export function checkPositiveList(fn: string, name: string, values: unknown): asserts values is number[] {
  const ok = Array.isArray(values) && values.length > 0 && values.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0);
  if (!ok) fail(fn, `'${name}' must be a non-empty array of positive finite numbers, but got ${JSON.stringify(values)}.`);
}

/** torch.round: halves go to the even neighbour (Math.round sends them up). */
function roundHalfToEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The zero-centred anchors [R·S, 4] for every ratio (h/w) and size, ratio-major
 * (torchvision `AnchorGenerator.generate_anchors`): h = size·sqrt(r), w = size/sqrt(r),
 * box `[-w/2, -h/2, w/2, h/2]` rounded half-to-even. Every step is rounded to float32 as
 * torch computes it, so anchors whose half-size lands on .5 round the same way.
 */
export function referenceAnchors(sizes: number[], ratios: number[]): Tensor2D {
  checkPositiveList('referenceAnchors', 'sizes', sizes);
  checkPositiveList('referenceAnchors', 'ratios', ratios);
  const out = new Float32Array(ratios.length * sizes.length * 4);
  let k = 0;
  for (const ratio of ratios) {
    const hRatio = f32(Math.sqrt(f32(ratio)));
    const wRatio = f32(1 / hRatio);
    for (const size of sizes) {
      const halfW = f32(f32(wRatio * f32(size)) / 2);
      const halfH = f32(f32(hRatio * f32(size)) / 2);
      out.set([roundHalfToEven(-halfW), roundHalfToEven(-halfH), roundHalfToEven(halfW), roundHalfToEven(halfH)], 4 * k++);
    }
  }
  return tensor2d(out, [ratios.length * sizes.length, 4]);
}

/**
 * Anchors over a feature map [H·W·A, 4]: each reference anchor [A, 4] shifted to
 * (x·strideX, y·strideY) for every cell, ordered row (y), column (x), anchor — the flatten
 * of an NHWC head output [N, H, W, A] (torchvision `AnchorGenerator.grid_anchors`).
 * `stride` is one number or [strideY, strideX] (torchvision's [stride_height, stride_width]).
 * Written out on a typed array: the shifts' float32 additions are torch's, and tfjs' wasm
 * and cpu backends are slow at the broadcast and stacking this takes in tensor ops.
 */
export function gridAnchors(reference: Tensor2D, height: number, width: number, stride: number | [number, number]): Tensor2D {
  const fn = 'gridAnchors';
  assertBoxes(fn, 'reference', reference);
  for (const [name, v] of [['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || v < 0) fail(fn, `'${name}' must be a non-negative integer, but got ${v}.`);
  }
  const [strideY, strideX] = typeof stride === 'number' ? [stride, stride] : Array.isArray(stride) && stride.length === 2 ? stride : [NaN, NaN];
  if (!(Number.isFinite(strideY) && strideY > 0 && Number.isFinite(strideX) && strideX > 0)) {
    fail(fn, `'stride' must be a positive number or [strideY, strideX], but got ${JSON.stringify(stride)}.`);
  }
  const base = reference.dataSync();
  const nan = base.findIndex(Number.isNaN);
  if (nan >= 0) fail(fn, `'reference' must not contain NaN, but row ${Math.floor(nan / 4)} is NaN.`);
  const count = reference.shape[0];
  const out = new Float32Array(height * width * count * 4);
  let k = 0;
  for (let y = 0; y < height; y++) {
    const shiftY = f32(y * strideY);
    for (let x = 0; x < width; x++) {
      const shiftX = f32(x * strideX);
      for (let j = 0; j < 4 * count; j += 4) {
        out[k++] = shiftX + base[j];
        out[k++] = shiftY + base[j + 1];
        out[k++] = shiftX + base[j + 2];
        out[k++] = shiftY + base[j + 3];
      }
    }
  }
  return tensor2d(out, [height * width * count, 4]);
}
