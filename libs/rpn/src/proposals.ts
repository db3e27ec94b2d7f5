import { batchedNmsSync, clipBoxes, decodeBoxes, removeSmallBoxes, RPN_BOX_CODER_WEIGHTS } from '@lumen/boxes';
import { assertImageSizes, assertNumber, assertOptions, assertTensor, fail, isFraction, isPositiveInteger } from '@lumen/core';
import { tensor1d, tensor2d, tidy, type Tensor1D, type Tensor2D, type Tensor4D } from '@tensorflow/tfjs-core';
import { anchorsData, type AnchorsInput } from './anchors-input';
import { levelLayout, levelList, type LevelLayout, type LevelTensors } from './levels';
import { topIndices } from './top-k';

const f32 = Math.fround;

export interface ProposalOptions {
  /** Best-scoring anchors decoded per image and level before NMS (torchvision train 2000 / test 1000). */
  preNmsTopN: number;
  /** Proposals kept per image after NMS, over all levels (train 2000 / test 1000). */
  postNmsTopN: number;
  /** NMS IoU threshold (0.7). */
  nmsThresh?: number;
  /** Boxes with a side below this (after clipping) are dropped (1e-3). */
  minSize?: number;
  /** Proposals scoring below this probability are dropped (0: none). */
  scoreThresh?: number;
}

export interface Proposals {
  /** [P, 4] boxes in the image's pixels, clipped to its size, in decreasing score order. */
  boxes: Tensor2D;
  /** [P] objectness probabilities (sigmoid; softmax: the foreground probability). */
  scores: Tensor1D;
}

export const DEFAULT_PROPOSAL_OPTIONS = { nmsThresh: 0.7, minSize: 1e-3, scoreThresh: 0 };

type Checked = Required<ProposalOptions> & LevelLayout & { levelStarts: number[] };

function check(fn: string, objectness: unknown, deltas: unknown, anchors: unknown, imageSizes: unknown, options: unknown): Checked {
  const layout = levelLayout(fn, objectness, deltas, (level) => {
    const [n, h, w, c] = level.objectness.shape;
    const [dn, dh, dw, dc] = level.deltas.shape;
    if (dn !== n || dh !== h || dw !== w || dc % 4 !== 0 || dc === 0) {
      fail(fn, `'${level.deltasName}' must be [N, H, W, 4A] beside ${level.objectnessName} [${level.objectness.shape.join(',')}], but got [${level.deltas.shape.join(',')}].`);
    }
    const a = dc / 4;
    if (c !== a && c !== 2 * a) {
      fail(fn, `'${level.objectnessName}' must have A (sigmoid) or 2A (softmax) channels for A = ${a} anchors per location, but got ${c}.`);
    }
  });
  if (!(anchors instanceof Float32Array)) assertTensor(fn, 'anchors', anchors, 2);
  const rows = anchors instanceof Float32Array ? anchors.length / 4 : (anchors as Tensor2D).shape[0];
  const k = layout.anchorsPerImage;
  if (rows !== k) {
    const counts = layout.levels.map(({ height: h, width: w, anchorsPerLocation: a }) => `${h}·${w}·${a}`);
    const formula = counts.length === 1 ? `H·W·A = ${counts[0]}` : `Σ H·W·A = ${counts.join(' + ')}`;
    fail(fn, `'anchors' must have ${formula} = ${k} rows (one per head output${counts.length === 1 ? '' : ', level after level'}), but got ${rows}.`);
  }
  assertImageSizes(fn, imageSizes, layout.n);
  assertOptions(fn, options, 'preNmsTopN, postNmsTopN, nmsThresh?, minSize?, scoreThresh?');
  const o = { ...DEFAULT_PROPOSAL_OPTIONS, ...options } as Required<ProposalOptions>;
  assertNumber(fn, 'preNmsTopN', o.preNmsTopN, 'a positive integer', isPositiveInteger);
  assertNumber(fn, 'postNmsTopN', o.postNmsTopN, 'a positive integer', isPositiveInteger);
  assertNumber(fn, 'nmsThresh', o.nmsThresh, 'a number in [0, 1]', isFraction);
  assertNumber(fn, 'minSize', o.minSize, 'a non-negative number', (v) => v >= 0);
  assertNumber(fn, 'scoreThresh', o.scoreThresh, 'a number', () => true);
  const levelStarts: number[] = [];
  let start = 0;
  for (const level of layout.levels) {
    levelStarts.push(start);
    start += level.count;
  }
  return { ...o, ...layout, levelStarts };
}

