import * as tf from '@tensorflow/tfjs-core';
import type { RpnConvDepth, RpnHeadOptions, RpnParams } from '../head';
import { rpnHeadParamSpecs } from '../param-specs';
import { loadFixture } from './fixtures';

/** fpn-rpn.json, written by tools/fixtures/rpn_fpn_fixtures.py (see its docstring). */
export interface FpnRpnFixture {
  imageSize: [number, number];
  imageSizes: [number, number][];
  mapSizes: [number, number][];
  channels: number;
  sizes: number[][];
  ratios: number[][];
  batchSizePerImage: number;
  positiveFraction: number;
  /** NHWC [2, H_l, W_l, C] per level. */
  maps: number[][];
  anchors: number[];
  heads: Array<{
    convDepth: RpnConvDepth;
    /** torchvision state-dict names (OIHW kernels). */
    weights: Record<string, number[]>;
    shapes: Record<string, number[]>;
    objectness: number[][];
    deltas: number[][];
  }>;
  legacyNames: Record<string, string>;
  proposals: Array<{ name: string; preNmsTopN: number; postNmsTopN: number; nmsThresh: number; scoreThresh: number; boxes: number[][]; scores: number[][] }>;
  losses: Array<{ name: string; gtBoxes: number[][]; labels: number[][]; objectnessLoss: number; boxLoss: number; gradObjectness: number[][]; gradDeltas: number[][] }>;
  /** The `rpn.head.` entries of torchvision's detection models: [name, torch shape]. */
  stateDicts: Record<string, Array<[string, number[]]>>;
}

export const fpnRpn = loadFixture<FpnRpnFixture>('fpn-rpn.json');
export const ANCHORS_PER_LOCATION = 3;

export function headOptions(convDepth: RpnConvDepth): RpnHeadOptions<RpnConvDepth> {
  return { anchorsPerLocation: ANCHORS_PER_LOCATION, objectness: 'sigmoid', convDepth };
}

/** A torchvision RPNHead state dict as Lumen params, placed by `rpnHeadParamSpecs` (OIHW -> HWIO). */
export function importHead(head: FpnRpnFixture['heads'][number]): RpnParams<RpnConvDepth> {
  const tree: Record<string, unknown> = {};
  for (const spec of rpnHeadParamSpecs(headOptions(head.convDepth), fpnRpn.channels)) {
    const values = tf.tensor(head.weights[spec.torchName], head.shapes[spec.torchName]);
    const lumen = spec.kind === 'conv' ? tf.transpose(values, [2, 3, 1, 0]) : values;
    const path = spec.name.split('.');
    let node = tree;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]] = tf.variable(lumen);
    tf.dispose([values, lumen]);
  }
  return tree as unknown as RpnParams<RpnConvDepth>;
}

/** Per-level NHWC tensors of a fixture list: [N, H_l, W_l, channels(l)]. */
export function levelTensors(values: number[][], channels: number): tf.Tensor4D[] {
  const n = fpnRpn.imageSizes.length;
  return fpnRpn.mapSizes.map(([h, w], l) => tf.tensor4d(values[l], [n, h, w, channels]));
}
