import { fused, tidy, type Rank, type Tensor4D, type Variable } from '@tensorflow/tfjs-core';
import { assertNumber, assertOptions, assertRng, assertTensor, describe, fail, isPositiveInteger, makeVariable, normalValues, type Rng } from '@lumen/core';

/**
 * How objectness is predicted: `sigmoid` — one logit per anchor (torchvision); `softmax` —
 * two logits per anchor, background and foreground (the original paper, Luminoth).
 */
export type ObjectnessMode = 'sigmoid' | 'softmax';

/** 3x3 conv + ReLU layers before the 1x1 predictors. */
export type RpnConvDepth = 1 | 2;

/** `Depth` types `convDepth`, and so the params `initRpnHead` makes: 1 unless set. */
export interface RpnHeadOptions<Depth extends RpnConvDepth = 1> {
  /** Anchors per feature-map location, A (sizes x ratios; 15 for 5 sizes x 3 ratios). */
  anchorsPerLocation: number;
  objectness: ObjectnessMode;
  /**
   * 1 (default): torchvision's `RPNHead`; 2: `RPNHead(..., conv_depth=2)` of
   * fasterrcnn_resnet50_fpn_v2, two 3x3 convolutions with bias and ReLU (no norm layer).
   */
  convDepth?: Depth;
}

/** A convolution's parameters: `kernel` HWIO [kh, kw, in, out], `bias` [out]. */
export type ConvParams = { kernel: Variable<Rank.R4>; bias: Variable<Rank.R1> };

/** The two 3x3 convolutions of a `convDepth: 2` head, in the order they run. */
export type RpnConvPair = { 0: ConvParams; 1: ConvParams };

/** The 3x3 part of a head of depth `Depth`: one convolution, or a pair. */
export type RpnConvParams<Depth extends RpnConvDepth> = Depth extends 2 ? RpnConvPair : ConvParams;

/**
 * The RPN head's parameters, named as torchvision's `RPNHead` (`rpnHeadParamSpecs` gives
 * each torchvision name): `conv` 3x3 in→in (`convDepth: 2`: `conv.0` then `conv.1`),
 * `cls_logits` 1x1 in→A (softmax: 2A), `bbox_pred` 1x1 in→4A. Kernels are HWIO
 * (torchvision's OIHW transposed by [2, 3, 1, 0]). `RpnParams` is the depth-1 head;
 * `RpnParams<RpnConvDepth>` either.
 */
export type RpnParams<Depth extends RpnConvDepth = 1> = { conv: RpnConvParams<Depth>; cls_logits: ConvParams; bbox_pred: ConvParams };

export interface RpnHeadOutputs {
  /** Logits [N, H, W, A] (sigmoid) or [N, H, W, 2A] with channel `2a` background, `2a + 1` foreground (softmax). */
  objectness: Tensor4D;
  /** Box deltas [N, H, W, 4A], channel `4a + k` for (dx, dy, dw, dh) — torchvision's layout. */
  deltas: Tensor4D;
}

/** The head's outputs on every level, finest first (torchvision `RPNHead.forward`'s two lists). */
export interface RpnLevelOutputs {
  objectness: Tensor4D[];
  deltas: Tensor4D[];
}

export function checkOptions(fn: string, options: unknown): RpnHeadOptions<RpnConvDepth> {
  assertOptions(fn, options, 'anchorsPerLocation, objectness, convDepth?');
  assertNumber(fn, 'anchorsPerLocation', options.anchorsPerLocation, 'a positive integer', isPositiveInteger);
  if (options.objectness !== 'sigmoid' && options.objectness !== 'softmax') {
    fail(fn, `'objectness' must be 'sigmoid' or 'softmax', but got ${JSON.stringify(options.objectness)}.`);
  }
  if (options.convDepth !== undefined && options.convDepth !== 1 && options.convDepth !== 2) {
    fail(fn, `'convDepth' must be 1 or 2, but got ${describe(options.convDepth)}.`);
  }
  return options as unknown as RpnHeadOptions<RpnConvDepth>;
}

/** Objectness channels per anchor: 1 logit (sigmoid) or 2 (softmax). */
export function objectnessChannels(mode: ObjectnessMode): number {
  return mode === 'softmax' ? 2 : 1;
}

function conv(kernelSize: number, inChannels: number, outChannels: number, rng: Rng): ConvParams {
  const shape = [kernelSize, kernelSize, inChannels, outChannels];
  return {
    kernel: makeVariable<Rank.R4>(normalValues(kernelSize * kernelSize * inChannels * outChannels, 0.01, rng), shape),
    bias: makeVariable<Rank.R1>(new Float32Array(outChannels), [outChannels]),
  };
}

/**
 * New RPN head parameters, initialised as torchvision's `RPNHead`: every kernel from
 * N(0, 0.01²), biases 0. Draws from `rng` in the order conv (conv.0, conv.1), cls_logits,
 * bbox_pred.
 */
export function initRpnHead<Depth extends RpnConvDepth = 1>(options: RpnHeadOptions<Depth>, inChannels: number, rng: Rng): RpnParams<Depth> {
  const fn = 'initRpnHead';
  const { anchorsPerLocation: a, objectness, convDepth = 1 } = checkOptions(fn, options);
  assertNumber(fn, 'inChannels', inChannels, 'a positive integer', isPositiveInteger);
  assertRng(fn, rng);
  const first = conv(3, inChannels, inChannels, rng);
  const params: RpnParams<RpnConvDepth> = {
    conv: convDepth === 1 ? first : { 0: first, 1: conv(3, inChannels, inChannels, rng) },
    cls_logits: conv(1, inChannels, a * objectnessChannels(objectness), rng),
    bbox_pred: conv(1, inChannels, 4 * a, rng),
  };
  return params as RpnParams<Depth>;
}

