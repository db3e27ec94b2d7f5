import { conv2d, fused, type Rank, type Tensor4D, type Variable } from '@tensorflow/tfjs-core';
import { batchNormTraining, foldBatchNorm, type BatchNormParams } from '@lumen/core';

// conv (stride 1, symmetric padding, no bias) -> BatchNorm2d -> ReLU: torchvision's
// Conv2dNormActivation as FastRCNNConvFCHead builds it. @lumen/backbone's layers.ts has the
// general form (strides, depthwise, other activations); a head may not import a backbone, so
// the one case a head needs is here, with @lumen/core's BatchNorm2d.

/**
 * relu(BN(conv(x))) for a kernel [k, k, in, out] (k odd, padding (k - 1) / 2). Batch
 * statistics when `training` and the BN is trainable (`weight.trainable`), updating the
 * running ones in place; otherwise BN is the affine map of the running statistics, folded
 * into the kernel and bias of one fused conv.
 */
export function convBnRelu(x: Tensor4D, kernel: Variable<Rank.R4>, bn: BatchNormParams, training: boolean): Tensor4D {
  const pad = (kernel.shape[0] - 1) / 2;
  if (training && bn.weight.trainable) return batchNormTraining(conv2d(x, kernel, 1, pad), bn, undefined, undefined, true);
  const { filter, bias } = foldBatchNorm(kernel, bn);
  return fused.conv2d({ x, filter, strides: 1, pad, bias, activation: 'relu' });
}
