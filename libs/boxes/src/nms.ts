import { tensor1d, type Tensor1D, type Tensor2D } from '@tensorflow/tfjs-core';
import { assertRank, fail } from '@lumen/core';
import { assertBoxes, assertIouThreshold, assertNoNaN, assertSameLength, resolveMaxOutput } from './validate';

// Greedy NMS with torchvision's semantics — boxes visited in decreasing score order, a box
// is dropped when its IoU with an already *kept* box is > iouThreshold — computed on typed
// arrays. Two things make it several times faster than torchvision's loop, which tests
// every later box against every kept one:
//  - it stops once `maxOutput` boxes are kept (the RPN keeps 2 000 of 12 000);
//  - each box is tested only against kept boxes whose centres are near enough for the IoU
//    to exceed the threshold, found in a uniform grid of the kept boxes' centres.
// IoU arithmetic replays torchvision's float32 roundings (Math.fround), so a pair sitting
// exactly on the threshold is decided the same way.

const f32 = Math.fround;

/** 2^21: rank keys pack an index below this next to a 32-bit score key in a double. */
const INDEX_SPAN = 2097152;
const scoreBits = new Uint32Array(1);
const scoreFloat = new Float32Array(scoreBits.buffer);

/**
 * Indices by decreasing score, equal scores in increasing index (torchvision's CPU kernel
 * sorts stably). Scores are float32, so each maps to an order-preserving uint32 that
 * shares one exact double with the index, and a native Float64Array sort does the rest.
 */
export function rankByScore(scores: ArrayLike<number>): Int32Array {
  const n = scores.length;
  const order = new Int32Array(n);
  if (n >= INDEX_SPAN) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => scores[b] - scores[a] || a - b);
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    scoreFloat[0] = scores[i] + 0; // -0 ranks with +0
    const bits = scoreBits[0];
    const ascending = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    keys[i] = (0xffffffff - ascending) * INDEX_SPAN + i;
  }
  keys.sort();
  for (let p = 0; p < n; p++) order[p] = keys[p] % INDEX_SPAN;
  return order;
}

/** Box columns in rank (score) order, float32 values held as doubles. */
interface RankedBoxes {
  x1: Float64Array;
  y1: Float64Array;
  x2: Float64Array;
  y2: Float64Array;
  /** torchvision's `(x2 - x1) * (y2 - y1)` in float32. */
  area: Float64Array;
}

function rankBoxes(fn: string, boxes: ArrayLike<number>, order: Int32Array): RankedBoxes {
  const n = order.length;
  const r: RankedBoxes = { x1: new Float64Array(n), y1: new Float64Array(n), x2: new Float64Array(n), y2: new Float64Array(n), area: new Float64Array(n) };
  for (let p = 0; p < n; p++) {
    const i = order[p];
    const x1 = boxes[4 * i];
    const y1 = boxes[4 * i + 1];
    const x2 = boxes[4 * i + 2];
    const y2 = boxes[4 * i + 3];
    if (!Number.isFinite(x1 + y1 + x2 + y2)) fail(fn, `'boxes' must be finite, but row ${i} is [${x1}, ${y1}, ${x2}, ${y2}].`);
    r.x1[p] = x1;
    r.y1[p] = y1;
    r.x2[p] = x2;
    r.y2[p] = y2;
    r.area[p] = f32(f32(x2 - x1) * f32(y2 - y1));
  }
  return r;
}

/**
 * Greedy suppression over `members` (ranks, ascending); returns the kept ranks, ascending,
 * at most `maxOutput` of them.
 *
 * Why the grid search finds every box that can suppress q: IoU in 2-D is at most the IoU
 * of the x-intervals (the heights' overlap is <= both heights), and two intervals of
 * lengths m <= M whose IoU exceeds t have M < m/t and centres less than m·(1 - t)/(2t)
 * apart (the extreme: the short one at an end of the long one). So a suppressor's centre
 * is within w_q·(1 - t)/(2t) of q's in x, likewise in y — a reach that depends on q
 * alone and is tight. t is lowered by 1e-6 first, covering float32 rounding of the IoU.
 */
