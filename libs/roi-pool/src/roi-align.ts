import type { Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { resampleLevels } from './resample-op';
import { roiAlignPlan } from './sampling';
import { fail } from '@lumen/core';
import { readPoolInputs } from './validate';

/**
 * RoIAlign with the semantics of `torchvision.ops.roi_align` (He et al., Mask R-CNN), NHWC.
 *
 * Each RoI `boxes[r]` = [x1, y1, x2, y2] in input-image pixels, on image `boxIndices[r]` of
 * `features` [N, H, W, C], is scaled by `spatialScale` (1/16 for a stride-16 map), split
 * into outputSize = [h, w] bins, and each bin is the average of bilinear samples on a
 * regular grid: `samplingRatio` x `samplingRatio` per bin, or when `samplingRatio <= 0`
 * ceil(roiHeight / h) x ceil(roiWidth / w) (per RoI). `aligned` shifts the box by -0.5 map
 * pixel (pixel-centre alignment); without it a RoI is at least 1x1 map pixels. Samples
 * outside [-1, H] x [-1, W] count as 0; others are clamped into the map.
 *
 * Returns [R, h, w, C]. Differentiable w.r.t. `features` only: the boxes are constants (as
 * in Faster R-CNN, where proposals carry no gradient) and a gradient requested w.r.t.
 * `boxes` is an error from tf.grad ("Cannot compute gradient of y=f(x) with respect to x …").
 */
export function roiAlign(
  features: Tensor4D,
  boxes: Tensor2D,
  boxIndices: Tensor1D,
  outputSize: [number, number],
  spatialScale: number,
  samplingRatio: number,
  aligned = false,
): Tensor4D {
  const inputs = readPoolInputs('roiAlign', features, boxes, boxIndices, outputSize, spatialScale);
  if (typeof samplingRatio !== 'number' || !Number.isInteger(samplingRatio)) {
    fail('roiAlign', `'samplingRatio' must be an integer (<= 0: adaptive), but got ${String(samplingRatio)}.`);
  }
  if (typeof aligned !== 'boolean') fail('roiAlign', `'aligned' must be a boolean, but got ${typeof aligned}.`);
  const [, height, width] = features.shape;
  const plan = roiAlignPlan(inputs.boxes, inputs.image, height, width, { outputSize: inputs.outputSize, spatialScale, samplingRatio, aligned });
  return resampleLevels([features], [{ plan, rows: Int32Array.from({ length: plan.rois }, (_, r) => r) }], plan.rois);
}