/** Row `from` of [*, 4] `source` into row `to` of `target` (no subarray views: this runs 10^4 times). */
function copyBox(source: ArrayLike<number>, from: number, target: Float32Array, to: number): void {
  target[4 * to] = source[4 * from];
  target[4 * to + 1] = source[4 * from + 1];
  target[4 * to + 2] = source[4 * from + 2];
  target[4 * to + 3] = source[4 * from + 3];
}

/** torch's float32 `sigmoid`, operation by operation. */
function sigmoid(x: number): number {
  return f32(1 / f32(1 + f32(Math.exp(-x))));
}

/**
 * One image's proposals. `logits[l]` and `deltas[l]` are the image's scores and deltas on
 * level l, `anchors` every level's, concatenated.
 */
function filterImage(o: Checked, logits: Float32Array[], deltas: Float32Array[], anchors: Float32Array, [height, width]: readonly [number, number]): Proposals {
  // The best preNmsTopN of each level, level after level (torchvision `_get_top_n_idx`).
  const tops = logits.map((levelLogits) => topIndices(levelLogits, o.preNmsTopN));
  const t = tops.reduce((sum, top) => sum + top.length, 0);
  const reference = new Float32Array(t * 4);
  const selected = new Float32Array(t * 4);
  const selectedLogits = new Float32Array(t);
  const levelOf = new Int32Array(t);
  let j = 0;
  tops.forEach((top, l) => {
    for (let p = 0; p < top.length; p++, j++) {
      const i = top[p];
      copyBox(anchors, o.levelStarts[l] + i, reference, j);
      copyBox(deltas[l], i, selected, j);
      selectedLogits[j] = logits[l][i];
      levelOf[j] = l;
    }
  });
  return tidy(() => {
    const clipped = clipBoxes(decodeBoxes(tensor2d(reference, [t, 4]), tensor2d(selected, [t, 4]), RPN_BOX_CODER_WEIGHTS), height, width);
    const large = removeSmallBoxes(clipped, o.minSize).dataSync();
    const boxes = clipped.dataSync();
    // torch compares the float32 scores with the threshold in float32.
    const threshold = f32(o.scoreThresh);
    const candidates = new Float32Array(large.length * 4);
    const scores = new Float32Array(large.length);
    const levels = new Int32Array(large.length);
    let m = 0;
    for (let q = 0; q < large.length; q++) {
      const r = large[q];
      const score = sigmoid(selectedLogits[r]);
      if (!(score >= threshold)) continue;
      copyBox(boxes, r, candidates, m);
      scores[m] = score;
      levels[m++] = levelOf[r];
    }
    // NMS within each level, never across (torchvision's `batched_nms` by level).
    const keep = batchedNmsSync(
      tensor2d(candidates.subarray(0, 4 * m), [m, 4]),
      tensor1d(scores.subarray(0, m)),
      tensor1d(levels.subarray(0, m), 'int32'),
      o.nmsThresh,
      o.postNmsTopN,
    ).dataSync();
    const outBoxes = new Float32Array(keep.length * 4);
    const outScores = new Float32Array(keep.length);
    for (let q = 0; q < keep.length; q++) {
      copyBox(candidates, keep[q], outBoxes, q);
      outScores[q] = scores[keep[q]];
    }
    return { boxes: tensor2d(outBoxes, [keep.length, 4]), scores: tensor1d(outScores) };
  });
}

