import { clipBoxes, decodeBoxes, nmsSync, removeSmallBoxes, RPN_BOX_CODER_WEIGHTS } from '@lumen/boxes';
import { assertImageSizes, assertNumber, assertOptions, assertTensor, fail, isFraction, isPositiveInteger } from '@lumen/core';
import { tensor1d, tensor2d, tidy, type Rank, type Tensor1D, type Tensor2D, type Tensor4D } from '@tensorflow/tfjs-core';
import { anchorsData, type AnchorsInput } from './anchors-input';
import { topIndices } from './top-k';

const f32 = Math.fround;

export interface ProposalOptions {
  /** Best-scoring anchors decoded per image before NMS (torchvision train 2000 / test 1000). */
  preNmsTopN: number;
  /** Proposals kept per image after NMS (train 2000 / test 1000). */
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

type Checked = Required<ProposalOptions> & { n: number; k: number; softmax: boolean };

function check(fn: string, objectness: unknown, deltas: unknown, anchors: unknown, imageSizes: unknown, options: unknown): Checked {
  assertTensor<Rank.R4>(fn, 'objectness', objectness, 4);
  assertTensor<Rank.R4>(fn, 'deltas', deltas, 4);
  const [n, h, w, c] = objectness.shape;
  const [dn, dh, dw, dc] = deltas.shape;
  if (dn !== n || dh !== h || dw !== w || dc % 4 !== 0 || dc === 0) {
    fail(fn, `'deltas' must be [N, H, W, 4A] beside objectness [${objectness.shape.join(',')}], but got [${deltas.shape.join(',')}].`);
  }
  const a = dc / 4;
  if (c !== a && c !== 2 * a) {
    fail(fn, `'objectness' must have A (sigmoid) or 2A (softmax) channels for A = ${a} anchors per location, but got ${c}.`);
  }
  if (!(anchors instanceof Float32Array)) assertTensor(fn, 'anchors', anchors, 2);
  const k = h * w * a;
  const rows = anchors instanceof Float32Array ? anchors.length / 4 : (anchors as Tensor2D).shape[0];
  if (rows !== k) fail(fn, `'anchors' must have H·W·A = ${h}·${w}·${a} = ${k} rows (one per head output), but got ${rows}.`);
  assertImageSizes(fn, imageSizes, n);
  assertOptions(fn, options, 'preNmsTopN, postNmsTopN, nmsThresh?, minSize?, scoreThresh?');
  const o = { ...DEFAULT_PROPOSAL_OPTIONS, ...options } as Required<ProposalOptions>;
  assertNumber(fn, 'preNmsTopN', o.preNmsTopN, 'a positive integer', isPositiveInteger);
  assertNumber(fn, 'postNmsTopN', o.postNmsTopN, 'a positive integer', isPositiveInteger);
  assertNumber(fn, 'nmsThresh', o.nmsThresh, 'a number in [0, 1]', isFraction);
  assertNumber(fn, 'minSize', o.minSize, 'a non-negative number', (v) => v >= 0);
  assertNumber(fn, 'scoreThresh', o.scoreThresh, 'a number', () => true);
  return { ...o, n, k, softmax: c === 2 * a };
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

function filterImage(
  o: Checked,
  logits: Float32Array,
  deltas: Float32Array,
  anchors: Float32Array,
  [height, width]: readonly [number, number],
): Proposals {
  const top = topIndices(logits, o.preNmsTopN);
  const t = top.length;
  const reference = new Float32Array(t * 4);
  const selected = new Float32Array(t * 4);
  for (let j = 0; j < t; j++) {
    const i = top[j];
    copyBox(anchors, i, reference, j);
    copyBox(deltas, i, selected, j);
  }
  return tidy(() => {
    const clipped = clipBoxes(decodeBoxes(tensor2d(reference, [t, 4]), tensor2d(selected, [t, 4]), RPN_BOX_CODER_WEIGHTS), height, width);
    const large = removeSmallBoxes(clipped, o.minSize).dataSync();
    const boxes = clipped.dataSync();
    // torch compares the float32 scores with the threshold in float32.
    const threshold = f32(o.scoreThresh);
    const candidates = new Float32Array(large.length * 4);
    const scores = new Float32Array(large.length);
    let m = 0;
    for (let j = 0; j < large.length; j++) {
      const r = large[j];
      const score = sigmoid(logits[top[r]]);
      if (!(score >= threshold)) continue;
      copyBox(boxes, r, candidates, m);
      scores[m++] = score;
    }
    const keep = nmsSync(tensor2d(candidates.subarray(0, 4 * m), [m, 4]), tensor1d(scores.subarray(0, m)), o.nmsThresh, o.postNmsTopN).dataSync();
    const outBoxes = new Float32Array(keep.length * 4);
    const outScores = new Float32Array(keep.length);
    for (let j = 0; j < keep.length; j++) {
      copyBox(candidates, keep[j], outBoxes, j);
      outScores[j] = scores[keep[j]];
    }
    return { boxes: tensor2d(outBoxes, [keep.length, 4]), scores: tensor1d(outScores) };
  });
}

function filterAll(fn: string, o: Checked, objectness: Float32Array, deltas: Float32Array, anchors: Float32Array, imageSizes: ReadonlyArray<readonly [number, number]>): Proposals[] {
  const out: Proposals[] = [];
  try {
    for (let b = 0; b < o.n; b++) {
      // One score per anchor: the logit, or for softmax fg − bg (sigmoid(fg − bg) is the
      // softmax's foreground probability).
      let logits: Float32Array;
      if (o.softmax) {
        logits = new Float32Array(o.k);
        const base = 2 * o.k * b;
        for (let i = 0; i < o.k; i++) logits[i] = objectness[base + 2 * i + 1] - objectness[base + 2 * i];
      } else {
        logits = objectness.subarray(o.k * b, o.k * (b + 1));
      }
      for (let i = 0; i < o.k; i++) if (Number.isNaN(logits[i])) fail(fn, `'objectness' must not contain NaN, but image ${b}, anchor ${i} is NaN.`);
      out.push(filterImage(o, logits, deltas.subarray(4 * o.k * b, 4 * o.k * (b + 1)), anchors, imageSizes[b]));
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
 * `RegionProposalNetwork.filter_proposals` on one feature level): the `preNmsTopN`
 * anchors with the highest objectness, decoded by their deltas (weights 1, 1, 1, 1, dw/dh
 * clamped at log(1000/16)), clipped to the image's own `[height, width]`, boxes with a side
 * below `minSize` dropped, scores below `scoreThresh` dropped, NMS at `nmsThresh`, the
 * best `postNmsTopN` kept.
 *
 * `objectness` [N, H, W, A] (or [N, H, W, 2A] softmax logits: see `rpnHead`), `deltas`
 * [N, H, W, 4A], `anchors` [H·W·A, 4] in the same order (`gridAnchors`), shared by the
 * batch (one padded input size); `imageSizes[n]` is image n's size before padding.
 *
 * Reads the head outputs once and works on typed arrays; the results are new tensors with
 * no gradient. `generateProposalsSync` is the same for code that cannot await (inside a
 * gradient tape: `tf.variableGrads` runs a synchronous function).
 */
export async function generateProposals(
  objectness: Tensor4D,
  deltas: Tensor4D,
  anchors: AnchorsInput,
  imageSizes: ReadonlyArray<readonly [number, number]>,
  options: ProposalOptions,
): Promise<Proposals[]> {
  const fn = 'generateProposals';
  const o = check(fn, objectness, deltas, anchors, imageSizes, options);
  const [objectnessData, deltaData, anchorData] = await Promise.all([
    objectness.data() as Promise<Float32Array>,
    deltas.data() as Promise<Float32Array>,
    anchors instanceof Float32Array ? anchors : (anchors.data() as Promise<Float32Array>),
  ]);
  return filterAll(fn, o, objectnessData, deltaData, anchorData, imageSizes);
}

/** `generateProposals` reading its inputs synchronously (`dataSync`). */
export function generateProposalsSync(
  objectness: Tensor4D,
  deltas: Tensor4D,
  anchors: AnchorsInput,
  imageSizes: ReadonlyArray<readonly [number, number]>,
  options: ProposalOptions,
): Proposals[] {
  const fn = 'generateProposalsSync';
  const o = check(fn, objectness, deltas, anchors, imageSizes, options);
  return filterAll(fn, o, objectness.dataSync() as Float32Array, deltas.dataSync() as Float32Array, anchorsData(fn, anchors), imageSizes);
}
