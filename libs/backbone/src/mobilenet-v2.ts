import { add, mean, tidy, type Tensor2D, type Tensor4D } from '@tensorflow/tfjs-core';
import { defineBackbone, type TrunkStep } from './define';
import { allFrozen, batchNormSpecs, bnOf, child, convBn, convSpec, depthwiseSpec, dim, leaf, runStages, type LayerContext } from './layers';
import type { ParamTree } from '@lumen/core';
import type { Backbone, FeatureLevel, ParamSpec, ResolvedBackboneOptions } from './types';

// torchvision's mobilenet_v2: features.0 (conv 3x3/2 + BN + ReLU6), inverted residual blocks
// features.1 … features.17, features.18 (conv 1x1 to 1280 + BN + ReLU6). Body = features.0 …
// features.13, the last stride-16 block (96 channels); tail = features.14 … features.18
// (features.14's stride is `tailStride`) + global average pool. Feature levels: the stage
// outputs of torchvision's _mobilenet_extractor, features.0, .2, .4, .7, .14, .18.

/** torchvision's inverted_residual_setting: expand ratio t, channels c, repeats n, first stride s. */
const SETTINGS: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];
const STEM = 32;
const LAST = 1280;
/** features.14: the first block after the last stride-16 one. */
const FIRST_TAIL_FEATURE = 14;
const LAST_FEATURE = 18;
/** Stage of each features index (0 … 18): by output stride 2, 4, 8, 16, then the tail. */
const STAGE_STARTS = [0, 2, 4, 7, FIRST_TAIL_FEATURE];
const STAGES = ['features.0-1', 'features.2-3', 'features.4-6', 'features.7-13', 'features.14-18'] as const;
/** _mobilenet_extractor's stage_indices: features.0, the strided blocks (`_is_cn`), the last conv. */
const LEVEL_FEATURES = [0, 2, 4, 7, FIRST_TAIL_FEATURE, LAST_FEATURE];

