import { add, mean, mul, tidy, type Tensor2D, type Tensor4D } from '@tensorflow/tfjs-core';
import { defineBackbone, type TrunkStep } from './define';
import {
  allFrozen,
  batchNormSpecs,
  biasSpec,
  bnOf,
  child,
  convBias,
  convBn,
  convSpec,
  depthwiseSpec,
  dim,
  hardSigmoid,
  leaf,
  runStages,
  type Activation,
  type ConvGeometry,
  type LayerContext,
} from './layers';
import { makeDivisible } from './mobilenet-v2';
import type { ParamTree } from '@lumen/core';
import type { Backbone, FeatureLevel, ParamSpec, ResolvedBackboneOptions } from './types';

// torchvision's mobilenet_v3_large: features.0 (conv 3x3/2 + BN + hardswish), inverted
// residual blocks features.1 … features.15 (expand 1x1, depthwise 3x3 or 5x5,
// squeeze-excitation in some, project 1x1; ReLU or hardswish), features.16 (conv 1x1 to six
// times the last block's channels + BN + hardswish). Body = features.0 … features.12, the
// last stride-16 block (112 channels); tail = features.13 … features.16 (features.13's stride
// is `tailStride`) + global average pool. Feature levels: the stage outputs of torchvision's
// _mobilenet_extractor, features.0, .2, .4, .7, .13, .16 (its FPN takes the last two, both
// at stride 32). BatchNorm2d(eps=0.001, momentum=0.01), as the classifier.

/** torchvision's bneck_conf rows (dilation 1). */
type BlockConfig = readonly [inC: number, kernel: number, expanded: number, outC: number, squeezeExcite: boolean, activation: 'RE' | 'HS', stride: number];
const CONFIG: readonly BlockConfig[] = [
  [16, 3, 16, 16, false, 'RE', 1],
  [16, 3, 64, 24, false, 'RE', 2],
  [24, 3, 72, 24, false, 'RE', 1],
  [24, 5, 72, 40, true, 'RE', 2],
  [40, 5, 120, 40, true, 'RE', 1],
  [40, 5, 120, 40, true, 'RE', 1],
  [40, 3, 240, 80, false, 'HS', 2],
  [80, 3, 200, 80, false, 'HS', 1],
  [80, 3, 184, 80, false, 'HS', 1],
  [80, 3, 184, 80, false, 'HS', 1],
  [80, 3, 480, 112, true, 'HS', 1],
  [112, 3, 672, 112, true, 'HS', 1],
  [112, 5, 672, 160, true, 'HS', 2],
  [160, 5, 960, 160, true, 'HS', 1],
  [160, 5, 960, 160, true, 'HS', 1],
];
const STEM = 16;
/** features.13: the first block after the last stride-16 one. */
const FIRST_TAIL_FEATURE = 13;
const LAST_FEATURE = 16;
/**
 * Where each stage starts: _mobilenet_extractor's stage_indices (features.0, the strided
 * blocks, the last conv), so `freezeAt` = 6 - trainable_layers freezes what torchvision does.
 */
const STAGE_STARTS = [0, 2, 4, 7, FIRST_TAIL_FEATURE, LAST_FEATURE];
const STAGES = ['features.0-1', 'features.2-3', 'features.4-6', 'features.7-12', 'features.13-15', 'features.16'] as const;

interface BlockPlan {
  feature: number;
  inC: number;
  kernel: number;
  expanded: number;
  outC: number;
  /** Squeeze-excitation channels, null without one. */
  squeeze: number | null;
  activation: Activation;
}

function activationOf(config: BlockConfig): Activation {
  return config[5] === 'HS' ? 'hardswish' : 'relu';
}

/** The blocks' channels at `width` (torchvision's width_mult: every count through _make_divisible). */
function plan(o: ResolvedBackboneOptions): { stem: number; blocks: BlockPlan[]; last: number } {
  const adjust = (channels: number) => makeDivisible(channels * o.width);
  const blocks = CONFIG.map((config, i) => {
    const [inC, kernel, expanded, outC, squeezeExcite] = config;
    const hidden = adjust(expanded);
    return {
      feature: i + 1,
      inC: adjust(inC),
      kernel,
      expanded: hidden,
      outC: adjust(outC),
      squeeze: squeezeExcite ? makeDivisible(Math.floor(hidden / 4)) : null,
      activation: activationOf(config),
    };
  });
  return { stem: adjust(STEM), blocks, last: 6 * blocks[blocks.length - 1].outC };
}

function stageOf(feature: number): number {
  return STAGE_STARTS.filter((start) => feature >= start).length;
}

/** A features index's stride: what the params cannot tell. */
function strideOf(feature: number, tailStride: number): number {
  if (feature === 0) return 2;
  if (feature === FIRST_TAIL_FEATURE) return tailStride;
  return feature === LAST_FEATURE ? 1 : CONFIG[feature - 1][6];
}

