// Box validation and the geometric transforms of augmentation, on typed arrays of
// [x1, y1, x2, y2] rows (width = x2 - x1, no +1; docs/architecture.md §4).

export type BoxProblem = 'nan-coordinate' | 'degenerate-box' | 'box-outside-image';

export type BoxCheck =
  | { ok: true; clipped: boolean; box: [number, number, number, number] }
  | { ok: false; reason: BoxProblem; message: string };

/**
 * Checks a box against its image (`message` describes the problem, to follow a
 * description of the box). Non-finite coordinates, x2 <= x1 or y2 <= y1, and a box
 * whose part inside the image is under a pixel wide or high are rejected; a box reaching
 * past the image but overlapping it by at least a pixel each way is clipped (`clipped`).
 */
export function checkBox(x1: number, y1: number, x2: number, y2: number, width: number, height: number): BoxCheck {
  if (![x1, y1, x2, y2].every(Number.isFinite)) {
    return { ok: false, reason: 'nan-coordinate', message: 'has a non-numeric coordinate' };
  }
  if (x2 <= x1 || y2 <= y1) {
    return { ok: false, reason: 'degenerate-box', message: `has ${x2 <= x1 ? 'x2 <= x1' : 'y2 <= y1'}` };
  }
  if (x1 >= 0 && y1 >= 0 && x2 <= width && y2 <= height) return { ok: true, clipped: false, box: [x1, y1, x2, y2] };
  const box: [number, number, number, number] = [Math.max(x1, 0), Math.max(y1, 0), Math.min(x2, width), Math.min(y2, height)];
  if (box[2] - box[0] < 1 || box[3] - box[1] < 1) {
    return {
      ok: false,
      reason: 'box-outside-image',
      message: `lies outside the ${width}x${height} image (overlap under a pixel)`,
    };
  }
  return { ok: true, clipped: true, box };
}

/**
 * Boxes scaled by sx in x and sy in y (torchvision `resize_boxes`); with the scaled image's
 * size, clamped to it (a box on the border can land a float32 ulp outside).
 */
export function scaleBoxes(boxes: Float32Array, sx: number, sy: number, width = Infinity, height = Infinity): Float32Array {
  const out = new Float32Array(boxes.length);
  const w = Math.fround(width);
  const h = Math.fround(height);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = Math.min(boxes[i] * sx, w);
    out[i + 1] = Math.min(boxes[i + 1] * sy, h);
    out[i + 2] = Math.min(boxes[i + 2] * sx, w);
    out[i + 3] = Math.min(boxes[i + 3] * sy, h);
  }
  return out;
}

/** Boxes of an image of `width` mirrored left-right: x1' = width - x2, x2' = width - x1. */
export function flipBoxes(boxes: Float32Array, width: number): Float32Array {
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = width - boxes[i + 2];
    out[i + 1] = boxes[i + 1];
    out[i + 2] = width - boxes[i];
    out[i + 3] = boxes[i + 3];
  }
  return out;
}

export interface Window {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Boxes seen through a crop window: each box is intersected with the window and moved to
 * its coordinates; a box keeping less than `minVisible` of its area (or nothing) is dropped.
 * Returns the kept boxes and their indices in the input.
 */
export function cropBoxes(boxes: Float32Array, window: Window, minVisible: number): { boxes: Float32Array; keep: Int32Array } {
  const keep: number[] = [];
  const kept: number[] = [];
  const right = window.left + window.width;
  const bottom = window.top + window.height;
  for (let i = 0, n = boxes.length / 4; i < n; i++) {
    const [x1, y1, x2, y2] = boxes.subarray(4 * i, 4 * i + 4);
    const cx1 = Math.max(x1, window.left);
    const cy1 = Math.max(y1, window.top);
    const cx2 = Math.min(x2, right);
    const cy2 = Math.min(y2, bottom);
    if (cx2 <= cx1 || cy2 <= cy1) continue;
    const area = (x2 - x1) * (y2 - y1);
    if ((cx2 - cx1) * (cy2 - cy1) < minVisible * area) continue;
    keep.push(i);
    kept.push(cx1 - window.left, cy1 - window.top, cx2 - window.left, cy2 - window.top);
  }
  return { boxes: Float32Array.from(kept), keep: Int32Array.from(keep) };
}

/** Picks rows `keep` of a per-box array with `stride` values per box. */
export function pickRows<T extends Float32Array | Int32Array | Uint8Array>(values: T, keep: Int32Array, stride = 1): T {
  const out = new (values.constructor as new (n: number) => T)(keep.length * stride);
  for (let i = 0; i < keep.length; i++) for (let k = 0; k < stride; k++) out[i * stride + k] = values[keep[i] * stride + k];
  return out;
}
