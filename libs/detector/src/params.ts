import * as tf from '@tensorflow/tfjs-core';

/**
 * Parameters are plain nested records whose leaves are tf.Variables (DESIGN.md §2); the dotted
 * path of a leaf is its checkpoint name (`backbone.layer1.0.conv1.kernel`).
 */
export type ParamTree = { [key: string]: ParamTree | tf.Variable };

/** Every leaf with its dotted name, in a stable (insertion) order. */
export function flattenParams(tree: ParamTree, prefix = ''): Array<[string, tf.Variable]> {
  const out: Array<[string, tf.Variable]> = [];
  for (const [key, value] of Object.entries(tree)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value instanceof tf.Variable) out.push([name, value]);
    else if (typeof value === 'object' && value !== null) out.push(...flattenParams(value as ParamTree, name));
    else throw new Error(`Error in flattenParams: '${name}' is neither a tf.Variable nor a record of them.`);
  }
  return out;
}

/** The variables the optimizer updates: frozen stages and BN statistics are `trainable: false`. */
export function trainableParams(tree: ParamTree): Array<[string, tf.Variable]> {
  return flattenParams(tree).filter(([, v]) => v.trainable);
}

export function countParams(tree: ParamTree): { total: number; trainable: number } {
  let total = 0;
  let trainable = 0;
  for (const [, v] of flattenParams(tree)) {
    total += v.size;
    if (v.trainable) trainable += v.size;
  }
  return { total, trainable };
}

export function disposeParams(tree: ParamTree): void {
  for (const [, v] of flattenParams(tree)) v.dispose();
}

export interface NamedArray {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/**
 * Assigns `values` to the leaves of `tree` by dotted name. Every leaf must be present with its
 * shape; names the tree does not have are returned (the caller decides whether that is an error).
 */
export function assignParams(tree: ParamTree, values: Record<string, NamedArray>, source: string): string[] {
  const leaves = flattenParams(tree);
  const missing: string[] = [];
  for (const [name, variable] of leaves) {
    const value = values[name];
    if (!value) {
      missing.push(name);
      continue;
    }
    if (value.shape.length !== variable.shape.length || value.shape.some((d, i) => d !== variable.shape[i])) {
      throw new Error(`${source}: '${name}' has shape [${value.shape}], but the model expects [${variable.shape}]`);
    }
  }
  if (missing.length) {
    throw new Error(`${source}: missing ${missing.length} tensor(s) the model needs: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);
  }
  for (const [name, variable] of leaves) {
    const value = values[name];
    tf.tidy(() => variable.assign(tf.tensor(value.data, value.shape, variable.dtype === 'int32' ? 'int32' : 'float32')));
  }
  const known = new Set(leaves.map(([name]) => name));
  return Object.keys(values).filter((name) => !known.has(name));
}