function suppress(r: RankedBoxes, members: Int32Array, iouThreshold: number, maxOutput: number): Int32Array {
  const n = members.length;
  const capacity = Math.min(n, maxOutput);
  const kept = new Int32Array(capacity);
  if (capacity === 0) return kept;

  const t = iouThreshold - 1e-6;
  const reach = t > 0 ? (1 - t) / (2 * t) : Infinity;
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  let sumW = 0;
  let sumH = 0;
  for (let k = 0; k < n; k++) {
    const p = members[k];
    const cx = (r.x1[p] + r.x2[p]) / 2;
    const cy = (r.y1[p] + r.y2[p]) / 2;
    minX = Math.min(minX, cx);
    maxX = Math.max(maxX, cx);
    minY = Math.min(minY, cy);
    maxY = Math.max(maxY, cy);
    sumW += Math.abs(r.x2[p] - r.x1[p]);
    sumH += Math.abs(r.y2[p] - r.y1[p]);
  }
  // Cells about a typical reach: a query spans a few cells; at most 256 x 256 cells.
  const spanX = maxX - minX;
  const spanY = maxY - minY;
  const cellW = Number.isFinite(reach) ? Math.max((reach * sumW) / n, spanX / 256, 1e-30) : spanX + 1;
  const cellH = Number.isFinite(reach) ? Math.max((reach * sumH) / n, spanY / 256, 1e-30) : spanY + 1;
  const cols = Math.min(256, Math.floor(spanX / cellW) + 1);
  const rows = Math.min(256, Math.floor(spanY / cellH) + 1);
  const cellOf = (v: number, min: number, size: number, count: number) => Math.min(count - 1, Math.max(0, Math.floor((v - min) / size)));

  // Kept boxes: compact copies (cache-friendly) chained per grid cell in keep order.
  const head = new Int32Array(cols * rows).fill(-1);
  const tail = new Int32Array(cols * rows);
  const next = new Int32Array(capacity);
  const kx1 = new Float64Array(capacity);
  const ky1 = new Float64Array(capacity);
  const kx2 = new Float64Array(capacity);
  const ky2 = new Float64Array(capacity);
  const kArea = new Float64Array(capacity);
  let count = 0;

  for (let k = 0; k < n && count < capacity; k++) {
    const p = members[k];
    const x1 = r.x1[p];
    const y1 = r.y1[p];
    const x2 = r.x2[p];
    const y2 = r.y2[p];
    const area = r.area[p];
    const cx = (x1 + x2) / 2;
    const cy = (y1 + y2) / 2;
    const rx = (x2 - x1) * reach;
    const ry = (y2 - y1) * reach;
    let suppressed = false;
    // An inverted box (x2 < x1) intersects nothing, so nothing can suppress it.
    if (count > 0 && rx >= 0 && ry >= 0) {
      const c0 = cellOf(cx - rx, minX, cellW, cols);
      const c1 = cellOf(cx + rx, minX, cellW, cols);
      const r0 = cellOf(cy - ry, minY, cellH, rows);
      const r1 = cellOf(cy + ry, minY, cellH, rows);
      search: for (let row = r0; row <= r1; row++) {
        for (let col = c0; col <= c1; col++) {
          for (let j = head[row * cols + col]; j >= 0; j = next[j]) {
            const w = f32(Math.min(x2, kx2[j]) - Math.max(x1, kx1[j]));
            if (w <= 0) continue;
            const h = f32(Math.min(y2, ky2[j]) - Math.max(y1, ky1[j]));
            if (h <= 0) continue;
            const inter = f32(w * h);
            if (f32(inter / f32(f32(kArea[j] + area) - inter)) > iouThreshold) {
              suppressed = true;
              break search;
            }
          }
        }
      }
    }
    if (suppressed) continue;
    kept[count] = p;
    kx1[count] = x1;
    ky1[count] = y1;
    kx2[count] = x2;
    ky2[count] = y2;
    kArea[count] = area;
    next[count] = -1;
    const cell = cellOf(cy, minY, cellH, rows) * cols + cellOf(cx, minX, cellW, cols);
    if (head[cell] < 0) head[cell] = count;
    else next[tail[cell]] = count;
    tail[cell] = count;
    count++;
  }
  return kept.subarray(0, count);
}

function checkInputs(fn: string, boxes: Tensor2D, scores: Tensor1D, iouThreshold: number): void {
  assertBoxes(fn, 'boxes', boxes);
  assertRank(fn, 'scores', scores, 1);
  assertSameLength(fn, ['boxes', 'scores'], boxes, scores);
  assertIouThreshold(fn, iouThreshold);
}

function indicesOf(order: Int32Array, ranks: Int32Array): Tensor1D {
  const out = new Int32Array(ranks.length);
  for (let k = 0; k < ranks.length; k++) out[k] = order[ranks[k]];
  return tensor1d(out, 'int32');
}

/**
 * Non-maximum suppression (torchvision `ops.nms`): int32 indices of the kept boxes in
 * decreasing score order (equal scores: lower index first). A box is dropped when its IoU
 * with a kept box is > `iouThreshold`. `maxOutput` keeps only the first that many —
 * `nms(...)[:maxOutput]` in torchvision, but it also stops the search there.
 */