/** torchvision's _make_divisible(v, 8): nearest multiple of 8, at least 8, never 10% below v. */
export function makeDivisible(v: number, divisor = 8): number {
  let out = Math.max(divisor, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}

function stageOf(feature: number): number {
  let stage = 0;
  for (const start of STAGE_STARTS) if (feature >= start) stage++;
  return stage;
}

interface BlockPlan {
  feature: number;
  inC: number;
  outC: number;
  expand: number;
  stride: number;
}

/** The blocks features.1 … features.17 with their channels and strides. */
function blocks(o: ResolvedBackboneOptions): { stem: number; last: number; blocks: BlockPlan[] } {
  const stem = makeDivisible(STEM * o.width);
  const out: BlockPlan[] = [];
  let inC = stem;
  let feature = 1;
  for (const [t, c, n, s] of SETTINGS) {
    const outC = makeDivisible(c * o.width);
    for (let i = 0; i < n; i++) {
      const stride = feature === FIRST_TAIL_FEATURE ? o.tailStride : i === 0 ? s : 1;
      out.push({ feature, inC, outC, expand: t, stride });
      inC = outC;
      feature++;
    }
  }
  return { stem, last: makeDivisible(LAST * Math.max(1, o.width)), blocks: out };
}

/** A features index's first stride: what the params cannot tell. */
function strideOf(feature: number, tailStride: number): number {
  if (feature === FIRST_TAIL_FEATURE) return tailStride;
  let f = 1;
  for (const [, , n, s] of SETTINGS) {
    if (feature === f) return s;
    f += n;
  }
  return 1;
}

function specs(o: ResolvedBackboneOptions): ParamSpec[] {
  const plan = blocks(o);
  const out: ParamSpec[] = [convSpec('features.0.0', 3, 3, plan.stem, 1), ...batchNormSpecs('features.0.1', plan.stem, 1)];
  for (const b of plan.blocks) {
    const path = `features.${b.feature}.conv`;
    const stage = stageOf(b.feature);
    const hidden = Math.round(b.inC * b.expand);
    let k = 0;
    if (b.expand !== 1) {
      out.push(convSpec(`${path}.0.0`, 1, b.inC, hidden, stage), ...batchNormSpecs(`${path}.0.1`, hidden, stage));
      k = 1;
    }
    out.push(depthwiseSpec(`${path}.${k}.0`, 3, hidden, stage), ...batchNormSpecs(`${path}.${k}.1`, hidden, stage));
    out.push(convSpec(`${path}.${k + 1}`, 1, hidden, b.outC, stage), ...batchNormSpecs(`${path}.${k + 2}`, b.outC, stage));
  }
  const lastIn = plan.blocks[plan.blocks.length - 1].outC;
  const stage = stageOf(LAST_FEATURE);
  out.push(convSpec(`features.${LAST_FEATURE}.0`, 1, lastIn, plan.last, stage), ...batchNormSpecs(`features.${LAST_FEATURE}.1`, plan.last, stage));
  return out;
}

/** A Conv2dNormActivation (`<i>.0` conv, `<i>.1` BN) at `path`. */
function convNormAct(fn: string, x: Tensor4D, p: ParamTree, path: string, geometry: { stride: number; pad: number; depthwise?: boolean }, ctx: LayerContext): Tensor4D {
  const kernel = leaf(fn, child(fn, p, '0', path), 'kernel', `${path}0.`);
  return convBn(x, kernel, bnOf(fn, p, '1', path), geometry, 'relu6', ctx);
}

/** features.<feature>: an InvertedResidual; the expansion is read from the params (4 modules). */
function invertedResidual(fn: string, x: Tensor4D, features: ParamTree, feature: number, tailStride: number, ctx: LayerContext): Tensor4D {
  return tidy(() => {
    const path = `features.${feature}.conv.`;
    const conv = child(fn, child(fn, features, String(feature), 'features.'), 'conv', `features.${feature}.`);
    const stride = strideOf(feature, tailStride);
    const expanded = '3' in conv;
    const k = expanded ? 1 : 0;
    let h = expanded ? convNormAct(fn, x, child(fn, conv, '0', path), `${path}0.`, { stride: 1, pad: 0 }, ctx) : x;
    h = convNormAct(fn, h, child(fn, conv, String(k), path), `${path}${k}.`, { stride, pad: 1, depthwise: true }, ctx);
    const project = leaf(fn, child(fn, conv, String(k + 1), path), 'kernel', `${path}${k + 1}.`);
    const y = convBn(h, project, bnOf(fn, conv, String(k + 2), path), { stride: 1, pad: 0 }, 'linear', ctx);
    // torchvision's use_res_connect: stride 1 and as many channels out as in.
    return stride === 1 && x.shape[3] === y.shape[3] ? add(x, y) : y;
  });
}

/** features[from … to] (inclusive). */
export function mobilenetFeatures(fn: string, params: ParamTree, x: Tensor4D, from: number, to: number, ctx: LayerContext, tailStride = 2): Tensor4D {
  const features = child(fn, params, 'features', '');
  let y = x;
  for (let f = from; f <= to; f++) {
    if (f === 0) y = tidy(() => convNormAct(fn, y, child(fn, features, '0', 'features.'), 'features.0.', { stride: 2, pad: 1 }, ctx));
    else if (f === LAST_FEATURE) y = tidy(() => convNormAct(fn, y, child(fn, features, String(f), 'features.'), `features.${f}.`, { stride: 1, pad: 0 }, ctx));
    else y = invertedResidual(fn, y, features, f, tailStride, ctx);
  }
  return y;
}

function projectOut(params: ParamTree, feature: number): number {
  const fn = 'mobilenet_v2';
  const conv = child(fn, child(fn, child(fn, params, 'features', ''), String(feature), 'features.'), 'conv', `features.${feature}.`);
  const k = '3' in conv ? 2 : 1;
  return dim(leaf(fn, child(fn, conv, String(k), `features.${feature}.conv.`), 'kernel', ''), 3);
}

/** The stage outputs at strides 2 … 32; those of the tail (stride 32) only with tailStride 2. */
function levels(o: ResolvedBackboneOptions): FeatureLevel[] {
  const plan = blocks(o);
  const channels = (f: number) => (f === 0 ? plan.stem : f === LAST_FEATURE ? plan.last : plan.blocks[f - 1].outC);
  let stride = 1;
  const all = Array.from({ length: LAST_FEATURE + 1 }, (_, f) => {
    stride *= f === 0 ? 2 : strideOf(f, 2);
    return { name: `features.${f}`, stride, channels: channels(f) };
  });
  return all.filter((l, f) => LEVEL_FEATURES.includes(f) && (o.tailStride === 2 || f < FIRST_TAIL_FEATURE));
}

/** features.0 … features.18, one step each. */
function trunk(fn: string, params: ParamTree, ctx: LayerContext, tailStride: number): TrunkStep[] {
  const features = child(fn, params, 'features', '');
  return Array.from({ length: LAST_FEATURE + 1 }, (_, f) => ({
    name: `features.${f}`,
    run: (x: Tensor4D) => mobilenetFeatures(fn, params, x, f, f, ctx, tailStride),
    frozen: allFrozen(child(fn, features, String(f), 'features.')),
  }));
}

export const mobilenetV2: Backbone = defineBackbone({
  name: 'mobilenet_v2',
  stages: STAGES,
  bodyChannels: (o) => makeDivisible(96 * o.width),
  tailChannels: (o) => makeDivisible(LAST * Math.max(1, o.width)),
  tailKind: 'conv',
  paramSpecs: specs,
  // features.0 and the depthwise 3x3/2 pad 1 convs of features.2, .4 and .7.
  bodyStrides: [
    [3, 2, 1],
    [3, 2, 1],
    [3, 2, 1],
    [3, 2, 1],
  ],
  channelsOf(params) {
    const fn = 'mobilenet_v2';
    const stem = child(fn, child(fn, child(fn, params, 'features', ''), '0', 'features.'), '0', 'features.0.');
    return { input: dim(leaf(fn, stem, 'kernel', 'features.0.0.'), 2), body: projectOut(params, FIRST_TAIL_FEATURE - 1) };
  },
  body(params, images, ctx) {
    const fn = 'mobilenet_v2.body';
    const features = child(fn, params, 'features', '');
    // The body's stages: features 0-1, 2-3, 4-6, 7-13.
    const stages = STAGE_STARTS.slice(0, -1).map((from, i) => {
      const to = STAGE_STARTS[i + 1] - 1;
      const modules = Array.from({ length: to - from + 1 }, (_, k) => child(fn, features, String(from + k), 'features.'));
      return { run: (x: Tensor4D) => mobilenetFeatures(fn, params, x, from, to, ctx), frozen: modules.every(allFrozen) };
    });
    return tidy(() => runStages(stages, images));
  },
  tail: (params, pooled, ctx, options, fn) =>
    tidy(() => mean(mobilenetFeatures(fn, params, pooled, FIRST_TAIL_FEATURE, LAST_FEATURE, ctx, options.tailStride), [1, 2]) as Tensor2D),
  featureLevels: levels,
  trunk: (params, ctx, options, fn) => trunk(fn, params, ctx, options.tailStride),
});
