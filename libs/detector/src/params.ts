import { flattenParams, UserError, type ParamTree } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';

// Parameter trees are @lumen/core's (docs/architecture.md §2); the detector's API passes its walkers on.
export { countParams, disposeParams, flattenParams, trainableParams } from '@lumen/core';
export type { ParamTree } from '@lumen/core';

export interface NamedArray {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/**
 * Assigns `values` to the leaves of `tree` by dotted name. Every leaf must be present with its
 * shape (else a UserError naming `source`: a checkpoint made for another model); names the tree
 * does not have are returned (the caller decides whether that is an error).
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
      throw new UserError(`${source}: '${name}' has shape [${value.shape}], but the model expects [${variable.shape}]`);
    }
  }
  if (missing.length) {
    throw new UserError(`${source}: missing ${missing.length} tensor(s) the model needs: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);
  }
  for (const [name, variable] of leaves) {
    const value = values[name];
    tf.tidy(() => variable.assign(tf.tensor(value.data, value.shape, variable.dtype === 'int32' ? 'int32' : 'float32')));
  }
  const known = new Set(leaves.map(([name]) => name));
  return Object.keys(values).filter((name) => !known.has(name));
}
