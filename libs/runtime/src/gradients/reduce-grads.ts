import { broadcastTo, cast, div, Mean, reshape, Sum, util, type GradConfig, type NamedAttrMap, type Tensor } from '@tensorflow/tfjs-core';

/**
 * Sum and Mean spread dy back over the reduced axes. tfjs multiplies dy by `ones(x.shape)`,
 * a tensor filled in JS and uploaded on every backward pass (on wasm a fresh buffer the size
 * of x, which dominated small layers' backward — and a MobileNetV3 squeeze-excitation is a
 * Mean over a whole feature map); broadcasting dy (a Tile kernel) gives the same values.
 */
function spread(dy: Tensor, x: Tensor, attrs: NamedAttrMap, scale: number): Tensor {
  const shape = x.shape.slice();
  for (const axis of util.parseAxisParam(attrs.axis as number | number[], x.shape)) shape[axis] = 1;
  const kept = reshape(dy.dtype === 'float32' ? dy : cast(dy, 'float32'), shape);
  return broadcastTo(scale === 1 ? kept : div(kept, scale), x.shape);
}

export const sumGradConfig: GradConfig = {
  kernelName: Sum,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => ({ x: () => spread(dy as Tensor, saved[0], attrs, 1) }),
};

export const meanGradConfig: GradConfig = {
  kernelName: Mean,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [x] = saved;
    const axes = util.parseAxisParam(attrs.axis as number | number[], x.shape);
    const count = axes.reduce((n, axis) => n * x.shape[axis], 1);
    return { x: () => spread(dy as Tensor, x, attrs, count) };
  },
};
