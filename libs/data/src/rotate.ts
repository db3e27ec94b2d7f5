// The rotation augmentation's geometry: where libvips puts the rotated pixels, the window of
// the image's own size cut from them, and the boxes that follow (on [x1, y1, x2, y2] rows).
import type { RotatedBoxRule } from './types';

/** libvips' VIPS_ROUND_INT: half away from zero. */
const roundInt = (x: number) => (x > 0 ? Math.floor(x + 0.5) : -Math.floor(0.5 - x));

/** Where the rotated image lies in the canvas sharp's `rotate(degrees)` returns. */
export interface RotationWindow {
  /** Size of sharp's (libvips') expanded canvas. */
  canvas: { width: number; height: number };
  /** Top left of the image-sized window in the canvas: negative, or past its far side, where the canvas is smaller (padded). */
  left: number;
  top: number;
  /** Sub-pixel offset of the window's rotation centre from the image's centre, each in [-0.5, 0.5]. */
  shift: [number, number];
}

/**
 * The geometry of libvips' `rotate` (sharp's `rotate(degrees)` with a non-right angle),
 * clockwise on screen: it samples output pixel index q at input index R⁻¹(q + o), R the
 * rotation and o the rounded top left of the rotated [0, w] x [0, h] rectangle's bounding
 * box, whose rounded size is the canvas (vips__transform_set_area). In pixel-edge coordinates
 * (pixel i spans [i, i + 1)) that is p' = R(p - ½) + ½ - o. The window of the image's size
 * nearest to rotating about the image centre c is cut at the rounding of R(c - ½) + ½ - o - c;
 * what rounding leaves is `shift`: the window's pixels are at R(p - c) + c + shift, exactly.
 */
export function rotationWindow(width: number, height: number, degrees: number): RotationWindow {
  const angle = (degrees / 180) * Math.PI;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const xs = [0, cos * width, -sin * height, cos * width - sin * height];
  const ys = [0, sin * width, cos * height, sin * width + cos * height];
  const [left, right, top, bottom] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const cx = width / 2;
  const cy = height / 2;
  const ex = cos * (cx - 0.5) - sin * (cy - 0.5) + 0.5 - roundInt(left) - cx;
  const ey = sin * (cx - 0.5) + cos * (cy - 0.5) + 0.5 - roundInt(top) - cy;
  const wx = Math.round(ex);
  const wy = Math.round(ey);
  return { canvas: { width: roundInt(right - left), height: roundInt(bottom - top) }, left: wx, top: wy, shift: [ex - wx, ey - wy] };
}

/**
 * Boxes of a `width` x `height` image rotated by `degrees` clockwise about its centre (plus
 * `shift`, rotationWindow's): each box becomes the axis-aligned box `rule` gives, clipped to
 * the image, and is dropped when less than `minVisible` of that box's area (or nothing) stays
 * inside. Returns the kept boxes and their indices in the input.
 */
export function rotateBoxes(
  boxes: Float32Array,
  width: number,
  height: number,
  degrees: number,
  minVisible: number,
  shift: readonly [number, number] = [0, 0],
  rule: RotatedBoxRule = 'corners',
): { boxes: Float32Array; keep: Int32Array } {
  const angle = (degrees / 180) * Math.PI;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const cx = width / 2;
  const cy = height / 2;
  const keep: number[] = [];
  const kept: number[] = [];
  for (let i = 0, n = boxes.length / 4; i < n; i++) {
    const [x1, y1, x2, y2] = boxes.subarray(4 * i, 4 * i + 4);
    // The box's centre turns about the image's; its half-extents follow the rule.
    const [mx, my] = [(x1 + x2) / 2 - cx, (y1 + y2) / 2 - cy];
    const [ox, oy] = [cos * mx - sin * my + cx + shift[0], sin * mx + cos * my + cy + shift[1]];
    const [a, b] = [(x2 - x1) / 2, (y2 - y1) / 2];
    const [ac, as, bc, bs] = [Math.abs(a * cos), Math.abs(a * sin), Math.abs(b * cos), Math.abs(b * sin)];
    const [hx, hy] = rule === 'corners' ? [ac + bs, as + bc] : [Math.hypot(ac, bs), Math.hypot(as, bc)];
    const [rx1, rx2, ry1, ry2] = [ox - hx, ox + hx, oy - hy, oy + hy];
    const cx1 = Math.max(rx1, 0);
    const cy1 = Math.max(ry1, 0);
    const cx2 = Math.min(rx2, width);
    const cy2 = Math.min(ry2, height);
    if (cx2 <= cx1 || cy2 <= cy1) continue;
    if ((cx2 - cx1) * (cy2 - cy1) < minVisible * (rx2 - rx1) * (ry2 - ry1)) continue;
    keep.push(i);
    kept.push(cx1, cy1, cx2, cy2);
  }
  return { boxes: Float32Array.from(kept), keep: Int32Array.from(keep) };
}
