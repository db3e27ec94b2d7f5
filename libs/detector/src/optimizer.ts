import * as tf from '@tensorflow/tfjs-core';
import type { TrainConfig } from '@lumen/config';
import type { ParamTree } from './params';
import { trainableParams } from './params';

export type OptimizerConfig = TrainConfig['optimizer'];
export type ScheduleConfig = TrainConfig['schedule'];

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

/**
 * Learning rate at `step` (0-based): linear warm-up from lr·warmupFactor to lr over
 * warmupSteps (torchvision's references), times the step or cosine decay.
 */
export function learningRate(optimizer: OptimizerConfig, schedule: ScheduleConfig, step: number, totalSteps: number): number {
  let factor = 1;
  if (schedule.type === 'step') {
    for (const milestone of schedule.milestones) if (step >= milestone) factor *= schedule.gamma;
  } else if (schedule.type === 'cosine') {
    const progress = Math.min(1, step / Math.max(1, totalSteps));
    factor = 0.5 * (1 + Math.cos(Math.PI * progress));
  }
  if (step < schedule.warmupSteps) {
    const alpha = step / schedule.warmupSteps;
    factor *= schedule.warmupFactor * (1 - alpha) + alpha;
  }
  return optimizer.lr * factor;
}

/** sqrt(sum of squares) over all gradients, as torch.nn.utils.clip_grad_norm_ computes it. */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * One update of every trainable variable with its gradient (missing gradients count as 0, as
 * for a head that got no samples). SGD as torch.optim.SGD (weight decay added to the gradient,
 * momentum buffer, no dampening); Adam as torch.optim.Adam (L2 weight decay, bias-corrected).
 * With `clipNorm`, gradients are scaled by clipNorm / (norm + 1e-6) when the norm exceeds it
 * (torch's clip_grad_norm_). Returns the gradient norm before clipping (for the log).
 *
 * `mode` 'auto' picks, in order: the backend's fused update kernels when it has them
 * (`LumenSgdUpdate`, `LumenAdamUpdate`, `LumenSumSquares`, which @lumen/runtime registers for
 * wasm: one pass over each variable's memory); on cpu one JS loop per variable (as tensor ops
 * it is ~10 small kernels per variable, whose fixed cost was ~0.3 s of a digits step);
 * elsewhere (GPU) tensor ops.
 */
export function applyGradients(
  state: OptimizerState,
  params: ParamTree,
  grads: Record<string, tf.Tensor>,
  lr: number,
  clipNorm: number | null,
  mode: 'auto' | 'tensor' | 'loop' | 'kernel' = 'auto',
): number {
  const entries = trainableParams(params).filter(([name]) => grads[name] !== undefined);
  for (const [name] of entries) {
    if (!state.slots.has(name)) throw new Error(`Error in applyGradients: no optimizer state for '${name}' (was the optimizer created for these params?)`);
  }
  const backend = tf.getBackend();
  const fused = FUSED_KERNELS.every((name) => tf.getKernel(name, backend) != null);
  if (mode === 'kernel' && !fused) throw new Error(`applyGradients: backend '${backend}' has no ${FUSED_KERNELS.join('/')} kernels`);
  const chosen = mode !== 'auto' ? mode : fused ? 'kernel' : ['cpu', 'wasm'].includes(backend) ? 'loop' : 'tensor';
  state.step += 1;
  if (chosen === 'kernel') return updateWithFusedKernels(state, entries, grads, lr, clipNorm);
  return chosen === 'loop' ? updateInLoops(state, entries, grads, lr, clipNorm) : updateWithTensorOps(state, entries, grads, lr, clipNorm);
}

/** Kernel names of the fused update contract (see applyGradients). */
const FUSED_KERNELS = ['LumenSgdUpdate', 'LumenAdamUpdate', 'LumenSumSquares'] as const;

function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number>): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs as never, attrs as never) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

function updateWithFusedKernels(state: OptimizerState, entries: Array<[string, tf.Variable]>, grads: Record<string, tf.Tensor>, lr: number, clipNorm: number | null): number {
  const { config } = state;
  let sumSquares = 0;
  for (const [name] of entries) {
    const [s] = runKernel('LumenSumSquares', { x: grads[name] }, {});
    sumSquares += s.dataSync()[0];
    s.dispose();
  }
  const norm = Math.sqrt(sumSquares);
  const gradScale = clipFactor(norm, clipNorm);
  const t = state.step;
  for (const [name, variable] of entries) {
    const slots = state.slots.get(name) as Record<string, tf.Variable>;
    const grad = grads[name];
    if (config.type === 'sgd') {
      const withMomentum = config.momentum > 0;
      const [w, buffer] = runKernel('LumenSgdUpdate', withMomentum ? { param: variable, grad, momentum: slots.momentum } : { param: variable, grad }, {
        lr, momentum: config.momentum, weightDecay: config.weightDecay, gradScale,
      });
      if (buffer) {
        slots.momentum.assign(buffer);
        buffer.dispose();
      }
      variable.assign(w);
      w.dispose();
    } else {
      const [b1, b2] = config.betas;
      const [w, m, v] = runKernel('LumenAdamUpdate', { param: variable, grad, m: slots.m, v: slots.v }, {
        stepSize: lr / (1 - b1 ** t), beta1: b1, beta2: b2, biasCorrection2Sqrt: Math.sqrt(1 - b2 ** t), epsilon: config.epsilon,
        weightDecay: config.weightDecay, gradScale,
      });
      slots.m.assign(m);
      slots.v.assign(v);
      variable.assign(w);
      tf.dispose([w, m, v]);
    }
  }
  return norm;
}

