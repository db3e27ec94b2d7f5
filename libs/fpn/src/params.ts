import { describe, fail, makeVariable, type BatchNormParams, type ParamTree } from '@lumen/core';
import { Variable } from '@tensorflow/tfjs-core';
import { resolveFpnOptions, type FpnOptions, type ResolvedFpnOptions } from './options';
import { BLOCK_KERNEL_SIZES, resolvedParamSpecs, type BlockGroup, type FpnParamSpec } from './param-specs';

/** A block without a norm layer: conv kernel HWIO and bias. */
export interface ConvBiasBlock extends ParamTree {
  kernel: Variable;
  bias: Variable;
}

/** A Conv2dNormActivation block with BatchNorm2d: conv without bias, then BN. */
export interface ConvNormBlock extends ParamTree {
  conv: { kernel: Variable };
  bn: BatchNormParams;
}

export type FpnBlock = ConvBiasBlock | ConvNormBlock;

/** The FPN's parameters: a @lumen/core ParamTree, blocks keyed by level ('0' is the finest). */
export interface FpnParams extends ParamTree {
  inner_blocks: { [level: string]: FpnBlock };
  layer_blocks: { [level: string]: FpnBlock };
}

/**
 * The FPN params for `options` with every value from `valueOf` (Lumen layout, float32), and
 * `trainable` from the specs. What `initFpn` uses, and what a weight importer can use with
 * values converted from torchvision's layout.
 */
export function buildFpnParams(options: FpnOptions, valueOf: (spec: FpnParamSpec) => Float32Array): FpnParams {
  return makeFpnParams('buildFpnParams', options, valueOf);
}

/** `buildFpnParams` with errors naming `fn`. */
export function makeFpnParams(fn: string, options: FpnOptions, valueOf: (spec: FpnParamSpec) => Float32Array): FpnParams {
  const specs = resolvedParamSpecs(resolveFpnOptions(fn, options));
  const root: ParamTree = {};
  const created: Variable[] = [];
  try {
    for (const spec of specs) {
      const values = valueOf(spec);
      const size = spec.shape.reduce((a, b) => a * b, 1);
      if (!(values instanceof Float32Array) || values.length !== size) {
        fail(fn, `the values of '${spec.name}' must be a Float32Array of ${size} numbers ([${spec.shape.join(',')}]), but got ${describe(values)}.`);
      }
      const path = spec.name.split('.');
      let node = root;
      for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as ParamTree;
      const v = makeVariable(values, spec.shape, spec.trainable);
      created.push(v);
      node[path[path.length - 1]] = v;
    }
  } catch (e) {
    for (const v of created) v.dispose();
    throw e;
  }
  return root as FpnParams;
}

/** One block's variables, checked against its specs. */
export interface BlockVariables {
  kernel: Variable;
  /** norm 'none'. */
  bias: Variable | null;
  /** norm 'batch'. */
  bn: BatchNormParams | null;
  kernelSize: number;
}

export interface FpnVariables {
  inner: BlockVariables[];
  layer: BlockVariables[];
}

function variableAt(fn: string, params: ParamTree, spec: FpnParamSpec): Variable {
  let node: unknown = params;
  for (const key of spec.name.split('.')) {
    node = node != null && typeof node === 'object' && !(node instanceof Variable) ? (node as ParamTree)[key] : undefined;
  }
  if (!(node instanceof Variable)) fail(fn, `'params.${spec.name}' must be a tf.Variable of shape [${spec.shape.join(',')}], but got ${describe(node)}.`);
  if (node.isDisposed) fail(fn, `'params.${spec.name}' is disposed.`);
  const shape = node.shape as number[];
  if (shape.length !== spec.shape.length || shape.some((d, i) => d !== spec.shape[i])) {
    fail(fn, `'params.${spec.name}' must have shape [${spec.shape.join(',')}] for these options, but got [${shape.join(',')}].`);
  }
  return node;
}

/** The variables of every block, each checked for presence and shape against the specs of `o`. */
export function fpnVariables(fn: string, params: unknown, o: ResolvedFpnOptions): FpnVariables {
  if (params == null || typeof params !== 'object') fail(fn, `'params' must be the FPN's params ({ inner_blocks, layer_blocks }), but got ${describe(params)}.`);
  const tree = params as ParamTree;
  const byName = new Map(resolvedParamSpecs(o).map((s) => [s.name, variableAt(fn, tree, s)] as const));
  const block = (group: BlockGroup, level: number): BlockVariables => {
    const path = `${group}.${level}`;
    const at = (suffix: string) => byName.get(`${path}.${suffix}`) as Variable;
    const kernelSize = BLOCK_KERNEL_SIZES[group];
    if (o.norm === 'none') return { kernel: at('kernel'), bias: at('bias'), bn: null, kernelSize };
    const bn = { weight: at('bn.weight'), bias: at('bn.bias'), running_mean: at('bn.running_mean'), running_var: at('bn.running_var') };
    return { kernel: at('conv.kernel'), bias: null, bn, kernelSize };
  };
  return {
    inner: o.inChannels.map((_, level) => block('inner_blocks', level)),
    layer: o.inChannels.map((_, level) => block('layer_blocks', level)),
  };
}
