import { assertNumber, fail, isFraction, makeVariable, type ParamTree } from '@lumen/core';
import { Variable } from '@tensorflow/tfjs-core';
import type { BackboneOptionsInput, BackboneParams, ParamSpec, ResolvedBackboneOptions } from './types';
import { describe } from './validate';

/** Where the options a params object was made with live: a non-enumerable symbol property, invisible to walkers. */
const OPTIONS = Symbol.for('@lumen/backbone/options');

export const DEFAULT_OPTIONS: ResolvedBackboneOptions = { batchNorm: 'frozen', freezeAt: 0, tailStride: 2, width: 1, dropout: 0 };

/**
 * Options with defaults filled in, each checked; the BatchNorm constants are only checked
 * (each backbone has its own defaults). `stages` bounds freezeAt.
 */
export function resolveOptions(fn: string, options: BackboneOptionsInput | undefined, stages: number): ResolvedBackboneOptions {
  if (options != null && (typeof options !== 'object' || Array.isArray(options))) fail(fn, `'options' must be an object, but got ${describe(options)}.`);
  const o = { ...DEFAULT_OPTIONS, ...stripUndefined(options ?? {}) };
  if (o.batchNorm !== 'frozen' && o.batchNorm !== 'trainable') fail(fn, `'batchNorm' must be 'frozen' or 'trainable', but got ${describe(o.batchNorm)}.`);
  assertNumber(fn, 'freezeAt', o.freezeAt, `an integer from 0 to ${stages}`, (v) => Number.isInteger(v) && v >= 0 && v <= stages);
  if (o.tailStride !== 1 && o.tailStride !== 2) fail(fn, `'tailStride' must be 1 or 2, but got ${describe(o.tailStride)}.`);
  assertNumber(fn, 'width', o.width, 'a finite number > 0', (v) => Number.isFinite(v) && v > 0);
  assertNumber(fn, 'dropout', o.dropout, 'a number in [0, 1)', (v) => v >= 0 && v < 1);
  if (o.bnEps !== undefined) assertNumber(fn, 'bnEps', o.bnEps, 'a finite number >= 0', (v) => Number.isFinite(v) && v >= 0);
  if (o.bnMomentum !== undefined) assertNumber(fn, 'bnMomentum', o.bnMomentum, 'a number in [0, 1]', isFraction);
  return o;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The options `init` / `importWeights` made these params with, or undefined for params assembled by hand. */
export function backboneOptionsOf(params: BackboneParams): ResolvedBackboneOptions | undefined {
  return (params as unknown as Record<symbol, ResolvedBackboneOptions | undefined>)[OPTIONS];
}

export function attachOptions(params: BackboneParams, options: ResolvedBackboneOptions): void {
  Object.defineProperty(params, OPTIONS, { value: Object.freeze({ ...options }), enumerable: false, configurable: true });
}

/** Whether the optimizer may change a parameter (docs/architecture.md §2: frozen things are trainable === false). */
export function isTrainable(spec: ParamSpec, options: ResolvedBackboneOptions): boolean {
  if (spec.stage <= options.freezeAt) return false;
  if (spec.kind === 'bn-mean' || spec.kind === 'bn-var') return false;
  if ((spec.kind === 'bn-weight' || spec.kind === 'bn-bias') && options.batchNorm === 'frozen') return false;
  return true;
}

/**
 * The nested params of `specs`, every value from `valueOf` (Lumen layout, float32), with
 * `trainable` set from the options; the options are attached to the result.
 */
export function buildParams(specs: readonly ParamSpec[], options: ResolvedBackboneOptions, valueOf: (spec: ParamSpec) => Float32Array): BackboneParams {
  const root: ParamTree = {};
  const created: Variable[] = [];
  try {
    for (const spec of specs) {
      const path = spec.name.split('.');
      let node = root;
      for (const key of path.slice(0, -1)) {
        const next = (node[key] ??= {});
        if (next instanceof Variable) fail('buildParams', `'${spec.name}' nests under the parameter '${key}'.`);
        node = next;
      }
      const leaf = path[path.length - 1];
      if (leaf in node) fail('buildParams', `'${spec.name}' is defined twice.`);
      const v = makeVariable(valueOf(spec), spec.shape, isTrainable(spec, options));
      created.push(v);
      node[leaf] = v;
    }
  } catch (e) {
    for (const v of created) v.dispose();
    throw e;
  }
  attachOptions(root, options);
  return root;
}
