import type { Config } from '@lumen/config';
import { seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { LOSS_NAMES, trainingLosses, type Losses } from './forward';
import type { Detector, DetectorParams } from './model';
import { applyGradients, learningRate, type OptimizerState } from './optimizer';
import { flattenParams, trainableParams } from './params';
import type { TrainingExample } from './targets';
import { batchImages } from './transform';

export interface StepResult {
  /** The step just taken (1-based: the optimizer's step count after it). */
  step: number;
  losses: Losses<number>;
  /** Sum of the four losses. */
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  images: number;
}

/**
 * A step whose loss was not finite: its update was skipped, so the weights are as they were.
 * The caller tells it apart from a bad example (any other error) to notice a diverged run.
 */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(
    /** The step that was attempted (1-based). */
    readonly step: number,
    readonly loss: number,
    readonly losses: Losses<number>,
  ) {
    super(`non-finite loss ${loss} (${LOSS_NAMES.map((n) => `${n} ${losses[n]}`).join(', ')}); the update was skipped`);
  }
}

/**
 * The random stream of one step: sampling (anchors, proposals) and dropout draw from a
 * generator seeded by (seed, step), so a resumed run takes exactly the steps an
 * uninterrupted one would.
 */
export function stepRng(seed: number, step: number): () => number {
  return seededRandom((Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(step + 1, 0xc2b2ae35)) >>> 0);
}

/**
 * One optimizer step on a batch: forward, the four losses, gradients of their sum w.r.t.
 * every trainable variable, optimizer update with the scheduled learning rate (and clipping).
 * Disposes everything it creates. A step that fails changes nothing (trainable batch norm's
 * running statistics, updated by the forward pass, are put back): a non-finite loss throws
 * NonFiniteLossError, anything else (a bad example) is rethrown.
 */
export function trainStep(detector: Detector, params: DetectorParams, optimizer: OptimizerState, examples: readonly TrainingExample[], config: Config = detector.config): StepResult {
  const { train } = config;
  const batch = batchImages(examples, config.model.transform);
  const rng = stepRng(train.seed, optimizer.step);
  const trainable = trainableParams(params);
  const nameOf = new Map(trainable.map(([name, v]) => [v.name, name]));
  const values = {} as Losses<number>;
  const statistics = runningStatistics(params);
  const before = statistics.map((v) => tf.clone(v));
  try {
    const failures: unknown[] = [];
    const { value, grads } = tf.variableGrads(() => {
      try {
        const losses = trainingLosses(detector, params, batch, examples, rng);
        for (const name of LOSS_NAMES) values[name] = losses[name].dataSync()[0];
        return tf.addN(LOSS_NAMES.map((name) => losses[name])) as tf.Scalar;
      } catch (error) {
        // Rethrown after the backward pass, which is what frees the tensors the tape saved so
        // far (a throw from here would leak them): a zero connected to a variable lets it run.
        failures.push(error);
        return tf.mul(tf.sum(trainable[0][1]), 0) as tf.Scalar;
      }
    }, trainable.map(([, v]) => v));
    const loss = value.dataSync()[0];
    value.dispose();
    const named: Record<string, tf.Tensor> = {};
    for (const [id, grad] of Object.entries(grads)) named[nameOf.get(id) ?? id] = grad;
    try {
      if (failures.length > 0 || !Number.isFinite(loss)) {
        statistics.forEach((v, i) => v.assign(before[i]));
        throw failures.length > 0 ? failures[0] : new NonFiniteLossError(optimizer.step + 1, loss, values);
      }
      const lr = learningRate(train.optimizer, train.schedule, optimizer.step, train.steps);
      const gradNorm = applyGradients(optimizer, params, named, lr, train.clipGradNorm);
      return { step: optimizer.step, losses: values, loss, lr, gradNorm, images: examples.length };
    } finally {
      tf.dispose(Object.values(grads));
    }
  } finally {
    batch.images.dispose();
    tf.dispose(before);
  }
}

/**
 * The batch-norm running statistics a training forward pass updates: those of every BN
 * whose affine is trainable (backbone, FPN, box head all decide by `weight.trainable`).
 */
function runningStatistics(params: DetectorParams): tf.Variable[] {
  const byName = new Map(flattenParams(params));
  return [...byName]
    .filter(([name]) => {
      const layer = /^(.*)\.running_(mean|var)$/.exec(name)?.[1];
      return layer !== undefined && byName.get(`${layer}.weight`)?.trainable === true;
    })
    .map(([, v]) => v);
}
