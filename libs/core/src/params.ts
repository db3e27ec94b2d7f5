import { Variable } from '@tensorflow/tfjs-core';
import { describe, fail } from './arg-checks';

/**
 * Parameters: plain nested records whose leaves are tf.Variables (docs/architecture.md §2). The dotted
 * path of a leaf is its checkpoint name (`backbone.layer1.0.conv1.kernel`).
 */
export interface ParamTree {
  [key: string]: Variable | ParamTree;
}

/**
 * Every leaf with its dotted name, depth first in insertion order. Pairs rather than a
 * record: a record would move integer-like names (`'0'`) to the front.
 */
export function flattenParams(tree: ParamTree, prefix = ''): Array<[string, Variable]> {
  const out: Array<[string, Variable]> = [];
  const walk = (node: ParamTree, path: string): void => {
    for (const [key, value] of Object.entries(node)) {
      const name = path === '' ? key : `${path}.${key}`;
      if (value instanceof Variable) out.push([name, value]);
      else if (value !== null && typeof value === 'object') walk(value, name);
      else fail('flattenParams', `'${name}' must be a tf.Variable or a nested record, but got ${describe(value)}.`);
    }
  };
  walk(tree, prefix);
  return out;
}

/** The leaves an optimizer updates: frozen stages and batch-norm statistics are `trainable: false`. */
export function trainableParams(tree: ParamTree): Array<[string, Variable]> {
  return flattenParams(tree).filter(([, v]) => v.trainable);
}

/** How many values the tree holds, and how many of them are trainable. */
export function countParams(tree: ParamTree): { total: number; trainable: number } {
  let total = 0;
  let trainable = 0;
  for (const [, v] of flattenParams(tree)) {
    total += v.size;
    if (v.trainable) trainable += v.size;
  }
  return { total, trainable };
}

/** Disposes every variable of the tree. */
export function disposeParams(tree: ParamTree): void {
  for (const [, v] of flattenParams(tree)) v.dispose();
}
