import { fused, reshape, tidy, Variable, type Rank, type Tensor2D } from '@tensorflow/tfjs-core';
import { assertNumber, assertRng, assertString, assertTensor, describe, fail, isPositiveInteger, makeVariable, normalValues, type BatchNormParams, type Rng } from '@lumen/core';
import type { BoxHead } from './box-head';
import { checkHeadSizes, type BatchNormMode, type BoxHeadOptions, type HeadSizes } from './box-head-options';
import { convBnRelu } from './conv-bn';
import { checkDense, initDense, type DenseParams } from './dense';

/** conv 3x3 (no bias) -> BatchNorm2d -> ReLU: `kernel` [3, 3, in, out] (torchvision's OIHW weight as HWIO). */
export type ConvBnParams = { kernel: Variable<Rank.R4>; bn: BatchNormParams };

/**
 * torchvision `FastRCNNConvFCHead` with BatchNorm2d (fasterrcnn_resnet50_fpn_v2's box head):
 * four conv blocks, then `fc` [h·w·convChannels, hidden] on the flattened map.
 */
export type ConvFcHeadParams = { conv1: ConvBnParams; conv2: ConvBnParams; conv3: ConvBnParams; conv4: ConvBnParams; fc: DenseParams };

/** How an imported tensor converts: the part of @lumen/backbone's `ParamKind` this head uses. */
export type HeadParamKind = 'conv' | 'linear' | 'bias' | 'bn-weight' | 'bn-bias' | 'bn-mean' | 'bn-var';

/** One parameter of a head: Lumen's and torchvision's names, Lumen's shape, and how torchvision's tensor converts to it. */
export interface HeadParamSpec {
  /** Lumen's dotted name (the checkpoint name): `roi_heads.box_head.conv1.kernel`. */
  name: string;
  /** torchvision's state-dict name: `roi_heads.box_head.0.0.weight`. */
  torchName: string;
  /** Lumen's layout: conv kernels HWIO [kh, kw, in, out], linear kernels [in, out]. */
  shape: number[];
  kind: HeadParamKind;
  /** A linear layer fed by a flattened map: torch flattens it as [C, H, W], Lumen as [H, W, C]. */
  flattenFrom?: [channels: number, height: number, width: number];
}

/** Where a detector keeps its box head, in Lumen's params and in torchvision's state dict. */
export const BOX_HEAD_PREFIX = 'roi_heads.box_head';

/** torchvision's v2 head: `FastRCNNConvFCHead((256, 7, 7), [256] * 4, [1024])`. */
export const DEFAULT_CONV_FC_CHANNELS = 256;

const CONVS = ['conv1', 'conv2', 'conv3', 'conv4'] as const;
const KERNEL = 3;
const FIELDS = 'inChannels, poolSize, hidden?, convChannels?, batchNorm?';
/** torchvision's module index of the Linear: the conv blocks are 0-3, the Flatten 4. */
const TORCH_FC = CONVS.length + 1;

type ConvFcSizes = HeadSizes & { convChannels: number; batchNorm: BatchNormMode };

function checkOptions(fn: string, options: unknown): ConvFcSizes {
  const sizes = checkHeadSizes(fn, options, FIELDS);
  const { convChannels = DEFAULT_CONV_FC_CHANNELS, batchNorm = 'trainable' } = options as BoxHeadOptions;
  assertNumber(fn, 'convChannels', convChannels, 'a positive integer', isPositiveInteger);
  if (batchNorm !== 'frozen' && batchNorm !== 'trainable') fail(fn, `'batchNorm' must be 'frozen' or 'trainable', but got ${describe(batchNorm)}.`);
  return { ...sizes, convChannels, batchNorm };
}

/**
 * FastRCNNConvFCHead's init: kaiming_normal_(mode='fan_out', nonlinearity='relu') for the
 * kernel, std sqrt(2 / (out·3·3)); BatchNorm2d's weight 1, bias 0, running mean 0, variance 1.
 */
function initConvBn(inChannels: number, outChannels: number, trainableBn: boolean, rng: Rng): ConvBnParams {
  const std = Math.sqrt(2 / (outChannels * KERNEL * KERNEL));
  const constant = (value: number, trainable: boolean) => makeVariable<Rank.R1>(new Float32Array(outChannels).fill(value), [outChannels], trainable);
  return {
    kernel: makeVariable<Rank.R4>(normalValues(KERNEL * KERNEL * inChannels * outChannels, std, rng), [KERNEL, KERNEL, inChannels, outChannels]),
    bn: { weight: constant(1, trainableBn), bias: constant(0, trainableBn), running_mean: constant(0, false), running_var: constant(1, false) },
  };
}