function filterAll(fn: string, o: Checked, objectness: Float32Array[], deltas: Float32Array[], anchors: Float32Array, imageSizes: ReadonlyArray<readonly [number, number]>): Proposals[] {
  const out: Proposals[] = [];
  try {
    for (let b = 0; b < o.n; b++) {
      const logits = o.levels.map(({ count: k }, l) => {
        // One score per anchor: the logit, or for softmax fg − bg (sigmoid(fg − bg) is the
        // softmax's foreground probability).
        let levelLogits: Float32Array;
        if (o.softmax) {
          levelLogits = new Float32Array(k);
          const base = 2 * k * b;
          for (let i = 0; i < k; i++) levelLogits[i] = objectness[l][base + 2 * i + 1] - objectness[l][base + 2 * i];
        } else {
          levelLogits = objectness[l].subarray(k * b, k * (b + 1));
        }
        const name = o.levels.length === 1 ? 'objectness' : `objectness[${l}]`;
        for (let i = 0; i < k; i++) if (Number.isNaN(levelLogits[i])) fail(fn, `'${name}' must not contain NaN, but image ${b}, anchor ${i} is NaN.`);
        return levelLogits;
      });
      const imageDeltas = o.levels.map(({ count: k }, l) => deltas[l].subarray(4 * k * b, 4 * k * (b + 1)));
      out.push(filterImage(o, logits, imageDeltas, anchors, imageSizes[b]));
    }
  } catch (error) {
    for (const p of out) {
      p.boxes.dispose();
      p.scores.dispose();
    }
    throw error;
  }
  return out;
}

/**
 * Region proposals from the RPN head's outputs, per image (torchvision
 * `RegionProposalNetwork.filter_proposals`): on each level the `preNmsTopN` anchors with
 * the highest objectness (all of a level with fewer), decoded by their deltas (weights 1, 1,
 * 1, 1, dw/dh clamped at log(1000/16)), clipped to the image's own `[height, width]`, boxes
 * with a side below `minSize` dropped, scores below `scoreThresh` dropped, NMS at
 * `nmsThresh` within each level, the best `postNmsTopN` of all levels kept.
 *
 * `objectness` [N, H, W, A] (or [N, H, W, 2A] softmax logits: see `rpnHead`) and `deltas`
 * [N, H, W, 4A] for one map, or a list of each, one per pyramid level (`rpnHeadLevels`);
 * `anchors` [Σ H·W·A, 4] in the same order (`gridAnchors`, `pyramidAnchors`), shared by
 * the batch (one padded input size); `imageSizes[n]` is image n's size before padding.
 *
 * Reads the head outputs once and works on typed arrays; the results are new tensors with
 * no gradient. `generateProposalsSync` is the same for code that cannot await (inside a
 * gradient tape: `tf.variableGrads` runs a synchronous function).
 */
export async function generateProposals(
  objectness: LevelTensors,
  deltas: LevelTensors,
  anchors: AnchorsInput,
  imageSizes: ReadonlyArray<readonly [number, number]>,
  options: ProposalOptions,
): Promise<Proposals[]> {
  const fn = 'generateProposals';
  const o = check(fn, objectness, deltas, anchors, imageSizes, options);
  const [objectnessData, deltaData, anchorData] = await Promise.all([
    Promise.all(levelList(objectness).map((t) => t.data() as Promise<Float32Array>)),
    Promise.all(levelList(deltas).map((t) => t.data() as Promise<Float32Array>)),
    anchors instanceof Float32Array ? anchors : (anchors.data() as Promise<Float32Array>),
  ]);
  return filterAll(fn, o, objectnessData, deltaData, anchorData, imageSizes);
}

/** `generateProposals` reading its inputs synchronously (`dataSync`). */
export function generateProposalsSync(
  objectness: LevelTensors,
  deltas: LevelTensors,
  anchors: AnchorsInput,
  imageSizes: ReadonlyArray<readonly [number, number]>,
  options: ProposalOptions,
): Proposals[] {
  const fn = 'generateProposalsSync';
  const o = check(fn, objectness, deltas, anchors, imageSizes, options);
  const read = (t: Tensor4D) => t.dataSync() as Float32Array;
  return filterAll(fn, o, levelList(objectness).map(read), levelList(deltas).map(read), anchorsData(fn, anchors), imageSizes);
}