function specs(o: ResolvedBackboneOptions): ParamSpec[] {
  const p = plan(o);
  const out: ParamSpec[] = [convSpec('features.0.0', 3, 3, p.stem, 1), ...batchNormSpecs('features.0.1', p.stem, 1)];
  for (const b of p.blocks) {
    const stage = stageOf(b.feature);
    // torchvision's InvertedResidual.block: [expand], depthwise, [squeeze-excitation], project;
    // each module's specs from its path `features.<i>.block.<k>`.
    const convNorm = (k: number, inC: number, outC: number, depthwise: boolean) => (path: string) => [
      depthwise ? depthwiseSpec(`${path}.0`, k, inC, stage) : convSpec(`${path}.0`, k, inC, outC, stage),
      ...batchNormSpecs(`${path}.1`, outC, stage),
    ];
    const modules: ((path: string) => ParamSpec[])[] = [];
    if (b.expanded !== b.inC) modules.push(convNorm(1, b.inC, b.expanded, false));
    modules.push(convNorm(b.kernel, b.expanded, b.expanded, true));
    const squeeze = b.squeeze;
    if (squeeze != null) {
      modules.push((path) => [
        convSpec(`${path}.fc1`, 1, b.expanded, squeeze, stage),
        biasSpec(`${path}.fc1`, squeeze, stage),
        convSpec(`${path}.fc2`, 1, squeeze, b.expanded, stage),
        biasSpec(`${path}.fc2`, b.expanded, stage),
      ]);
    }
    modules.push(convNorm(1, b.expanded, b.outC, false));
    modules.forEach((specsAt, k) => out.push(...specsAt(`features.${b.feature}.block.${k}`)));
  }
  const lastIn = p.blocks[p.blocks.length - 1].outC;
  const stage = stageOf(LAST_FEATURE);
  out.push(convSpec(`features.${LAST_FEATURE}.0`, 1, lastIn, p.last, stage), ...batchNormSpecs(`features.${LAST_FEATURE}.1`, p.last, stage));
  return out;
}

/** A Conv2dNormActivation (`<path>0` conv, `<path>1` BN). */
function convNormAct(fn: string, x: Tensor4D, p: ParamTree, path: string, geometry: ConvGeometry, activation: Activation, ctx: LayerContext): Tensor4D {
  const kernel = leaf(fn, child(fn, p, '0', path), 'kernel', `${path}0.`);
  return convBn(x, kernel, bnOf(fn, p, '1', path), geometry, activation, ctx);
}

/** torchvision's SqueezeExcitation: x · hardsigmoid(fc2(relu(fc1(mean over H, W)))), fc1/fc2 1x1 convs with bias. */
function squeezeExcitation(fn: string, x: Tensor4D, se: ParamTree, path: string): Tensor4D {
  return tidy(() => {
    const conv = (name: string) => {
      const m = child(fn, se, name, path);
      return [leaf(fn, m, 'kernel', `${path}${name}.`), leaf(fn, m, 'bias', `${path}${name}.`)] as const;
    };
    const pooled = mean(x, [1, 2], true) as Tensor4D;
    const squeezed = convBias(pooled, ...conv('fc1'), { stride: 1, pad: 0 }, 'relu');
    return mul(x, hardSigmoid(convBias(squeezed, ...conv('fc2'), { stride: 1, pad: 0 }, 'linear')));
  });
}

/** The module keys of features.<feature>.block in order: [expand], depthwise, [squeeze-excitation], project. */
function blockModules(fn: string, features: ParamTree, feature: number): { block: ParamTree; convs: string[]; se: string | undefined } {
  const block = child(fn, child(fn, features, String(feature), 'features.'), 'block', `features.${feature}.`);
  const keys = Object.keys(block).sort((a, b) => Number(a) - Number(b));
  const se = keys.find((k) => 'fc1' in child(fn, block, k, `features.${feature}.block.`));
  return { block, convs: keys.filter((k) => k !== se), se };
}

/** features.<feature>: an InvertedResidual; which modules it has is read from the params. */
function invertedResidual(fn: string, x: Tensor4D, features: ParamTree, feature: number, tailStride: number, ctx: LayerContext): Tensor4D {
  return tidy(() => {
    const path = `features.${feature}.block.`;
    const { block, convs, se } = blockModules(fn, features, feature);
    const activation = activationOf(CONFIG[feature - 1]);
    const stride = strideOf(feature, tailStride);
    const module = (key: string) => child(fn, block, key, path);
    let h = x;
    if (convs.length === 3) h = convNormAct(fn, h, module(convs[0]), `${path}${convs[0]}.`, { stride: 1, pad: 0 }, activation, ctx);
    const depthwise = convs[convs.length - 2];
    const kernel = dim(leaf(fn, child(fn, module(depthwise), '0', `${path}${depthwise}.`), 'kernel', `${path}${depthwise}.0.`), 0);
    h = convNormAct(fn, h, module(depthwise), `${path}${depthwise}.`, { stride, pad: (kernel - 1) / 2, depthwise: true }, activation, ctx);
    if (se != null) h = squeezeExcitation(fn, h, module(se), `${path}${se}.`);
    const project = convs[convs.length - 1];
    const y = convNormAct(fn, h, module(project), `${path}${project}.`, { stride: 1, pad: 0 }, 'linear', ctx);
    // torchvision's use_res_connect: stride 1 and as many channels out as in.
    return stride === 1 && x.shape[3] === y.shape[3] ? add(x, y) : y;
  });
}

