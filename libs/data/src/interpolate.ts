// torch's F.interpolate(mode='bilinear', align_corners=False, no antialias) on an RGB byte
// image scaled to [0, 1]: what torchvision's GeneralizedRCNNTransform does to an image,
// short of normalisation (decode.ts, `resize: 'torchvision'`). Plain typed-array loops in
// the decode step: no tensors, so no tfjs kernel time on the main thread.
import { assertNumber, describe, fail, isPositiveInteger } from '@lumen/core';

// A module binding, not a global lookup per value (globals are slow in jest's vm contexts).
const fround = Math.fround;

/** `byte / 255` as float32, torchvision's `ToTensor` scaling. */
const UNIT = Float32Array.from({ length: 256 }, (_, b) => b / 255);

/** For each output index of one axis: the two input indices it reads and their weights. */
interface AxisTaps {
  lo: Int32Array;
  hi: Int32Array;
  wLo: Float32Array;
  wHi: Float32Array;
}

/**
 * torch's upsample_bilinear2d indices and weights, as torch 1.13's CPU kernel makes them (read
 * back weight by weight by interpolating a 0, 1, 0, 1… row): a float32 ratio in/out
 * (recompute_scale_factor=True passes no scale), the source `ratio * (i + 0.5) - 0.5` in
 * double clamped at 0, the upper weight its fraction rounded to float32 and the lower
 * `1 - upper` in float32, the upper tap clamped to the last index. An axis whose size does
 * not change is copied, as torch does.
 */
function axisTaps(inSize: number, outSize: number): AxisTaps {
  const taps: AxisTaps = { lo: new Int32Array(outSize), hi: new Int32Array(outSize), wLo: new Float32Array(outSize), wHi: new Float32Array(outSize) };
  const ratio = Math.fround(inSize / outSize);
  for (let i = 0; i < outSize; i++) {
    if (inSize === outSize) {
      taps.lo[i] = i;
      taps.hi[i] = i;
      taps.wLo[i] = 1;
      continue;
    }
    const source = Math.max(0, ratio * (i + 0.5) - 0.5);
    const lo = Math.floor(source);
    const wHi = Math.fround(source - lo);
    taps.lo[i] = lo;
    taps.hi[i] = lo < inSize - 1 ? lo + 1 : lo;
    taps.wHi[i] = wHi;
    taps.wLo[i] = Math.fround(1 - wHi);
  }
  return taps;
}

/**
 * RGB bytes (HWC, width x height) scaled to [0, 1] and resized to outWidth x outHeight by
 * torch's bilinear interpolation, as float32 HWC, bit for bit as torch 1.13's CPU kernel
 * (AVX2 build) on a contiguous CHW image. Separable in its order: each input row is
 * interpolated along x into float32, then pairs of rows along y; only the two rows the
 * current output row reads are kept. Each step is `a * wLo + fround(b * wHi)` rounded to
 * float32: the fused multiply-add the compiler makes of torch's `t0 * w0 + t1 * w1`.
 */
export function interpolateBilinear(pixels: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Float32Array {
  const sizes = { width, height, outWidth, outHeight };
  for (const [name, value] of Object.entries(sizes)) assertNumber('interpolateBilinear', name, value, 'a positive integer', isPositiveInteger);
  if (!(pixels instanceof Uint8Array) || pixels.length !== width * height * 3) {
    fail('interpolateBilinear', `'pixels' must be a Uint8Array of ${width}x${height} RGB (${width * height * 3} bytes), but got ${pixels instanceof Uint8Array ? `${pixels.length} bytes` : describe(pixels)}.`);
  }
  const xTaps = axisTaps(width, outWidth);
  const yTaps = axisTaps(height, outHeight);
  const rowLength = outWidth * 3;
  const rows = [new Float32Array(rowLength), new Float32Array(rowLength)];
  const held = [-1, -1];
  const interpolateRow = (y: number, into: Float32Array) => {
    const base = y * width * 3;
    for (let x = 0, o = 0; x < outWidth; x++, o += 3) {
      const lo = base + xTaps.lo[x] * 3;
      const hi = base + xTaps.hi[x] * 3;
      const wLo = xTaps.wLo[x];
      const wHi = xTaps.wHi[x];
      into[o] = UNIT[pixels[lo]] * wLo + fround(UNIT[pixels[hi]] * wHi);
      into[o + 1] = UNIT[pixels[lo + 1]] * wLo + fround(UNIT[pixels[hi + 1]] * wHi);
      into[o + 2] = UNIT[pixels[lo + 2]] * wLo + fround(UNIT[pixels[hi + 2]] * wHi);
    }
  };
  // Rows are read in increasing order: a row not held replaces the one the other tap does not need.
  const row = (y: number, keep: number): Float32Array => {
    const slot = held[0] === y ? 0 : held[1] === y ? 1 : held[0] === keep ? 1 : 0;
    if (held[slot] !== y) {
      interpolateRow(y, rows[slot]);
      held[slot] = y;
    }
    return rows[slot];
  };
  const out = new Float32Array(outHeight * rowLength);
  for (let y = 0; y < outHeight; y++) {
    const lo = row(yTaps.lo[y], yTaps.hi[y]);
    const hi = row(yTaps.hi[y], yTaps.lo[y]);
    const wLo = yTaps.wLo[y];
    const wHi = yTaps.wHi[y];
    const offset = y * rowLength;
    for (let i = 0; i < rowLength; i++) out[offset + i] = lo[i] * wLo + fround(hi[i] * wHi);
  }
  return out;
}