/** The 3x3 convolutions in the order they run, with their names under `params`. */
function convLayers(conv: ConvParams | RpnConvPair): Array<[string, ConvParams | undefined]> {
  return 'kernel' in conv ? [['conv', conv]] : [['conv.0', conv[0]], ['conv.1', conv[1]]];
}

function checkParams(fn: string, params: RpnParams<RpnConvDepth>, inChannels: number, options: RpnHeadOptions<RpnConvDepth>): void {
  if (params == null || typeof params !== 'object') fail(fn, `'params' must be { conv, cls_logits, bbox_pred }, but got ${typeof params}.`);
  if (params.conv == null || typeof params.conv !== 'object') fail(fn, `'params.conv' is missing.`);
  const depth = options.convDepth ?? 1;
  if (('kernel' in params.conv) !== (depth === 1)) {
    const want = depth === 1 ? '{ kernel, bias }: one 3x3 convolution' : '{ 0, 1 }: two 3x3 convolutions';
    fail(fn, `'params.conv' must be ${want} for convDepth ${depth}, but got { ${Object.keys(params.conv).join(', ')} }.`);
  }
  const a = options.anchorsPerLocation;
  const expected: Array<[string, ConvParams | undefined, number[]]> = [
    ...convLayers(params.conv).map(([name, p]): [string, ConvParams | undefined, number[]] => [name, p, [3, 3, inChannels, inChannels]]),
    ['cls_logits', params.cls_logits, [1, 1, inChannels, a * objectnessChannels(options.objectness)]],
    ['bbox_pred', params.bbox_pred, [1, 1, inChannels, 4 * a]],
  ];
  for (const [name, p, shape] of expected) {
    if (p == null) fail(fn, `'params.${name}' is missing.`);
    assertTensor(fn, `params.${name}.kernel`, p.kernel, 4);
    assertTensor(fn, `params.${name}.bias`, p.bias, 1);
    if (p.kernel.shape.join(',') !== shape.join(',') || p.bias.shape[0] !== shape[3]) {
      fail(
        fn,
        `'params.${name}' must have kernel [${shape.join(',')}] and bias [${shape[3]}] for ${inChannels} input channels and options ` +
          `${JSON.stringify(options)}, but got kernel [${p.kernel.shape.join(',')}] and bias [${p.bias.shape.join(',')}].`,
      );
    }
  }
}

/** The head on one map, params already checked. */
function applyHead(params: RpnParams<RpnConvDepth>, features: Tensor4D): RpnHeadOutputs {
  let t = features;
  for (const [, layer] of convLayers(params.conv) as Array<[string, ConvParams]>) {
    // A 3x3 stride-1 'same' convolution pads 1 on every side: torchvision's padding=1.
    t = fused.conv2d({ x: t, filter: layer.kernel, strides: 1, pad: 'same', bias: layer.bias, activation: 'relu' });
  }
  const objectness = fused.conv2d({ x: t, filter: params.cls_logits.kernel, strides: 1, pad: 'valid', bias: params.cls_logits.bias });
  const deltas = fused.conv2d({ x: t, filter: params.bbox_pred.kernel, strides: 1, pad: 'valid', bias: params.bbox_pred.bias });
  return { objectness, deltas };
}

/**
 * The RPN head on a feature map [N, H, W, C] (NHWC): 3x3 conv (padding 1, as torchvision's)
 * + ReLU (twice for `convDepth: 2`), then 1x1 convs for objectness and deltas. Outputs are
 * NHWC, so they flatten in the anchors' order (row, column, anchor: @lumen/anchors'
 * `gridAnchors`).
 */
export function rpnHead(params: RpnParams<RpnConvDepth>, features: Tensor4D, options: RpnHeadOptions<RpnConvDepth>): RpnHeadOutputs {
  const fn = 'rpnHead';
  assertTensor(fn, 'features', features, 4);
  checkParams(fn, params, features.shape[3], checkOptions(fn, options));
  return tidy(() => {
    const { objectness, deltas } = applyHead(params, features);
    return { objectness, deltas };
  });
}

/**
 * The RPN head on every map of a feature pyramid [N, H_l, W_l, C], one set of parameters
 * shared by the levels (torchvision's `RPNHead` on FPN's maps). Level l's outputs line up
 * with level l of @lumen/anchors' `pyramidAnchors`.
 */
export function rpnHeadLevels(params: RpnParams<RpnConvDepth>, maps: readonly Tensor4D[], options: RpnHeadOptions<RpnConvDepth>): RpnLevelOutputs {
  const fn = 'rpnHeadLevels';
  if (!Array.isArray(maps) || maps.length === 0) fail(fn, `'maps' must be a non-empty array of [N, H, W, C] maps, but got ${describe(maps)}.`);
  maps.forEach((m: unknown, l) => assertTensor(fn, `maps[${l}]`, m, 4));
  const [n, , , c] = maps[0].shape;
  maps.forEach((m, l) => {
    if (m.shape[0] !== n || m.shape[3] !== c) fail(fn, `'maps[${l}]' must have maps[0]'s batch size ${n} and ${c} channels, but got [${m.shape.join(',')}].`);
  });
  checkParams(fn, params, c, checkOptions(fn, options));
  return tidy(() => {
    const outputs = maps.map((m) => applyHead(params, m));
    return { objectness: outputs.map((o) => o.objectness), deltas: outputs.map((o) => o.deltas) };
  });
}