/** features[from … to] (inclusive). */
export function mobilenetV3Features(fn: string, params: ParamTree, x: Tensor4D, from: number, to: number, ctx: LayerContext, tailStride = 2): Tensor4D {
  const features = child(fn, params, 'features', '');
  let y = x;
  for (let f = from; f <= to; f++) {
    if (f === 0) y = tidy(() => convNormAct(fn, y, child(fn, features, '0', 'features.'), 'features.0.', { stride: 2, pad: 1 }, 'hardswish', ctx));
    else if (f === LAST_FEATURE) y = tidy(() => convNormAct(fn, y, child(fn, features, String(f), 'features.'), `features.${f}.`, { stride: 1, pad: 0 }, 'hardswish', ctx));
    else y = invertedResidual(fn, y, features, f, tailStride, ctx);
  }
  return y;
}

/** Output channels of features.<feature> (a block: its project conv). */
function blockOut(params: ParamTree, feature: number): number {
  const fn = 'mobilenet_v3_large';
  const { block, convs } = blockModules(fn, child(fn, params, 'features', ''), feature);
  const project = convs[convs.length - 1];
  const path = `features.${feature}.block.${project}.`;
  return dim(leaf(fn, child(fn, child(fn, block, project, `features.${feature}.block.`), '0', path), 'kernel', `${path}0.`), 3);
}

/** The stage outputs at strides 2 … 32; those of the tail (stride 32) only with tailStride 2. */
function levels(o: ResolvedBackboneOptions): FeatureLevel[] {
  const p = plan(o);
  let stride = 1;
  const all = Array.from({ length: LAST_FEATURE + 1 }, (_, f) => {
    stride *= strideOf(f, 2);
    const channels = f === 0 ? p.stem : f === LAST_FEATURE ? p.last : p.blocks[f - 1].outC;
    return { name: `features.${f}`, stride, channels };
  });
  return all.filter((_, f) => STAGE_STARTS.includes(f) && (o.tailStride === 2 || f < FIRST_TAIL_FEATURE));
}

/** features.0 … features.16, one step each. */
function trunk(fn: string, params: ParamTree, ctx: LayerContext, tailStride: number): TrunkStep[] {
  const features = child(fn, params, 'features', '');
  return Array.from({ length: LAST_FEATURE + 1 }, (_, f) => ({
    name: `features.${f}`,
    run: (x: Tensor4D) => mobilenetV3Features(fn, params, x, f, f, ctx, tailStride),
    frozen: allFrozen(child(fn, features, String(f), 'features.')),
  }));
}

export const mobilenetV3Large: Backbone = defineBackbone({
  name: 'mobilenet_v3_large',
  stages: STAGES,
  bodyChannels: (o) => makeDivisible(112 * o.width),
  tailChannels: (o) => plan(o).last,
  tailKind: 'conv',
  batchNorm: { eps: 1e-3, momentum: 0.01 },
  paramSpecs: specs,
  // features.0 and the depthwise convs of features.2 (3x3/2 pad 1), .4 (5x5/2 pad 2), .7 (3x3/2 pad 1).
  bodyStrides: [
    [3, 2, 1],
    [3, 2, 1],
    [5, 2, 2],
    [3, 2, 1],
  ],
  channelsOf(params) {
    const fn = 'mobilenet_v3_large';
    const stem = child(fn, child(fn, child(fn, params, 'features', ''), '0', 'features.'), '0', 'features.0.');
    return { input: dim(leaf(fn, stem, 'kernel', 'features.0.0.'), 2), body: blockOut(params, FIRST_TAIL_FEATURE - 1) };
  },
  body(params, images, ctx) {
    const fn = 'mobilenet_v3_large.body';
    const features = child(fn, params, 'features', '');
    // The body's stages: features 0-1, 2-3, 4-6, 7-12.
    const stages = STAGE_STARTS.slice(0, 4).map((from, i) => {
      const to = STAGE_STARTS[i + 1] - 1;
      const modules = Array.from({ length: to - from + 1 }, (_, k) => child(fn, features, String(from + k), 'features.'));
      return { run: (x: Tensor4D) => mobilenetV3Features(fn, params, x, from, to, ctx), frozen: modules.every(allFrozen) };
    });
    return tidy(() => runStages(stages, images));
  },
  tail: (params, pooled, ctx, options, fn) =>
    tidy(() => mean(mobilenetV3Features(fn, params, pooled, FIRST_TAIL_FEATURE, LAST_FEATURE, ctx, options.tailStride), [1, 2]) as Tensor2D),
  featureLevels: levels,
  trunk: (params, ctx, options, fn) => trunk(fn, params, ctx, options.tailStride),
});
