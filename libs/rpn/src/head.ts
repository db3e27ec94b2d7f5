import { fused, tidy, type Rank, type Tensor4D, type Variable } from '@tensorflow/tfjs-core';
import { assertNumber, assertOptions, assertRng, assertTensor, fail, isPositiveInteger, makeVariable, normalValues, type Rng } from '@lumen/core';

/**
 * How objectness is predicted: `sigmoid` — one logit per anchor (torchvision); `softmax` —
 * two logits per anchor, background and foreground (the original paper, Luminoth).
 */
export type ObjectnessMode = 'sigmoid' | 'softmax';

export interface RpnHeadOptions {
  /** Anchors per feature-map location, A (sizes x ratios; 15 for 5 sizes x 3 ratios). */
  anchorsPerLocation: number;
  objectness: ObjectnessMode;
}

/** A convolution's parameters: `kernel` HWIO [kh, kw, in, out], `bias` [out]. */
export type ConvParams = { kernel: Variable<Rank.R4>; bias: Variable<Rank.R1> };

/**
 * The RPN head's parameters, named as torchvision's `RPNHead` (`rpn.head.conv.0.0` is
 * `conv` here): `conv` 3x3 in→in, `cls_logits` 1x1 in→A (softmax: 2A), `bbox_pred` 1x1
 * in→4A. Kernels are HWIO (torchvision's OIHW transposed by [2, 3, 1, 0]).
 */
export type RpnParams = { conv: ConvParams; cls_logits: ConvParams; bbox_pred: ConvParams };

export interface RpnHeadOutputs {
  /** Logits [N, H, W, A] (sigmoid) or [N, H, W, 2A] with channel `2a` background, `2a + 1` foreground (softmax). */
  objectness: Tensor4D;
  /** Box deltas [N, H, W, 4A], channel `4a + k` for (dx, dy, dw, dh) — torchvision's layout. */
  deltas: Tensor4D;
}

function checkOptions(fn: string, options: unknown): RpnHeadOptions {
  assertOptions(fn, options, 'anchorsPerLocation, objectness');
  assertNumber(fn, 'anchorsPerLocation', options.anchorsPerLocation, 'a positive integer', isPositiveInteger);
  if (options.objectness !== 'sigmoid' && options.objectness !== 'softmax') {
    fail(fn, `'objectness' must be 'sigmoid' or 'softmax', but got ${JSON.stringify(options.objectness)}.`);
  }
  return options as unknown as RpnHeadOptions;
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
 * N(0, 0.01²), biases 0. Draws from `rng` in the order conv, cls_logits, bbox_pred.
 */
export function initRpnHead(options: RpnHeadOptions, inChannels: number, rng: Rng): RpnParams {
  const fn = 'initRpnHead';
  const { anchorsPerLocation: a, objectness } = checkOptions(fn, options);
  assertNumber(fn, 'inChannels', inChannels, 'a positive integer', isPositiveInteger);
  assertRng(fn, rng);
  return {
    conv: conv(3, inChannels, inChannels, rng),
    cls_logits: conv(1, inChannels, a * objectnessChannels(objectness), rng),
    bbox_pred: conv(1, inChannels, 4 * a, rng),
  };
}

function checkParams(fn: string, params: RpnParams, inChannels: number, options: RpnHeadOptions): void {
  if (params == null || typeof params !== 'object') fail(fn, `'params' must be { conv, cls_logits, bbox_pred }, but got ${typeof params}.`);
  const a = options.anchorsPerLocation;
  const expected: Record<keyof RpnParams, number[]> = {
    conv: [3, 3, inChannels, inChannels],
    cls_logits: [1, 1, inChannels, a * objectnessChannels(options.objectness)],
    bbox_pred: [1, 1, inChannels, 4 * a],
  };
  for (const [name, shape] of Object.entries(expected) as Array<[keyof RpnParams, number[]]>) {
    const p = params[name];
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

/**
 * The RPN head on a feature map [N, H, W, C] (NHWC): 3x3 conv (padding 1, as torchvision's)
 * + ReLU, then 1x1 convs for objectness and deltas. Outputs are NHWC, so they flatten in
 * the anchors' order (row, column, anchor: @lumen/anchors' `gridAnchors`).
 */
export function rpnHead(params: RpnParams, features: Tensor4D, options: RpnHeadOptions): RpnHeadOutputs {
  const fn = 'rpnHead';
  assertTensor(fn, 'features', features, 4);
  const checked = checkOptions(fn, options);
  checkParams(fn, params, features.shape[3], checked);
  return tidy(() => {
    // A 3x3 stride-1 'same' convolution pads 1 on every side: torchvision's padding=1.
    const t = fused.conv2d({ x: features, filter: params.conv.kernel, strides: 1, pad: 'same', bias: params.conv.bias, activation: 'relu' });
    const objectness = fused.conv2d({ x: t, filter: params.cls_logits.kernel, strides: 1, pad: 'valid', bias: params.cls_logits.bias });
    const deltas = fused.conv2d({ x: t, filter: params.bbox_pred.kernel, strides: 1, pad: 'valid', bias: params.bbox_pred.bias });
    return { objectness, deltas };
  });
}
