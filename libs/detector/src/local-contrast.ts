import { fail } from '@lumen/core';

/** `model.transform.localContrast`: the window's radius (px) and the noise floor (in [0, 1] units). */
export interface LocalContrast {
  radius: number;
  floor: number;
}

/**
 * Local contrast normalisation of one RGB HWC image (bytes, or floats in [0, 1]): each value
 * minus its channel's mean over the (2 radius + 1)² window around it (clipped to the image),
 * divided by sqrt(v + floor²), v the window's variance averaged over the three channels. Ink
 * 25 grey levels from its canvas then looks like ink 200 away, and hue-only ink keeps its
 * per-channel difference; `floor` keeps flat, noisy areas from being blown up to unit variance.
 * Window sums slide along rows and columns, so the cost does not grow with `radius`.
 * Writes row y of the result at `out[offset + y * rowStride ...]`.
 */
export function localContrastNormalise(
  pixels: Uint8Array | Float32Array,
  width: number,
  height: number,
  { radius, floor }: LocalContrast,
  out: Float32Array,
  offset = 0,
  rowStride = width * 3,
): void {
  if (!(Number.isInteger(radius) && radius >= 1)) fail('localContrastNormalise', `'radius' must be an integer >= 1, but got ${radius}.`);
  if (!(floor > 0 && Number.isFinite(floor))) fail('localContrastNormalise', `'floor' must be a positive number, but got ${floor}.`);
  const scale = pixels instanceof Uint8Array ? 1 / 255 : 1;
  // Rows are streamed: per column, the sums of x and x² over the window's rows (6 per column,
  // float64 so adding and removing rows does not drift), then a sliding sum along the row.
  const columns = new Float64Array(width * 6);
  const addRow = (y: number, sign: number) => {
    const base = y * width * 3;
    for (let i = 0, j = 0; i < width * 3; i++, j += 2) {
      const v = pixels[base + i] * scale;
      columns[j] += sign * v;
      columns[j + 1] += sign * v * v;
    }
  };
  for (let y = 0; y < Math.min(radius, height); y++) addRow(y, 1);
  const floor2 = floor * floor;
  for (let y = 0; y < height; y++) {
    if (y + radius < height) addRow(y + radius, 1);
    if (y - radius - 1 >= 0) addRow(y - radius - 1, -1);
    const rows = Math.min(height, y + radius + 1) - Math.max(0, y - radius);
    let s0 = 0, q0 = 0, s1 = 0, q1 = 0, s2 = 0, q2 = 0; // prettier-ignore
    for (let j = 0; j < Math.min(radius, width) * 6; j += 6) {
      s0 += columns[j]; q0 += columns[j + 1]; s1 += columns[j + 2]; q1 += columns[j + 3]; s2 += columns[j + 4]; q2 += columns[j + 5]; // prettier-ignore
    }
    const src = y * width * 3;
    const dst = offset + y * rowStride;
    for (let x = 0; x < width; x++) {
      if (x + radius < width) {
        const j = (x + radius) * 6;
        s0 += columns[j]; q0 += columns[j + 1]; s1 += columns[j + 2]; q1 += columns[j + 3]; s2 += columns[j + 4]; q2 += columns[j + 5]; // prettier-ignore
      }
      if (x - radius - 1 >= 0) {
        const j = (x - radius - 1) * 6;
        s0 -= columns[j]; q0 -= columns[j + 1]; s1 -= columns[j + 2]; q1 -= columns[j + 3]; s2 -= columns[j + 4]; q2 -= columns[j + 5]; // prettier-ignore
      }
      const n = rows * (Math.min(width, x + radius + 1) - Math.max(0, x - radius));
      const m0 = s0 / n;
      const m1 = s1 / n;
      const m2 = s2 / n;
      // Rounding can take E[x²] - E[x]² a hair below zero on flat areas.
      const variance = Math.max(0, q0 / n - m0 * m0) + Math.max(0, q1 / n - m1 * m1) + Math.max(0, q2 / n - m2 * m2);
      const inverse = 1 / Math.sqrt(variance / 3 + floor2);
      const o = x * 3;
      out[dst + o] = (pixels[src + o] * scale - m0) * inverse;
      out[dst + o + 1] = (pixels[src + o + 1] * scale - m1) * inverse;
      out[dst + o + 2] = (pixels[src + o + 2] * scale - m2) * inverse;
    }
  }
}
