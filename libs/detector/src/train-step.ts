import type { Config } from '@lumen/config';
import { seededRandom } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { LOSS_NAMES, trainingLosses, type Losses } from './forward';
import type { Detector, DetectorParams } from './model';
import { applyGradients, learningRate, type OptimizerState } from './optimizer';
import { trainableParams } from './params';
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
 * Disposes everything it creates; a non-finite loss skips the update and is an error the
 * caller can survive (the batch is reported, the run goes on).
 */
export function trainStep(detector: Detector, params: DetectorParams, optimizer: OptimizerState, examples: readonly TrainingExample[], config: Config = detector.config): StepResult {
  const { train } = config;
  const batch = batchImages(examples, config.model.transform);
  const rng = stepRng(train.seed, optimizer.step);
  const trainable = trainableParams(params);
  const nameOf = new Map(trainable.map(([name, v]) => [v.name, name]));
  const values = {} as Losses<number>;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const losses = trainingLosses(detector, params, batch, examples, rng);
      for (const name of LOSS_NAMES) values[name] = losses[name].dataSync()[0];
      return tf.addN(LOSS_NAMES.map((name) => losses[name])) as tf.Scalar;
    }, trainable.map(([, v]) => v));
    const loss = value.dataSync()[0];
    value.dispose();
    const named: Record<string, tf.Tensor> = {};
    for (const [id, grad] of Object.entries(grads)) named[nameOf.get(id) ?? id] = grad;
    try {
      if (!Number.isFinite(loss)) {
        throw new Error(`non-finite loss ${loss} (${LOSS_NAMES.map((n) => `${n} ${values[n]}`).join(', ')}); the update was skipped`);
      }
      const lr = learningRate(train.optimizer, train.schedule, optimizer.step, train.steps);
      const gradNorm = applyGradients(optimizer, params, named, lr, train.clipGradNorm);
      return { step: optimizer.step, losses: values, loss, lr, gradNorm, images: examples.length };
    } finally {
      tf.dispose(Object.values(grads));
    }
  } finally {
    batch.images.dispose();
  }
}
