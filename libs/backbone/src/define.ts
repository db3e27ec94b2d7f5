import { tidy, type Tensor2D, type Tensor4D } from '@tensorflow/tfjs-core';
import { convOutput, runStageOutputs, type LayerContext, type Stage } from './layers';
import { backboneOptionsOf, buildParams, DEFAULT_OPTIONS, resolveOptions } from './params';
import { assertNumber, assertRng, assertTensor, BN_EPS, BN_MOMENTUM, drawSeed, fail, seededNormalValues, type Rng } from '@lumen/core';
import type { Backbone, BackboneOptionsInput, BackboneParams, FeatureLevel, ForwardContext, ParamSpec, ResolvedBackboneOptions, TailKind } from './types';
import { describe } from './validate';

/** One module of the trunk, named by its torchvision path (`layer2`, `features.7`). */
export interface TrunkStep extends Stage {
  name: string;
}

/**
 * What one architecture file provides; `defineBackbone` adds argument checks, option
 * defaults and `init`. The forward functions read the structure from the params
 * themselves (which modules exist, kernel shapes) and only `tailStride` / `dropout` and the
 * BatchNorm constants from the options the params were made with.
 */
export interface BackboneDefinition {
  name: string;
  stages: readonly string[];
  bodyChannels(options: ResolvedBackboneOptions): number;
  tailChannels(options: ResolvedBackboneOptions): number;
  tailKind: TailKind;
  /** Default null: the tail takes any RoI size. */
  tailRoiSize?: number;
  /** The architecture's BatchNorm2d constants (torchvision's for the model); default torch's eps 1e-5, momentum 0.1. */
  batchNorm?: { eps: number; momentum: number };
  paramSpecs(options: ResolvedBackboneOptions): ParamSpec[];
  /** The strided layers of the body, in order, as (kernel, stride, pad). */
  bodyStrides: readonly (readonly [kernel: number, stride: number, pad: number])[];
  /** Channels of the body's input and output, read from params (checks the inputs). */
  channelsOf(params: BackboneParams): { input: number; body: number };
  body(params: BackboneParams, images: Tensor4D, ctx: LayerContext, options: ResolvedBackboneOptions): Tensor4D;
  /** `fn` names the public function in errors. */
  tail(params: BackboneParams, pooled: Tensor4D, ctx: LayerContext, options: ResolvedBackboneOptions, fn: string): Tensor2D;
  /** The layers `features` can return, each the output of a trunk step of that name. Default none. */
  featureLevels?(options: ResolvedBackboneOptions): FeatureLevel[];
  /** The trunk as the classifier runs it, step by step (at least up to the last level). */
  trunk?(params: BackboneParams, ctx: LayerContext, options: ResolvedBackboneOptions, fn: string): TrunkStep[];
}

/**
 * Initial values for one parameter. Normal draws come from a stream of their own, seeded by
 * one draw of `rng`: a call to the caller's closure per value would cost more than the math
 * (ResNet-50 has 25M values). Deterministic given `rng`.
 */
export function initialValue(fn: string, spec: ParamSpec, rng: Rng): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  return spec.init.type === 'normal' ? seededNormalValues(size, spec.init.std, drawSeed(fn, rng)) : new Float32Array(size).fill(spec.init.value);
}

function checkContext(fn: string, ctx: unknown): asserts ctx is ForwardContext {
  if (ctx === null || typeof ctx !== 'object' || typeof (ctx as ForwardContext).training !== 'boolean') {
    fail(fn, `'ctx' must be { training: boolean }, but got ${describe(ctx)}.`);
  }
}

function checkParams(fn: string, params: unknown): asserts params is BackboneParams {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) fail(fn, `'params' must be the nested params of init or importWeights, but got ${describe(params)}.`);
}

