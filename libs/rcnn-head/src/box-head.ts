import { fused, mean, reshape, tensor2d, tidy, type Tensor2D, type Tensor4D } from '@tensorflow/tfjs-core';
import { assertRng, assertTensor, describe, fail, isPositiveInteger, type ParamTree, type Rng } from '@lumen/core';
import { checkHeadSizes, type BoxHeadOptions } from './box-head-options';
import { convFcHead, type ConvFcHeadParams } from './conv-fc-head';
import { checkDense, initDense, type DenseParams } from './dense';

/** torchvision `TwoMLPHead`: fc6 [h·w·C, hidden], fc7 [hidden, hidden]. */
export type MlpHeadParams = { fc6: DenseParams; fc7: DenseParams };

export interface BoxHeadContext {
  /** Training step or inference: a tail with batch norm or dropout may behave differently. */
  training: boolean;
  /** Draws a tail's dropout masks; needed only when its dropout is active in training. */
  rng?: Rng;
}

export type BoxHeadName = 'mlp' | 'conv-fc' | 'resnet-tail' | 'vgg-fc';

/** The network between RoI pooling and the predictor: pooled [R, h, w, C] → features [R, D]. */
export interface BoxHead<P = ParamTree> {
  readonly name: BoxHeadName;
  init(options: BoxHeadOptions, rng: Rng): P;
  apply(params: P, pooled: Tensor4D, ctx: BoxHeadContext): Tensor2D;
  /** D, the width of `apply`'s output (the predictor's input). */
  outChannels(options: BoxHeadOptions): number;
}

/**
 * A backbone's tail (ResNet's layer4, VGG's fc6/fc7), handed in by the caller — this library
 * imports no backbone. `apply` may return [R, D], or a feature map [R, h', w', D] that the
 * head reduces: averaged over h', w' for `resnet-tail` (global average pool), flattened in
 * NHWC order for `vgg-fc`.
 */
export interface InjectedTail<P = ParamTree> {
  init(rng: Rng): P;
  apply(params: P, pooled: Tensor4D, ctx: BoxHeadContext): Tensor2D | Tensor4D;
  outChannels: number;
}

/**
 * torchvision's `TwoMLPHead`: flatten → fc6 → ReLU → fc7 → ReLU. The pooled features are
 * NHWC, so fc6's rows are in NHWC-flatten order, row `(y·w + x)·C + c`; torchvision
 * flattens NCHW (column `c·h·w + y·w + x` of its weight): `mlpFc6FromTorch` converts.
 */
const mlpHead: BoxHead<MlpHeadParams> = {
  name: 'mlp',
  init(options, rng) {
    const fn = 'mlpHead.init';
    const { inChannels, poolSize, hidden } = checkHeadSizes(fn, options);
    assertRng(fn, rng);
    return { fc6: initDense(inChannels * poolSize[0] * poolSize[1], hidden, rng), fc7: initDense(hidden, hidden, rng) };
  },
  apply(params, pooled, _ctx) {
    const fn = 'mlpHead.apply';
    assertTensor(fn, 'pooled', pooled, 4);
    const [r, h, w, c] = pooled.shape;
    if (params == null || typeof params !== 'object') fail(fn, `'params' must be { fc6, fc7 }, but got ${describe(params)}.`);
    checkDense(fn, 'fc6', params.fc6, h * w * c);
    checkDense(fn, 'fc7', params.fc7, params.fc6.kernel.shape[1], params.fc6.kernel.shape[1]);
    return tidy(() => {
      const x = reshape(pooled, [r, h * w * c]);
      const fc6 = fused.matMul({ a: x, b: params.fc6.kernel, bias: params.fc6.bias, activation: 'relu' });
      return fused.matMul({ a: fc6, b: params.fc7.kernel, bias: params.fc7.bias, activation: 'relu' }) as Tensor2D;
    });
  },
  outChannels(options) {
    return checkHeadSizes('mlpHead.outChannels', options).hidden;
  },
};