function clipFactor(norm: number, clipNorm: number | null): number {
  return clipNorm !== null && norm > clipNorm ? clipNorm / (norm + 1e-6) : 1;
}

function updateWithTensorOps(state: OptimizerState, entries: Array<[string, tf.Variable]>, grads: Record<string, tf.Tensor>, lr: number, clipNorm: number | null): number {
  const { config } = state;
  const norm = globalNorm(entries.map(([name]) => grads[name]));
  const normValue = norm.dataSync()[0];
  norm.dispose();
  const clip = clipFactor(normValue, clipNorm);
  const t = state.step;
  for (const [name, variable] of entries) {
    const slots = state.slots.get(name) as Record<string, tf.Variable>;
    tf.tidy(() => {
      let g = grads[name];
      if (clip !== 1) g = tf.mul(g, clip);
      if (config.weightDecay > 0) g = tf.add(g, tf.mul(variable, config.weightDecay));
      if (config.type === 'sgd') {
        const buffer = config.momentum > 0 ? tf.add(tf.mul(slots.momentum, config.momentum), g) : g;
        if (config.momentum > 0) slots.momentum.assign(buffer);
        variable.assign(tf.sub(variable, tf.mul(buffer, lr)));
      } else {
        const [b1, b2] = config.betas;
        const m = tf.add(tf.mul(slots.m, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(slots.v, b2), tf.mul(tf.square(g), 1 - b2));
        slots.m.assign(m);
        slots.v.assign(v);
        const stepSize = lr / (1 - b1 ** t);
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(1 - b2 ** t)), config.epsilon);
        variable.assign(tf.sub(variable, tf.mul(tf.div(m, denom), stepSize)));
      }
    });
  }
  return normValue;
}

function updateInLoops(state: OptimizerState, entries: Array<[string, tf.Variable]>, grads: Record<string, tf.Tensor>, lr: number, clipNorm: number | null): number {
  const { config } = state;
  const gradValues = entries.map(([name]) => grads[name].dataSync() as Float32Array);
  let sumSquares = 0;
  for (const g of gradValues) for (let i = 0; i < g.length; i++) sumSquares += g[i] * g[i];
  const norm = Math.sqrt(sumSquares);
  const clip = clipFactor(norm, clipNorm);
  const wd = config.weightDecay;
  const t = state.step;
  entries.forEach(([name, variable], k) => {
    const slots = state.slots.get(name) as Record<string, tf.Variable>;
    const g = gradValues[k];
    const w = (variable.dataSync() as Float32Array).slice();
    const set = (target: tf.Variable, values: Float32Array) => tf.tidy(() => target.assign(tf.tensor(values, target.shape)));
    if (config.type === 'sgd') {
      const mu = config.momentum;
      const buffer = mu > 0 ? (slots.momentum.dataSync() as Float32Array).slice() : null;
      for (let i = 0; i < w.length; i++) {
        // float32 at each step, as torch's in-place float32 ops
        let d = Math.fround(Math.fround(g[i] * clip) + Math.fround(w[i] * wd));
        if (buffer) d = buffer[i] = Math.fround(Math.fround(buffer[i] * mu) + d);
        w[i] = Math.fround(w[i] - Math.fround(d * lr));
      }
      if (buffer) set(slots.momentum, buffer);
    } else {
      const [b1, b2] = config.betas;
      const m = (slots.m.dataSync() as Float32Array).slice();
      const v = (slots.v.dataSync() as Float32Array).slice();
      const stepSize = lr / (1 - b1 ** t);
      const correction2 = Math.sqrt(1 - b2 ** t);
      for (let i = 0; i < w.length; i++) {
        const d = Math.fround(Math.fround(g[i] * clip) + Math.fround(w[i] * wd));
        m[i] = Math.fround(m[i] * b1 + d * (1 - b1));
        v[i] = Math.fround(v[i] * b2 + d * d * (1 - b2));
        w[i] = Math.fround(w[i] - (stepSize * m[i]) / (Math.sqrt(v[i]) / correction2 + config.epsilon));
      }
      set(slots.m, m);
      set(slots.v, v);
    }
    set(variable, w);
  });
  return norm;
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
