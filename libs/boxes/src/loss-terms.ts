import { smoothL1 } from './smooth-l1';
import {
  clipByValue,
  customGrad,
  div,
  logSoftmax,
  mul,
  reshape,
  sigmoid,
  sign,
  softmax,
  softplus,
  sub,
  sum,
  tensor,
  type GradSaveFunc,
  type Scalar,
  type Tensor,
} from '@tensorflow/tfjs-core';

// The loss terms, each one tf.customGrad over a head output with its gradient written out:
// differentiable on every backend without any registered gradient (tfjs-core alone
// registers none), one fused backward step per term, and the constants (labels, weights,
// masks — data, not parameters) built inside the forward and saved for the backward.
// Shared by @lumen/rpn and @lumen/rcnn-head (their losses are these terms).

/**
 * Σ w·BCEWithLogits(x, y) for binary y, as Σ w·softplus(s·x) with s = 1 − 2y (exact for
 * y ∈ {0, 1}: softplus(x) for background, softplus(−x) for foreground). Gradient
 * w·s·σ(s·x) = w·(σ(x) − y). `labels` and `weights` have one value per element of `logits`.
 */
export function weightedSigmoidCrossEntropy(logits: Tensor, labels: Float32Array, weights: Float32Array): Scalar {
  const loss = customGrad((...args: Array<Tensor | GradSaveFunc>) => {
    const [x, save] = args as [Tensor, GradSaveFunc];
    const signs = new Float32Array(labels.length);
    const signedWeights = new Float32Array(labels.length);
    for (let i = 0; i < labels.length; i++) {
      signs[i] = 1 - 2 * labels[i];
      signedWeights[i] = weights[i] * signs[i];
    }
    const s = tensor(signs, x.shape, 'float32');
    const z = mul(s, x);
    save([z, tensor(signedWeights, x.shape, 'float32')]);
    return {
      value: sum(mul(tensor(weights, x.shape, 'float32'), softplus(z))) as Scalar,
      gradFunc: (dy: Tensor, saved: Tensor[]) => [mul(dy, mul(saved[1], sigmoid(saved[0])))],
    };
  });
  return loss(logits) as Scalar;
}

/**
 * Σ_r w_r·(−log softmax(x_r)[c_r]) over the rows x_r of `logits` read as [R, C] (C
 * consecutive values per row); rows with weight 0 (or class < 0) do not count. Gradient
 * w_r·(softmax(x_r) − onehot(c_r)), in the shape of `logits`.
 */
export function weightedSoftmaxCrossEntropy(logits: Tensor, c: number, classes: Int32Array, rowWeights: Float32Array): Scalar {
  const rows = logits.size / c;
  const loss = customGrad((...args: Array<Tensor | GradSaveFunc>) => {
    const [input, save] = args as [Tensor, GradSaveFunc];
    const x = reshape(input, [rows, c]);
    const target = new Float32Array(x.size); // w_r at the true class
    const spread = new Float32Array(x.size); // w_r on every class
    for (let r = 0; r < classes.length; r++) {
      const w = classes[r] >= 0 ? rowWeights[r] : 0;
      if (w === 0) continue;
      spread.fill(w, r * c, (r + 1) * c);
      target[r * c + classes[r]] = w;
    }
    const t = tensor(target, x.shape, 'float32');
    save([x, t, tensor(spread, x.shape, 'float32')]);
    return {
      value: sub(0, sum(mul(t, logSoftmax(x)))) as Scalar, // 0 − s: +0 without samples
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, st, sw] = saved;
        return [reshape(mul(dy, sub(mul(sw, softmax(sx)), st)), input.shape)];
      },
    };
  });
  return loss(logits) as Scalar;
}

/**
 * scale · Σ smoothL1(m·x, t) (torch `smooth_l1_loss(..., reduction='sum')` over the
 * elements where the mask m is 1; `targets` must be 0 where m is 0). Gradient
 * scale·m·clip((m·x − t)/beta, −1, 1) (sign for beta 0).
 */
export function maskedSmoothL1(deltas: Tensor, mask: Float32Array, targets: Float32Array, beta: number, scale: number): Scalar {
  const loss = customGrad((...args: Array<Tensor | GradSaveFunc>) => {
    const [x, save] = args as [Tensor, GradSaveFunc];
    const m = tensor(mask, x.shape, 'float32');
    const masked = mul(x, m);
    const t = tensor(targets, x.shape, 'float32');
    save([sub(masked, t), m]);
    return {
      value: mul(smoothL1(masked, t, { beta, reduction: 'sum' }), scale) as Scalar,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [diff, sm] = saved;
        const slope = beta === 0 ? sign(diff) : clipByValue(div(diff, beta), -1, 1);
        return [mul(mul(dy, scale), mul(sm, slope))];
      },
    };
  });
  return loss(deltas) as Scalar;
}