export async function nms(boxes: Tensor2D, scores: Tensor1D, iouThreshold: number, maxOutput?: number): Promise<Tensor1D> {
  checkInputs('nms', boxes, scores, iouThreshold);
  const [boxData, scoreData] = await Promise.all([boxes.data(), scores.data()]);
  return nmsOfValues(boxData, scoreData, iouThreshold, resolveMaxOutput('nms', maxOutput, scores.shape[0]));
}

/**
 * `nms` reading its inputs synchronously (`dataSync`): for code that must not await, such as
 * proposal generation inside a gradient tape.
 */
export function nmsSync(boxes: Tensor2D, scores: Tensor1D, iouThreshold: number, maxOutput?: number): Tensor1D {
  checkInputs('nmsSync', boxes, scores, iouThreshold);
  return nmsOfValues(boxes.dataSync(), scores.dataSync(), iouThreshold, resolveMaxOutput('nmsSync', maxOutput, scores.shape[0]));
}

function nmsOfValues(boxData: ArrayLike<number>, scoreData: ArrayLike<number>, iouThreshold: number, limit: number): Tensor1D {
  assertNoNaN('nms', 'scores', scoreData);
  const order = rankByScore(scoreData);
  const ranked = rankBoxes('nms', boxData, order);
  const all = new Int32Array(order.length);
  for (let p = 0; p < all.length; p++) all[p] = p;
  return indicesOf(order, suppress(ranked, all, iouThreshold, limit));
}

/**
 * NMS within each group (class) separately, never across groups (torchvision
 * `ops.batched_nms`); `groups` holds one id per box (int32 or float32). Indices are int32
 * in decreasing score order over all groups, at most `maxOutput` of them.
 *
 * Runs NMS per group (torchvision's path above 1 000 boxes) rather than offsetting the
 * boxes per group (its path below), which shifts float32 coordinates by large amounts and
 * so rounds IoUs differently from the per-group answer.
 */
export async function batchedNms(
  boxes: Tensor2D,
  scores: Tensor1D,
  groups: Tensor1D,
  iouThreshold: number,
  maxOutput?: number,
): Promise<Tensor1D> {
  checkInputs('batchedNms', boxes, scores, iouThreshold);
  assertRank('batchedNms', 'groups', groups, 1, ['int32', 'float32']);
  assertSameLength('batchedNms', ['boxes', 'groups'], boxes, groups);
  const [boxData, scoreData, groupData] = await Promise.all([boxes.data(), scores.data(), groups.data()]);
  return batchedNmsOfValues(boxData, scoreData, groupData, iouThreshold, resolveMaxOutput('batchedNms', maxOutput, scores.shape[0]));
}

/** `batchedNms` reading its inputs synchronously (`dataSync`). */
export function batchedNmsSync(boxes: Tensor2D, scores: Tensor1D, groups: Tensor1D, iouThreshold: number, maxOutput?: number): Tensor1D {
  checkInputs('batchedNmsSync', boxes, scores, iouThreshold);
  assertRank('batchedNmsSync', 'groups', groups, 1, ['int32', 'float32']);
  assertSameLength('batchedNmsSync', ['boxes', 'groups'], boxes, groups);
  const limit = resolveMaxOutput('batchedNmsSync', maxOutput, scores.shape[0]);
  return batchedNmsOfValues(boxes.dataSync(), scores.dataSync(), groups.dataSync(), iouThreshold, limit);
}

function batchedNmsOfValues(
  boxData: ArrayLike<number>,
  scoreData: ArrayLike<number>,
  groupData: ArrayLike<number>,
  iouThreshold: number,
  limit: number,
): Tensor1D {
  assertNoNaN('batchedNms', 'scores', scoreData);
  assertNoNaN('batchedNms', 'groups', groupData);
  const order = rankByScore(scoreData);
  const ranked = rankBoxes('batchedNms', boxData, order);

  // Each group's ranks, ascending; then one NMS per group.
  const sizes = new Map<number, number>();
  for (let p = 0; p < order.length; p++) {
    const g = groupData[order[p]];
    sizes.set(g, (sizes.get(g) ?? 0) + 1);
  }
  const members = new Map<number, { ranks: Int32Array; filled: number }>();
  for (const [g, size] of sizes) members.set(g, { ranks: new Int32Array(size), filled: 0 });
  for (let p = 0; p < order.length; p++) {
    const m = members.get(groupData[order[p]]);
    if (m != null) m.ranks[m.filled++] = p;
  }
  const keptPerGroup = [...members.values()].map((m) => suppress(ranked, m.ranks, iouThreshold, limit));

  // Ranks are global score positions: merging the groups is a numeric sort.
  const kept = new Int32Array(keptPerGroup.reduce((s, k) => s + k.length, 0));
  let offset = 0;
  for (const k of keptPerGroup) {
    kept.set(k, offset);
    offset += k.length;
  }
  kept.sort();
  return indicesOf(order, kept.subarray(0, limit));
}