function tailHead<P>(name: 'resnet-tail' | 'vgg-fc', tail: InjectedTail<P>): BoxHead<P> {
  return {
    name,
    init(options, rng) {
      const fn = `${name}.init`;
      checkHeadSizes(fn, options);
      assertRng(fn, rng);
      return tail.init(rng);
    },
    apply(params, pooled, ctx) {
      const fn = `${name}.apply`;
      assertTensor(fn, 'pooled', pooled, 4);
      const out = tail.apply(params, pooled, ctx);
      if (out == null || (out.rank !== 2 && out.rank !== 4)) fail(fn, `the tail must return [R, D] or [R, h, w, D], but returned ${describe(out)}.`);
      if (out.rank === 2) return out as Tensor2D;
      const map = out as Tensor4D;
      const [r, h, w, d] = map.shape;
      const reduced = tidy(() => (name === 'resnet-tail' ? (mean(map, [1, 2]) as Tensor2D) : reshape(map, [r, h * w * d]) as Tensor2D));
      map.dispose();
      return reduced;
    },
    outChannels(options) {
      checkHeadSizes(`${name}.outChannels`, options);
      return tail.outChannels;
    },
  };
}

function checkTail<P>(fn: string, tail: unknown): asserts tail is InjectedTail<P> {
  const ok =
    tail != null &&
    typeof tail === 'object' &&
    typeof (tail as InjectedTail).init === 'function' &&
    typeof (tail as InjectedTail).apply === 'function' &&
    isPositiveInteger((tail as InjectedTail).outChannels);
  if (!ok) fail(fn, `'tail' must be { init(rng), apply(params, pooled, ctx), outChannels } (the backbone's tail), but got ${describe(tail)}.`);
}

/**
 * The box head called `name`: `mlp` (torchvision's TwoMLPHead) or `conv-fc` (its
 * FastRCNNConvFCHead with BatchNorm, the v2 model's), with parameters of their own;
 * `resnet-tail` or `vgg-fc` (the backbone's tail, passed in as `tail`: ResNet's layer4 +
 * global average pool, VGG's fc6/fc7). The parameter type follows the tail's (ParamTree
 * when none is given); `mlp` and `conv-fc` ignore a tail.
 */
export function getBoxHead(name: 'mlp'): BoxHead<MlpHeadParams>;
export function getBoxHead(name: 'conv-fc'): BoxHead<ConvFcHeadParams>;
export function getBoxHead<P = ParamTree>(name: BoxHeadName, tail?: InjectedTail<P>): BoxHead<P>;
export function getBoxHead<P = ParamTree>(name: BoxHeadName, tail?: InjectedTail<P>): BoxHead<P> {
  const fn = 'getBoxHead';
  if (name === 'mlp') return mlpHead as unknown as BoxHead<P>;
  if (name === 'conv-fc') return convFcHead as unknown as BoxHead<P>;
  if (name !== 'resnet-tail' && name !== 'vgg-fc') fail(fn, `'name' must be 'mlp', 'conv-fc', 'resnet-tail' or 'vgg-fc', but got ${JSON.stringify(name)}.`);
  if (tail === undefined) fail(fn, `'${name}' needs the backbone's tail: pass it as 'tail' ({ init, apply, outChannels }).`);
  checkTail<P>(fn, tail);
  return tailHead(name, tail);
}

/**
 * torchvision's `fc6.weight` [out, C·h·w] (columns in NCHW-flatten order) as the MLP head's
 * fc6 kernel [h·w·C, out] (rows in NHWC-flatten order): kernel[(y·w + x)·C + c][o] =
 * weight[o][c·h·w + y·w + x].
 */
export function mlpFc6FromTorch(weight: Float32Array | Tensor2D, inChannels: number, poolSize: [number, number]): Tensor2D {
  const fn = 'mlpFc6FromTorch';
  const { poolSize: size } = checkHeadSizes(fn, { inChannels, poolSize });
  const [h, w] = size;
  const features = inChannels * h * w;
  let values: Float32Array;
  if (weight instanceof Float32Array) {
    values = weight;
  } else {
    assertTensor(fn, 'weight', weight, 2);
    if (weight.shape[1] !== features) fail(fn, `'weight' must be [out, ${features}] (C·h·w columns), but got [${weight.shape.join(',')}].`);
    values = weight.dataSync() as Float32Array;
  }
  if (values.length % features !== 0) fail(fn, `'weight' must hold rows of C·h·w = ${features} values, but got ${values.length} values.`);
  const out = values.length / features;
  const kernel = new Float32Array(values.length);
  for (let o = 0; o < out; o++) {
    for (let c = 0; c < inChannels; c++) {
      for (let p = 0; p < h * w; p++) kernel[(p * inChannels + c) * out + o] = values[o * features + c * h * w + p];
    }
  }
  return tensor2d(kernel, [features, out]);
}

