import {
  add,
  cast,
  conv2d,
  customGrad,
  depthwiseConv2d,
  div,
  dropout,
  engine,
  fused,
  getBackend,
  getKernel,
  greater,
  less,
  lessEqual,
  logicalAnd,
  mul,
  onesLike,
  relu,
  relu6,
  Variable,
  where,
  zeros,
  zerosLike,
  type GradSaveFunc,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor4D,
} from '@tensorflow/tfjs-core';
import {
  batchNormScaleShift,
  batchNormTraining,
  fail,
  foldBatchNorm,
  LumenHardSigmoid,
  LumenHardSigmoidGrad,
  LumenHardSwish,
  LumenHardSwishGrad,
  type BatchNormParams,
  type ParamTree,
} from '@lumen/core';
import type { ForwardContext, ParamInit, ParamSpec } from './types';

// Layers with torchvision's arithmetic: explicit symmetric padding (a k x k conv pads
// (k - 1) / 2 on every side — tfjs 'same' pads stride-2 windows bottom/right only),
// BatchNorm2d (@lumen/core's) with torch's default eps 1e-5 and momentum 0.1 unless the
// context says otherwise.

export type Activation = 'linear' | 'relu' | 'relu6' | 'hardswish';

/** What the layers read: the forward context and the BatchNorm constants (default @lumen/core's BN_EPS, BN_MOMENTUM). */
export interface LayerContext extends ForwardContext {
  bnEps?: number;
  bnMomentum?: number;
}

// ---------------------------------------------------------------------------------------
// parameter specs (torchvision's initialisation)

/** kaiming_normal_(mode='fan_out', nonlinearity='relu'): std sqrt(2 / fan_out), fan_out = size(0)·kh·kw. */
function kaimingFanOut(fanOut: number): ParamInit {
  return { type: 'normal', std: Math.sqrt(2 / fanOut) };
}

/** A conv kernel [k, k, in, out] (torch [out, in, k, k]). */
export function convSpec(path: string, k: number, inC: number, outC: number, stage: number): ParamSpec {
  return { name: `${path}.kernel`, torchName: `${path}.weight`, kind: 'conv', shape: [k, k, inC, outC], stage, init: kaimingFanOut(outC * k * k) };
}

/** A depthwise kernel [k, k, channels, 1] (torch [channels, 1, k, k], groups = channels). */
export function depthwiseSpec(path: string, k: number, channels: number, stage: number): ParamSpec {
  return { name: `${path}.kernel`, torchName: `${path}.weight`, kind: 'depthwise', shape: [k, k, channels, 1], stage, init: kaimingFanOut(channels * k * k) };
}

export function biasSpec(path: string, channels: number, stage: number): ParamSpec {
  return { name: `${path}.bias`, torchName: `${path}.bias`, kind: 'bias', shape: [channels], stage, init: { type: 'constant', value: 0 } };
}

/** A linear kernel [in, out] (torch [out, in]), normal(0, 0.01) as torchvision's VGG. */
export function linearSpec(path: string, inC: number, outC: number, stage: number, flattenFrom?: [number, number, number]): ParamSpec {
  const spec: ParamSpec = { name: `${path}.kernel`, torchName: `${path}.weight`, kind: 'linear', shape: [inC, outC], stage, init: { type: 'normal', std: 0.01 } };
  if (flattenFrom != null) spec.flattenFrom = flattenFrom;
  return spec;
}

/** BatchNorm2d: weight 1, bias 0, running_mean 0, running_var 1 (torch's names). */
export function batchNormSpecs(path: string, channels: number, stage: number): ParamSpec[] {
  const one = (field: string, kind: ParamSpec['kind'], value: number): ParamSpec => ({
    name: `${path}.${field}`,
    torchName: `${path}.${field}`,
    kind,
    shape: [channels],
    stage,
    init: { type: 'constant', value },
  });
  return [one('weight', 'bn-weight', 1), one('bias', 'bn-bias', 0), one('running_mean', 'bn-mean', 0), one('running_var', 'bn-var', 1)];
}

// ---------------------------------------------------------------------------------------
// reading params

/** `tree[key]` as a subtree; a missing key is an error naming the path. */
export function child(fn: string, tree: ParamTree, key: string, path: string): ParamTree {
  const value = tree[key];
  if (value == null || value instanceof Variable || typeof value !== 'object') fail(fn, `params lack the module '${path}${key}'.`);
  return value;
}

export function leaf(fn: string, tree: ParamTree, key: string, path: string): Variable {
  const value = tree[key];
  if (!(value instanceof Variable)) fail(fn, `params lack the tf.Variable '${path}${key}'.`);
  return value;
}

/** Dimension `axis` of a variable's shape. */
export function dim(v: Variable, axis: number): number {
  return (v.shape as number[])[axis];
}

export function bnOf(fn: string, tree: ParamTree, key: string, path: string): BatchNormParams {
  const bn = child(fn, tree, key, path);
  for (const field of ['weight', 'bias', 'running_mean', 'running_var']) leaf(fn, bn, field, `${path}${key}.`);
  return bn as BatchNormParams;
}