/** The block's output channels; its kernel must take `inChannels`. */
function checkConvBn(fn: string, name: string, p: unknown, inChannels: number): number {
  if (p == null || typeof p !== 'object') fail(fn, `'params.${name}' must be { kernel, bn }, but got ${describe(p)}.`);
  const { kernel, bn } = p as Partial<ConvBnParams>;
  assertTensor<Rank.R4>(fn, `params.${name}.kernel`, kernel, 4);
  const [kh, kw, inC, outC] = kernel.shape;
  if (kh !== KERNEL || kw !== KERNEL || inC !== inChannels) {
    fail(fn, `'params.${name}.kernel' must be [${KERNEL}, ${KERNEL}, ${inChannels}, out], but got [${kernel.shape.join(',')}].`);
  }
  if (bn == null || typeof bn !== 'object') fail(fn, `'params.${name}.bn' must be { weight, bias, running_mean, running_var }, but got ${describe(bn)}.`);
  for (const field of ['weight', 'bias', 'running_mean', 'running_var'] as const) {
    const v: unknown = bn[field];
    // Variables: training mode assigns the running statistics and reads weight.trainable.
    if (!(v instanceof Variable) || v.rank !== 1 || v.shape[0] !== outC) {
      fail(fn, `'params.${name}.bn.${field}' must be a tf.Variable of shape [${outC}], but got ${describe(v)}.`);
    }
  }
  return outC;
}

/**
 * torchvision's `FastRCNNConvFCHead` as fasterrcnn_resnet50_fpn_v2 builds it: 4 x (conv 3x3
 * pad 1, no bias -> BatchNorm2d -> ReLU) -> flatten -> fc -> ReLU. The map is NHWC, so fc's
 * kernel rows are in NHWC-flatten order, row `(y·w + x)·C + c`; torchvision's `5.weight`
 * columns are NCHW-flatten, `c·h·w + y·w + x` (`flattenFrom` in the param specs).
 * BatchNorm: with `batchNorm: 'trainable'` (default) training uses batch statistics and
 * updates the running ones; frozen, or at inference, the running statistics.
 */
export const convFcHead: BoxHead<ConvFcHeadParams> = {
  name: 'conv-fc',
  init(options, rng) {
    const fn = 'convFcHead.init';
    const { inChannels, poolSize, hidden, convChannels, batchNorm } = checkOptions(fn, options);
    assertRng(fn, rng);
    const trainableBn = batchNorm === 'trainable';
    const [conv1, conv2, conv3, conv4] = CONVS.map((_, i) => initConvBn(i === 0 ? inChannels : convChannels, convChannels, trainableBn, rng));
    return { conv1, conv2, conv3, conv4, fc: initDense(poolSize[0] * poolSize[1] * convChannels, hidden, rng) };
  },
  apply(params, pooled, ctx) {
    const fn = 'convFcHead.apply';
    assertTensor<Rank.R4>(fn, 'pooled', pooled, 4);
    if (params == null || typeof params !== 'object') fail(fn, `'params' must be { conv1, conv2, conv3, conv4, fc }, but got ${describe(params)}.`);
    if (ctx == null || typeof ctx.training !== 'boolean') fail(fn, `'ctx' must be { training: boolean }, but got ${describe(ctx)}.`);
    const [r, h, w] = pooled.shape;
    const channels = CONVS.reduce((inC, key) => checkConvBn(fn, key, params[key], inC), pooled.shape[3]);
    checkDense(fn, 'fc', params.fc, h * w * channels);
    return tidy(() => {
      const map = CONVS.reduce((x, key) => convBnRelu(x, params[key].kernel, params[key].bn, ctx.training), pooled);
      return fused.matMul({ a: reshape(map, [r, h * w * channels]), b: params.fc.kernel, bias: params.fc.bias, activation: 'relu' }) as Tensor2D;
    });
  },
  outChannels(options) {
    return checkOptions('convFcHead.outChannels', options).hidden;
  },
};

/**
 * The conv-fc head's parameters in `init`'s order with torchvision's names: conv block i
 * (0-based) is module `i` of FastRCNNConvFCHead (`i.0` the conv, `i.1` the BatchNorm2d),
 * module 4 the Flatten, 5 the Linear. Both names under `prefix` ('' for names within the
 * head's params). torchvision's `i.1.num_batches_tracked` counters have no counterpart:
 * BatchNorm with momentum 0.1 never reads them.
 */
export function convFcHeadParamSpecs(options: BoxHeadOptions, prefix = BOX_HEAD_PREFIX): HeadParamSpec[] {
  const fn = 'convFcHeadParamSpecs';
  const { inChannels, poolSize, hidden, convChannels } = checkOptions(fn, options);
  if (prefix !== '') assertString(fn, 'prefix', prefix);
  const at = (name: string) => (prefix === '' ? name : `${prefix}.${name}`);
  const specs: HeadParamSpec[] = [];
  CONVS.forEach((key, i) => {
    const inC = i === 0 ? inChannels : convChannels;
    specs.push({ name: at(`${key}.kernel`), torchName: at(`${i}.0.weight`), shape: [KERNEL, KERNEL, inC, convChannels], kind: 'conv' });
    const bn = (field: keyof BatchNormParams, kind: HeadParamKind): HeadParamSpec => ({ name: at(`${key}.bn.${field}`), torchName: at(`${i}.1.${field}`), shape: [convChannels], kind });
    specs.push(bn('weight', 'bn-weight'), bn('bias', 'bn-bias'), bn('running_mean', 'bn-mean'), bn('running_var', 'bn-var'));
  });
  const flattened = poolSize[0] * poolSize[1] * convChannels;
  specs.push(
    { name: at('fc.kernel'), torchName: at(`${TORCH_FC}.weight`), shape: [flattened, hidden], kind: 'linear', flattenFrom: [convChannels, poolSize[0], poolSize[1]] },
    { name: at('fc.bias'), torchName: at(`${TORCH_FC}.bias`), shape: [hidden], kind: 'bias' },
  );
  return specs;
}
