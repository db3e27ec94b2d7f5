import { assertTensor, describe, fail } from '@lumen/core';
import { concat, customGrad, reshape, split, type GradSaveFunc, type Tensor, type Tensor4D } from '@tensorflow/tfjs-core';

/** A head output: one map's tensor, or one per pyramid level (finest first, as `rpnHeadLevels` returns them). */
export type LevelTensors = Tensor4D | readonly Tensor4D[];

/** One level's head outputs and the names argument checks give them. */
export interface HeadLevel {
  objectness: Tensor4D;
  deltas: Tensor4D;
  /** 'objectness' / 'deltas' for one map, 'objectness[l]' / 'deltas[l]' in a list. */
  objectnessName: string;
  deltasName: string;
}

export interface LevelLayout {
  /** Images in the batch. */
  n: number;
  /** Two objectness logits per anchor (background, foreground) rather than one. */
  softmax: boolean;
  /** Each level's map size and anchors per location; `count` = H·W·A, its anchors per image. */
  levels: Array<{ height: number; width: number; anchorsPerLocation: number; count: number }>;
  /** Σ count: the anchors of one image over all levels. */
  anchorsPerImage: number;
}

/** Pairs each level's objectness with its deltas; a single tensor is a one-level pyramid. */
function pairLevels(fn: string, objectness: unknown, deltas: unknown): HeadLevel[] {
  if (Array.isArray(objectness) !== Array.isArray(deltas)) {
    fail(fn, `'objectness' and 'deltas' must both be tensors (one map) or both lists (one per level), but got ${describe(objectness)} and ${describe(deltas)}.`);
  }
  if (!Array.isArray(objectness)) return [{ objectness: objectness as Tensor4D, deltas: deltas as Tensor4D, objectnessName: 'objectness', deltasName: 'deltas' }];
  const deltaList = deltas as unknown[];
  if (objectness.length === 0 || objectness.length !== deltaList.length) {
    fail(fn, `'objectness' and 'deltas' must hold one tensor per level each, but got ${objectness.length} and ${deltaList.length}.`);
  }
  return objectness.map((o, l) => ({ objectness: o, deltas: deltaList[l] as Tensor4D, objectnessName: `objectness[${l}]`, deltasName: `deltas[${l}]` }));
}

/**
 * Checks head outputs given per level and returns their layout. `checkPair` words the
 * objectness/deltas agreement of one level in the caller's terms; once it passes, deltas
 * are [N, H, W, 4A] and objectness [N, H, W, A or 2A]. Levels must share the batch size
 * and the objectness mode (one head serves them all).
 */
export function levelLayout(fn: string, objectness: unknown, deltas: unknown, checkPair: (level: HeadLevel) => void): LevelLayout {
  const pairs = pairLevels(fn, objectness, deltas);
  const levels: LevelLayout['levels'] = [];
  let n = 0;
  let softmax = false;
  pairs.forEach((pair, l) => {
    assertTensor(fn, pair.objectnessName, pair.objectness, 4);
    assertTensor(fn, pair.deltasName, pair.deltas, 4);
    checkPair(pair);
    const [batch, height, width, c] = pair.objectness.shape;
    const a = pair.deltas.shape[3] / 4;
    if (l === 0) {
      n = batch;
      softmax = c === 2 * a;
    } else if (batch !== n || (c === 2 * a) !== softmax) {
      const mode = softmax ? '2A (softmax)' : 'A (sigmoid)';
      fail(fn, `'${pair.objectnessName}' must have objectness[0]'s batch size ${n} and ${mode} channels, but got [${pair.objectness.shape.join(',')}] for A = ${a}.`);
    }
    levels.push({ height, width, anchorsPerLocation: a, count: height * width * a });
  });
  return { n, softmax, levels, anchorsPerImage: levels.reduce((sum, level) => sum + level.count, 0) };
}

/** The levels as a list, whichever way they were given. */
export function levelList(outputs: LevelTensors): readonly Tensor4D[] {
  return Array.isArray(outputs) ? outputs : [outputs as Tensor4D];
}

/**
 * Per-level outputs [N, H_l, W_l, C_l] as one [N, Σ H·W·C] whose flat order is torchvision's
 * (`concat_box_prediction_layers`): per image, level after level, each level row, column,
 * channel. One level is returned as it is. The gradient is written out (split back per
 * level), so the losses stay differentiable with no registered gradient.
 */
export function concatLevels(outputs: LevelTensors, n: number): Tensor {
  const list = levelList(outputs);
  if (list.length === 1) return list[0];
  const widths = list.map((t) => t.size / n);
  const joined = customGrad((...args: Array<Tensor | GradSaveFunc>) => {
    const levels = args.slice(0, list.length) as Tensor[];
    return {
      value: concat(levels.map((t) => reshape(t, [n, -1])), 1),
      gradFunc: (dy: Tensor) => split(dy, widths, 1).map((g, l) => reshape(g, list[l].shape)),
    };
  });
  return joined(...list);
}