// ---------------------------------------------------------------------------------------
// forward

export interface ConvGeometry {
  stride: number;
  /** Symmetric zero padding on every side (torch's `padding`). */
  pad: number;
  depthwise?: boolean;
}

/** The fused kernels of an element-wise op: {x} -> y and {dy, x} -> dx (@lumen/core's kernel-names.ts). */
interface FusedKernels {
  forward: string;
  gradient: string;
}

/**
 * An element-wise op with torch's backward written out: the tape keeps `x` only, and the
 * derivative at the kinks is torch's (autodiff through relu6 differs at x = -3 or 3).
 * Where the active backend registers both `kernels` (@lumen/runtime does for wasm and native)
 * each direction is one kernel instead of the 3-9 element-wise ops (and fresh tensors) of
 * `forward` and `derivative`, which they equal to the bit (NaN stays NaN, as in torch; wasm's
 * own relu6 makes it 0); float32 only, as they are.
 */
function elementwise(kernels: FusedKernels, forward: (x: Tensor) => Tensor, derivative: (x: Tensor) => Tensor): <T extends Tensor>(x: T) => T {
  const op = (fusedKernels: boolean) =>
    customGrad((...args: Array<Tensor | GradSaveFunc>) => {
      const [x, save] = args as [Tensor, GradSaveFunc];
      save([x]);
      return {
        value: fusedKernels ? (engine().runKernel(kernels.forward, { x }) as Tensor) : forward(x),
        gradFunc: (dy: Tensor, [saved]: Tensor[]) =>
          fusedKernels ? (engine().runKernel(kernels.gradient, { dy, x: saved }) as Tensor) : mul(dy, derivative(saved)),
      };
    });
  const [fusedOp, composedOp] = [op(true), op(false)];
  return <T extends Tensor>(x: T) => {
    const backend = getBackend();
    const fusedHere = x.dtype === 'float32' && getKernel(kernels.forward, backend) != null && getKernel(kernels.gradient, backend) != null;
    return (fusedHere ? fusedOp : composedOp)(x) as T;
  };
}

/** torch's Hardswish x·relu6(x + 3)/6; backward 0 below -3, x/3 + 1/2 up to 3, then 1. */
export const hardSwish = elementwise(
  { forward: LumenHardSwish, gradient: LumenHardSwishGrad },
  (x) => mul(x, mul(relu6(add(x, 3)), 1 / 6)),
  (x) => where(less(x, -3), zerosLike(x), where(lessEqual(x, 3), add(div(x, 3), 0.5), onesLike(x))),
);

/** torch's Hardsigmoid relu6(x + 3)/6; backward 1/6 strictly between -3 and 3, else 0. */
export const hardSigmoid = elementwise(
  { forward: LumenHardSigmoid, gradient: LumenHardSigmoidGrad },
  (x) => mul(relu6(add(x, 3)), 1 / 6),
  (x) => mul(cast(logicalAnd(greater(x, -3), less(x, 3)), 'float32'), 1 / 6),
);

function activate(x: Tensor4D, activation: Activation): Tensor4D {
  if (activation === 'hardswish') return hardSwish(x);
  return activation === 'relu' ? relu(x) : activation === 'relu6' ? relu6(x) : x;
}

/** What a fused conv applies itself (it has no hardswish: that runs after it). */
function fusedActivation(activation: Activation): Exclude<Activation, 'hardswish'> {
  return activation === 'hardswish' ? 'linear' : activation;
}

/**
 * conv (no bias) -> BatchNorm2d -> activation.
 *
 * Batch statistics are used when the BN is trainable (`weight.trainable`) and the context
 * is training; the running averages are then updated in place by `assign` (momentum 0.1;
 * running_var from the unbiased variance, as torch). Otherwise BN is the affine map of the
 * running statistics, y = conv(x)·scale + shift, computed where it is cheaper:
 * - folded into the conv (kernel·scale, shift as the fused bias) — one fused conv, no extra
 *   pass over the activation and fewer activations kept by the tape (memory is what limits
 *   ResNet-50 training on wasm's 4 GB heap at 608x800);
 * - on the output (conv, ·scale, +shift, activation: three passes over it) only where that
 *   touches fewer numbers than scaling the kernel once: 3·pixels < kh·kw·in (a few RoIs
 *   through ResNet's layer4, the tiny maps of tests).
 */
