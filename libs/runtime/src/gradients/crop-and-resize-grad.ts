import {
  CropAndResize,
  tensor,
  zerosLike,
  type CropAndResizeAttrs,
  type GradConfig,
  type NamedAttrMap,
  type Tensor,
} from '@tensorflow/tfjs-core';

/**
 * d(cropAndResize)/d(image): every output pixel hands its gradient back to the (up to) four
 * image pixels it was interpolated from, with the same weights — the adjoint of the forward
 * sampling of TensorFlow's CropAndResize, which tfjs implements. Pixels sampled outside the
 * image took `extrapolationValue` and pass no gradient.
 */
export function cropAndResizeImageGradient(
  dy: Float32Array,
  boxes: ArrayLike<number>,
  boxIndex: ArrayLike<number>,
  imageShape: readonly [number, number, number, number],
  cropSize: readonly [number, number],
  method: 'bilinear' | 'nearest',
): Float32Array {
  const [batch, height, width, channels] = imageShape;
  const [cropH, cropW] = cropSize;
  const grad = new Float32Array(batch * height * width * channels);
  const rowStride = width * channels;
  for (let b = 0; b < boxIndex.length; b++) {
    const img = boxIndex[b];
    if (img < 0 || img >= batch) continue;
    const y1 = boxes[4 * b];
    const x1 = boxes[4 * b + 1];
    const y2 = boxes[4 * b + 2];
    const x2 = boxes[4 * b + 3];
    const scaleY = cropH > 1 ? ((y2 - y1) * (height - 1)) / (cropH - 1) : 0;
    const scaleX = cropW > 1 ? ((x2 - x1) * (width - 1)) / (cropW - 1) : 0;
    const imgBase = img * height * rowStride;
    for (let y = 0; y < cropH; y++) {
      const inY = cropH > 1 ? y1 * (height - 1) + y * scaleY : 0.5 * (y1 + y2) * (height - 1);
      if (inY < 0 || inY > height - 1) continue;
      const top = Math.floor(inY);
      const bottom = Math.ceil(inY);
      const ly = inY - top;
      for (let x = 0; x < cropW; x++) {
        const inX = cropW > 1 ? x1 * (width - 1) + x * scaleX : 0.5 * (x1 + x2) * (width - 1);
        if (inX < 0 || inX > width - 1) continue;
        const g = ((b * cropH + y) * cropW + x) * channels;
        if (method === 'nearest') {
          const p = imgBase + Math.round(inY) * rowStride + Math.round(inX) * channels;
          for (let c = 0; c < channels; c++) grad[p + c] += dy[g + c];
          continue;
        }
        const left = Math.floor(inX);
        const right = Math.ceil(inX);
        const lx = inX - left;
        const wTL = (1 - ly) * (1 - lx);
        const wTR = (1 - ly) * lx;
        const wBL = ly * (1 - lx);
        const wBR = ly * lx;
        const tl = imgBase + top * rowStride + left * channels;
        const tr = imgBase + top * rowStride + right * channels;
        const bl = imgBase + bottom * rowStride + left * channels;
        const br = imgBase + bottom * rowStride + right * channels;
        for (let c = 0; c < channels; c++) {
          const v = dy[g + c];
          grad[tl + c] += v * wTL;
          grad[tr + c] += v * wTR;
          grad[bl + c] += v * wBL;
          grad[br + c] += v * wBR;
        }
      }
    }
  }
  return grad;
}

/**
 * tfjs registers no gradient for CropAndResize on any backend. This one covers the image
 * (what crop-pooling over a feature map needs); the boxes are not differentiated — a
 * gradient requested through them is an error, not a silent zero.
 */
export const cropAndResizeGradConfig: GradConfig = {
  kernelName: CropAndResize,
  inputsToSave: ['image', 'boxes', 'boxInd'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [image, boxes, boxInd] = saved;
    const { cropSize, method } = attrs as unknown as CropAndResizeAttrs;
    const grad = dy as Tensor;
    return {
      image: () =>
        tensor(
          cropAndResizeImageGradient(
            grad.dataSync() as Float32Array, boxes.dataSync(), boxInd.dataSync(),
            image.shape as [number, number, number, number], cropSize, method,
          ),
          image.shape,
          'float32',
        ),
      boxes: () => {
        throw new Error(
          '@lumen/runtime: cropAndResize has a gradient for `image` only; its `boxes` must not depend on ' +
            'trainable values (wrap their computation in tf.tidy + stop-gradient, as proposals are)',
        );
      },
      boxInd: () => zerosLike(boxInd),
    };
  },
};
