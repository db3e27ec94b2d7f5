import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { convOutput } from './layers';
import { backboneOptionsOf, buildParams, DEFAULT_OPTIONS, resolveOptions } from './params';
import { assertNumber, assertRng, assertTensor, drawSeed, fail, seededNormalValues, type Rng } from '@lumen/core';
import type { Backbone, BackboneOptionsInput, BackboneParams, ForwardContext, ParamSpec, ResolvedBackboneOptions, TailKind } from './types';
import { describe } from './validate';

/**
 * What one architecture file provides; `defineBackbone` adds argument checks, option
 * defaults and `init`. The forward functions read the structure from the params
 * themselves (which modules exist, kernel shapes) and only `tailStride` / `dropout` from
 * the options the params were made with.
 */
export interface BackboneDefinition {
  name: string;
  stages: readonly string[];
  bodyChannels(options: ResolvedBackboneOptions): number;
  tailChannels(options: ResolvedBackboneOptions): number;
  tailKind: TailKind;
  /** Default null: the tail takes any RoI size. */
  tailRoiSize?: number;
  paramSpecs(options: ResolvedBackboneOptions): ParamSpec[];
  /** The strided layers of the body, in order, as (kernel, stride, pad). */
  bodyStrides: readonly (readonly [kernel: number, stride: number, pad: number])[];
  /** Channels of the body's input and output, read from params (checks the inputs). */
  channelsOf(params: BackboneParams): { input: number; body: number };
  body(params: BackboneParams, images: Tensor4D, ctx: ForwardContext, options: ResolvedBackboneOptions): Tensor4D;
  /** `fn` names the public function in errors. */
  tail(params: BackboneParams, pooled: Tensor4D, ctx: ForwardContext, options: ResolvedBackboneOptions, fn: string): Tensor2D;
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
  /** tailStride and dropout come from the params' own options (defaults for hand-made params). */
  const optionsOf = (params: BackboneParams) => backboneOptionsOf(params) ?? DEFAULT_OPTIONS;
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
      const fn = `${def.name}.body`;
      checkParams(fn, params);
      checkContext(fn, ctx);
      assertTensor(fn, 'images', images, 4, ['float32'], 'NHWC');
      const { input } = def.channelsOf(params);
      if (images.shape[3] !== input) fail(fn, `'images' must have ${input} channels (NHWC), but got a tensor of shape [${images.shape.join(',')}].`);
      bodySize(fn, images.shape[1], images.shape[2]);
      return def.body(params, images, ctx, optionsOf(params));
    },
    tail(params, pooled, ctx) {
      const fn = `${def.name}.tail`;
      checkParams(fn, params);
      checkContext(fn, ctx);
      assertTensor(fn, 'pooled', pooled, 4, ['float32'], 'NHWC');
      const { body } = def.channelsOf(params);
      if (pooled.shape[3] !== body) fail(fn, `'pooled' must have the body's ${body} channels (NHWC), but got a tensor of shape [${pooled.shape.join(',')}].`);
      return def.tail(params, pooled, ctx, optionsOf(params), fn);
    },
  };
}
