import { customGrad, tensor4d, type GradSaveFunc, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D } from '@tensorflow/tfjs-core';
import { cropPoolBackward, cropPoolForward, type MapShape } from './resample';
import { cropPlan } from './sampling';
import { readPoolInputs } from './validate';

/**
 * Luminoth's "crop" RoI pooling, NHWC: each RoI `boxes[r]` = [x1, y1, x2, y2] in input
 * pixels is normalised by the input size — the map's size divided by `spatialScale`
 * (H / spatialScale, W / spatialScale) — cropped from image `boxIndices[r]` with
 * TensorFlow's `crop_and_resize` (bilinear, extrapolation value 0) to 2h x 2w samples, then
 * max-pooled 2x2 with stride 2 to outputSize = [h, w].
 *
 * Returns [R, h, w, C]. Differentiable w.r.t. `features` only (the boxes are constants): a
 * pooled gradient goes to the first maximal sample of its 2x2 window (row-major), then
 * through that sample's bilinear weights.
 */
export function cropPool(features: Tensor4D, boxes: Tensor2D, boxIndices: Tensor1D, outputSize: [number, number], spatialScale: number): Tensor4D {
  const inputs = readPoolInputs('cropPool', features, boxes, boxIndices, outputSize, spatialScale);
  const shape = features.shape as MapShape;
  const [, height, width, channels] = shape;
  const [h, w] = inputs.outputSize;
  const plan = cropPlan(inputs.boxes, inputs.image, height, width, [2 * h, 2 * w], spatialScale);
  const outShape: [number, number, number, number] = [plan.rois, h, w, channels];
  const op = customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const x = args[0] as Tensor;
    (args[1] as GradSaveFunc)([x]);
    return {
      value: tensor4d(cropPoolForward(x.dataSync() as Float32Array, shape, plan), outShape),
      gradFunc: (dy: Tensor4D, [saved]: Tensor[]) =>
        tensor4d(cropPoolBackward(saved.dataSync() as Float32Array, dy.dataSync() as Float32Array, shape, plan), [...shape]),
    };
  });
  return op(features) as Tensor4D;
}
