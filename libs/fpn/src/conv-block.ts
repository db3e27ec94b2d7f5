import { batchNormTraining, foldBatchNorm } from '@lumen/core';
import { conv2d, fused, tidy, type Tensor1D, type Tensor4D } from '@tensorflow/tfjs-core';
import type { BlockVariables } from './params';

/** What the forward needs to know of the run: training-mode BN uses batch statistics. */
export interface FpnContext {
  training: boolean;
}

/**
 * One of the FPN's blocks, torchvision's `Conv2dNormActivation(..., activation_layer=None)`:
 * a stride-1 k x k conv padded (k - 1) / 2 on every side, with its bias (norm 'none') or
 * followed by BatchNorm2d (norm 'batch'). The BN uses batch statistics when it is
 * trainable (`weight.trainable`) and `ctx.training`; otherwise it is the affine map of the
 * running statistics, folded into the conv (kernel·scale, shift as the fused bias): one
 * fused conv and no extra pass over the map.
 */
export function convBlock(x: Tensor4D, block: BlockVariables, ctx: FpnContext): Tensor4D {
  const pad = (block.kernelSize - 1) / 2;
  const kernel = block.kernel as unknown as Tensor4D;
  return tidy(() => {
    if (block.bn == null) return fused.conv2d({ x, filter: kernel, strides: 1, pad, bias: block.bias as Tensor1D });
    const bn = block.bn;
    if (ctx.training && bn.weight.trainable) return batchNormTraining(conv2d(x, kernel, 1, pad), bn);
    const { filter, bias } = foldBatchNorm(kernel, bn);
    return fused.conv2d({ x, filter, strides: 1, pad, bias });
  });
}
