import * as tf from '@tensorflow/tfjs-core';
import type { TrainConfig } from '@lumen/config';
import type { ParamTree } from '../params';
import { trainableParams } from '../params';

export type OptimizerConfig = TrainConfig['optimizer'];

/**
 * Optimizer state: one set of slots per trainable variable, by dotted name, plus the step
 * count. Slots are tf.Variables so a checkpoint saves them like params (`<name>.momentum`,
 * `<name>.m`, `<name>.v`) and a resumed run continues exactly.
 */
export interface OptimizerState {
  config: OptimizerConfig;
  step: number;
  slots: Map<string, Record<string, tf.Variable>>;
}

const SLOT_NAMES: Record<OptimizerConfig['type'], readonly string[]> = { sgd: ['momentum'], adam: ['m', 'v'] };

export function createOptimizer(config: OptimizerConfig, params: ParamTree): OptimizerState {
  const slots = new Map<string, Record<string, tf.Variable>>();
  for (const [name, variable] of trainableParams(params)) {
    const record: Record<string, tf.Variable> = {};
    for (const slot of SLOT_NAMES[config.type]) record[slot] = tf.tidy(() => tf.variable(tf.zerosLike(variable), false));
    slots.set(name, record);
  }
  return { config, step: 0, slots };
}

export function disposeOptimizer(state: OptimizerState): void {
  for (const record of state.slots.values()) for (const v of Object.values(record)) v.dispose();
  state.slots.clear();
}

/** Slots as a flat record `<param>.<slot>` for checkpoints. */
export function optimizerSlots(state: OptimizerState): Array<[string, tf.Variable]> {
  const out: Array<[string, tf.Variable]> = [];
  for (const [name, record] of state.slots) for (const [slot, v] of Object.entries(record)) out.push([`${name}.${slot}`, v]);
  return out;
}

/** Loads slots saved by a checkpoint (`<param>.<slot>`); a missing or misshapen slot is an error naming it. */
export function restoreOptimizer(state: OptimizerState, slots: Record<string, { shape: number[]; data: Float32Array | Int32Array }>, source: string): void {
  for (const [name, variable] of optimizerSlots(state)) {
    const saved = slots[name];
    if (!saved) throw new Error(`${source}: optimizer slot '${name}' is missing (was the checkpoint written with another optimizer or model?)`);
    if (saved.shape.length !== variable.shape.length || saved.shape.some((d, i) => d !== variable.shape[i])) {
      throw new Error(`${source}: optimizer slot '${name}' has shape [${saved.shape}], expected [${variable.shape}]`);
    }
    tf.tidy(() => variable.assign(tf.tensor(Float32Array.from(saved.data), saved.shape)));
  }
}
