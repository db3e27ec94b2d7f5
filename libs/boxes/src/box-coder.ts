import { tensor2d, type Tensor2D } from '@tensorflow/tfjs-core';
import { assertNumber, assertRank, fail } from '@lumen/core';
import { assertBoxes, assertSameLength, readValues } from './validate';

const f32 = Math.fround;

/** Weights (wx, wy, ww, wh) that scale the (dx, dy, dw, dh) deltas. */
export type BoxCoderWeights = [number, number, number, number];

/** RPN deltas are unweighted (torchvision `RPN`). */
export const RPN_BOX_CODER_WEIGHTS: BoxCoderWeights = [1, 1, 1, 1];
/** R-CNN box-head deltas (torchvision `RoIHeads`). */
export const RCNN_BOX_CODER_WEIGHTS: BoxCoderWeights = [10, 10, 5, 5];
/** dw, dh are clamped here before `exp` (torchvision `BoxCoder.bbox_xform_clip`). */
export const DEFAULT_DELTA_CLIP = Math.log(1000 / 16);

function checkWeights(fn: string, weights: unknown): BoxCoderWeights {
  const ok = Array.isArray(weights) && weights.length === 4 && weights.every((w) => typeof w === 'number' && Number.isFinite(w) && w > 0);
  if (!ok) fail(fn, `'weights' must be 4 positive finite numbers [wx, wy, ww, wh], but got ${JSON.stringify(weights)}.`);
  return weights as BoxCoderWeights;
}

/**
 * The deltas [N, 4] = (dx, dy, dw, dh) that move each `reference` box (anchor or
 * proposal) onto its `targets` box (the matched ground truth), so that
 * `decodeBoxes(reference, encodeBoxes(reference, targets)) == targets`.
 *
 * torchvision spells the same thing `BoxCoder(weights).encode_single(targets, reference)`
 * (its `reference_boxes` argument is the ground truth, `proposals` the anchors). Its
 * float32 operations are replayed in order (Math.fround), log rounded from float64.
 */
export function encodeBoxes(reference: Tensor2D, targets: Tensor2D, weights: BoxCoderWeights = RPN_BOX_CODER_WEIGHTS): Tensor2D {
  const fn = 'encodeBoxes';
  assertBoxes(fn, 'reference', reference);
  assertBoxes(fn, 'targets', targets);
  assertSameLength(fn, ['reference', 'targets'], reference, targets);
  const [wx, wy, ww, wh] = checkWeights(fn, weights).map(f32);
  const ref = readValues(fn, 'reference', reference, 4);
  const tgt = readValues(fn, 'targets', targets, 4);
  const out = new Float32Array(ref.length);
  for (let k = 0; k < ref.length; k += 4) {
    const w = f32(ref[k + 2] - ref[k]);
    const h = f32(ref[k + 3] - ref[k + 1]);
    const cx = f32(ref[k] + f32(0.5 * w));
    const cy = f32(ref[k + 1] + f32(0.5 * h));
    const tw = f32(tgt[k + 2] - tgt[k]);
    const th = f32(tgt[k + 3] - tgt[k + 1]);
    const tcx = f32(tgt[k] + f32(0.5 * tw));
    const tcy = f32(tgt[k + 1] + f32(0.5 * th));
    out[k] = f32(wx * f32(tcx - cx)) / w;
    out[k + 1] = f32(wy * f32(tcy - cy)) / h;
    out[k + 2] = ww * f32(Math.log(f32(tw / w)));
    out[k + 3] = wh * f32(Math.log(f32(th / h)));
  }
  return tensor2d(out, [reference.shape[0], 4]);
}

/**
 * Applies deltas to `reference` boxes [N, 4] (torchvision `BoxCoder.decode_single`).
 * `deltas` is [N, 4] or, for per-class regression, [N, 4K] with channel `4k + (dx, dy,
 * dw, dh)`; the result has the deltas' shape. dw and dh are clamped at `clip` (default
 * log(1000/16)) before `exp`, so a wild prediction cannot overflow.
 */
export function decodeBoxes(
  reference: Tensor2D,
  deltas: Tensor2D,
  weights: BoxCoderWeights = RPN_BOX_CODER_WEIGHTS,
  clip: number = DEFAULT_DELTA_CLIP,
): Tensor2D {
  const fn = 'decodeBoxes';
  assertBoxes(fn, 'reference', reference);
  assertRank(fn, 'deltas', deltas, 2);
  if (deltas.shape[1] < 4 || deltas.shape[1] % 4 !== 0) {
    fail(fn, `'deltas' must have shape [N, 4K] (K >= 1), but got shape [${deltas.shape.join(',')}].`);
  }
  assertSameLength(fn, ['reference', 'deltas'], reference, deltas);
  const [wx, wy, ww, wh] = checkWeights(fn, weights).map(f32);
  assertNumber(fn, 'clip', clip, 'a number (the largest dw, dh before exp)', () => true);
  const maxLog = f32(clip);
  const [n, channels] = deltas.shape;
  const ref = readValues(fn, 'reference', reference, 4);
  const d = readValues(fn, 'deltas', deltas, channels);
  const out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    const w = f32(ref[4 * i + 2] - ref[4 * i]);
    const h = f32(ref[4 * i + 3] - ref[4 * i + 1]);
    const cx = f32(ref[4 * i] + f32(0.5 * w));
    const cy = f32(ref[4 * i + 1] + f32(0.5 * h));
    for (let k = i * channels; k < (i + 1) * channels; k += 4) {
      const predCx = f32(f32(f32(d[k] / wx) * w) + cx);
      const predCy = f32(f32(f32(d[k + 1] / wy) * h) + cy);
      const halfW = f32(0.5 * f32(f32(Math.exp(Math.min(f32(d[k + 2] / ww), maxLog))) * w));
      const halfH = f32(0.5 * f32(f32(Math.exp(Math.min(f32(d[k + 3] / wh), maxLog))) * h));
      out[k] = predCx - halfW;
      out[k + 1] = predCy - halfH;
      out[k + 2] = predCx + halfW;
      out[k + 3] = predCy + halfH;
    }
  }
  return tensor2d(out, [n, channels]);
}