export function convBn(x: Tensor4D, kernel: Variable, bn: BatchNormParams, geometry: ConvGeometry, activation: Activation, ctx: LayerContext): Tensor4D {
  const { stride, pad, depthwise = false } = geometry;
  if (ctx.training && bn.weight.trainable) {
    const y = depthwise ? depthwiseConv2d(x, kernel as Tensor4D, stride, pad) : conv2d(x, kernel as Tensor4D, stride, pad);
    // A ReLU runs inside the BatchNorm kernels where the backend has them.
    if (activation === 'relu') return batchNormTraining(y, bn, ctx.bnEps, ctx.bnMomentum, true);
    return activate(batchNormTraining(y, bn, ctx.bnEps, ctx.bnMomentum), activation);
  }
  const [kh, kw, inC] = kernel.shape as number[];
  const [n, h, w] = x.shape;
  const outPixels = n * convOutput(h, kh, stride, pad) * convOutput(w, kw, stride, pad);
  const fusedAct = fusedActivation(activation);
  const after = (y: Tensor4D) => (activation === 'hardswish' ? hardSwish(y) : y);
  if (depthwise) {
    const { filter, bias } = foldBatchNorm(kernel as Tensor4D, bn, ctx.bnEps, depthwise);
    return after(fused.depthwiseConv2d({ x, filter, strides: stride, pad, bias, activation: fusedAct }));
  }
  if (3 * outPixels >= kh * kw * inC) {
    const { filter, bias } = foldBatchNorm(kernel as Tensor4D, bn, ctx.bnEps);
    return after(fused.conv2d({ x, filter, strides: stride, pad, bias, activation: fusedAct }));
  }
  const { scale, shift } = batchNormScaleShift(bn, ctx.bnEps);
  return activate(add(mul(conv2d(x, kernel as Tensor4D, stride, pad), scale), shift), activation);
}

/** torch's output size of a conv or pool (floor mode). */
export function convOutput(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

/** conv + bias -> activation (VGG, squeeze-excitation). */
export function convBias(x: Tensor4D, kernel: Variable, bias: Variable, geometry: ConvGeometry, activation: Exclude<Activation, 'hardswish'>): Tensor4D {
  return fused.conv2d({ x, filter: kernel as Tensor4D, strides: geometry.stride, pad: geometry.pad, bias: bias as Tensor1D, activation });
}

/** x·kernel + bias -> activation. */
export function linear(x: Tensor2D, kernel: Variable, bias: Variable, activation: Exclude<Activation, 'hardswish'>): Tensor2D {
  return fused.matMul({ a: x, b: kernel as Tensor2D, bias: bias as Tensor1D, activation }) as Tensor2D;
}

/** Whether no variable of a subtree is trainable. */
export function allFrozen(tree: ParamTree): boolean {
  for (const value of Object.values(tree)) {
    if (value instanceof Variable ? value.trainable : !allFrozen(value)) return false;
  }
  return true;
}

/** One stage of a body: how to run it, and whether all its variables are frozen. */
export interface Stage {
  run(x: Tensor4D): Tensor4D;
  frozen: boolean;
}

/** Runs a body's stages in order (`runStageOutputs` with the last output wanted). */
export function runStages(stages: readonly Stage[], x: Tensor4D): Tensor4D {
  return runStageOutputs(stages, x, [stages.length - 1])[0];
}

/**
 * Runs stages 0 … max(wanted) in order and returns the outputs of the `wanted` ones
 * (ascending indices). The leading frozen stages (Detectron's FREEZE_AT: a stop-gradient
 * after them) run inside customGrad forwards — one per stretch ending at a wanted output or
 * at the last frozen stage — where tfjs records nothing on the gradient tape: their
 * activations are not kept for a backward pass that would never use them (at 608x800 the
 * stem and layer1 hold hundreds of MB). No gradient flows through them, to the images neither.
 */
export function runStageOutputs(stages: readonly Stage[], x: Tensor4D, wanted: readonly number[]): Tensor4D[] {
  const last = wanted[wanted.length - 1];
  let frozen = 0;
  while (frozen <= last && stages[frozen].frozen) frozen++;
  const outputs: Tensor4D[] = [];
  let y = x;
  let start = 0;
  // The frozen stretches: each ends at a wanted output or at the last frozen stage.
  const ends = frozen === 0 ? [] : [...new Set([...wanted.filter((i) => i < frozen - 1), frozen - 1])];
  for (const end of ends) {
    const from = start;
    const stopped = customGrad((...args: Array<Tensor | GradSaveFunc>) => {
      const input = args[0] as Tensor4D;
      return {
        value: stages.slice(from, end + 1).reduce((t, stage) => stage.run(t), input),
        // The shape, not the input: a stretch's input may be an output the caller has disposed.
        gradFunc: (_dy: Tensor) => [zeros(input.shape)] as Tensor[],
      };
    });
    y = stopped(y) as Tensor4D;
    if (wanted.includes(end)) outputs.push(y);
    start = end + 1;
  }
  for (let i = start; i <= last; i++) {
    y = stages[i].run(y);
    if (wanted.includes(i)) outputs.push(y);
  }
  return outputs;
}

/** Inverted dropout (torch's: kept values scaled by 1 / (1 - rate)), seeded from ctx.rng. */
export function maybeDropout<T extends Tensor2D>(fn: string, x: T, rate: number, ctx: ForwardContext): T {
  if (!ctx.training || rate === 0) return x;
  if (typeof ctx.rng !== 'function') fail(fn, `dropout ${rate} in training draws its masks from 'ctx.rng', but got none.`);
  return dropout(x, rate, undefined, Math.floor(ctx.rng() * 2 ** 31)) as T;
}
