import * as tf from '@tensorflow/tfjs-core';
import type { ParamTree } from '../params';
import { trainableParams } from '../params';
import type { OptimizerState } from './state';
import { FUSED_KERNELS, hasFusedKernels, updateWithFusedKernels } from './update-fused';
import { updateInLoops } from './update-loops';
import { updateWithTensorOps } from './update-tensor-ops';

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
  const fused = hasFusedKernels(backend);
  if (mode === 'kernel' && !fused) throw new Error(`applyGradients: backend '${backend}' has no ${FUSED_KERNELS.join('/')} kernels`);
  const chosen = mode !== 'auto' ? mode : fused ? 'kernel' : ['cpu', 'wasm'].includes(backend) ? 'loop' : 'tensor';
  state.step += 1;
  if (chosen === 'kernel') return updateWithFusedKernels(state, entries, grads, lr, clipNorm);
  return chosen === 'loop' ? updateInLoops(state, entries, grads, lr, clipNorm) : updateWithTensorOps(state, entries, grads, lr, clipNorm);
}
