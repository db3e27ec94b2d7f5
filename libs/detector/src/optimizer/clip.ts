// Gradient-norm clipping as torch.nn.utils.clip_grad_norm_, shared by every update strategy
// (each computes the norm its own way, then scales gradients by the same factor).
import * as tf from '@tensorflow/tfjs-core';

/** sqrt(sum of squares) over all gradients, as torch.nn.utils.clip_grad_norm_ computes it. */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** The factor gradients are scaled by: clipNorm / (norm + 1e-6) when the norm exceeds clipNorm, else 1. */
export function clipFactor(norm: number, clipNorm: number | null): number {
  return clipNorm !== null && norm > clipNorm ? clipNorm / (norm + 1e-6) : 1;
}