export function defineBackbone(def: BackboneDefinition): Backbone {
  const stageCount = def.stages.length;
  const bodySize = (fn: string, height: number, width: number): [number, number] => {
    for (const [name, v] of [['height', height], ['width', width]] as const) {
      assertNumber(fn, name, v, 'a positive integer', (x) => Number.isInteger(x) && x > 0);
    }
    let h = height;
    let w = width;
    for (const [k, s, p] of def.bodyStrides) {
      h = convOutput(h, k, s, p);
      w = convOutput(w, k, s, p);
      if (h < 1 || w < 1) fail(fn, `an input of ${height}x${width} is too small for ${def.name} (its stride-16 map would be empty).`);
    }
    return [h, w];
  };
  const resolve = (fn: string, options: BackboneOptionsInput | undefined) => resolveOptions(`${def.name}.${fn}`, options, stageCount);
  /** tailStride, dropout and the BN constants come from the params' own options (defaults for hand-made params). */
  const optionsOf = (params: BackboneParams) => backboneOptionsOf(params) ?? DEFAULT_OPTIONS;
  const batchNorm = def.batchNorm ?? { eps: BN_EPS, momentum: BN_MOMENTUM };
  const layerContext = (ctx: ForwardContext, options: ResolvedBackboneOptions): LayerContext => ({
    ...ctx,
    bnEps: options.bnEps ?? batchNorm.eps,
    bnMomentum: options.bnMomentum ?? batchNorm.momentum,
  });
  const levelsOf = (options: ResolvedBackboneOptions) => def.featureLevels?.(options) ?? [];
  const checkInputs = (fn: string, params: BackboneParams, images: Tensor4D, ctx: ForwardContext): void => {
    checkParams(fn, params);
    checkContext(fn, ctx);
    assertTensor(fn, 'images', images, 4, ['float32'], 'NHWC');
    const { input } = def.channelsOf(params);
    if (images.shape[3] !== input) fail(fn, `'images' must have ${input} channels (NHWC), but got a tensor of shape [${images.shape.join(',')}].`);
    bodySize(fn, images.shape[1], images.shape[2]);
  };
  return {
    name: def.name,
    bodyStride: 16,
    stages: def.stages,
    bodyChannels: (options) => def.bodyChannels(resolve('bodyChannels', options)),
    tailChannels: (options) => def.tailChannels(resolve('tailChannels', options)),
    tailKind: def.tailKind,
    tailRoiSize: def.tailRoiSize ?? null,
    bodySize: (height, width) => bodySize(`${def.name}.bodySize`, height, width),
    paramSpecs: (options) => def.paramSpecs(resolve('paramSpecs', options)),
    init(options, rng) {
      const fn = `${def.name}.init`;
      const resolved = resolve('init', options);
      assertRng(fn, rng);
      return buildParams(def.paramSpecs(resolved), resolved, (spec) => initialValue(fn, spec, rng));
    },
    body(params, images, ctx) {
      checkInputs(`${def.name}.body`, params, images, ctx);
      const options = optionsOf(params);
      return def.body(params, images, layerContext(ctx, options), options);
    },
    tail(params, pooled, ctx) {
      const fn = `${def.name}.tail`;
      checkParams(fn, params);
      checkContext(fn, ctx);
      assertTensor(fn, 'pooled', pooled, 4, ['float32'], 'NHWC');
      const { body } = def.channelsOf(params);
      if (pooled.shape[3] !== body) fail(fn, `'pooled' must have the body's ${body} channels (NHWC), but got a tensor of shape [${pooled.shape.join(',')}].`);
      const options = optionsOf(params);
      return def.tail(params, pooled, layerContext(ctx, options), options, fn);
    },
    featureLevels: (options) => levelsOf(resolve('featureLevels', options)),
    features(params, images, names, ctx) {
      const fn = `${def.name}.features`;
      checkInputs(fn, params, images, ctx);
      const options = optionsOf(params);
      const levels = levelsOf(options).map((l) => l.name);
      const trunk = def.trunk;
      if (levels.length === 0 || trunk == null) fail(fn, `${def.name} has no feature levels (its one map is the body's).`);
      const known = `level names of ${def.name} with tailStride ${options.tailStride} (${levels.join(', ')})`;
      if (!Array.isArray(names) || names.length === 0) fail(fn, `'names' must be a non-empty array of ${known}, but got ${describe(names)}.`);
      for (const name of names) {
        if (typeof name !== 'string' || !levels.includes(name)) fail(fn, `'names' must hold ${known}, but got ${describe(name)}.`);
      }
      if (new Set(names).size !== names.length) fail(fn, `'names' must not repeat a level, but got [${names.join(', ')}].`);
      const steps = trunk(params, layerContext(ctx, options), options, fn);
      const wanted = steps.flatMap((step, i) => (names.includes(step.name) ? [i] : []));
      return tidy(() => {
        const outputs = runStageOutputs(steps, images, wanted);
        return names.map((name) => outputs[wanted.findIndex((i) => steps[i].name === name)]);
      });
    },
  };
}
