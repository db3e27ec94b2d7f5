import {
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  engine,
  pad,
  reshape,
  slice,
  stridedSlice,
  transpose,
  type Conv2DAttrs,
  type GradConfig,
  type NamedAttrMap,
  type Tensor,
  type Tensor4D,
} from '@tensorflow/tfjs-core';

function pair(v: number | [number, number] | undefined): [number, number] {
  if (v == null) return [1, 1];
  return typeof v === 'number' ? [v, v] : v;
}

/** Inserts d-1 zeros between the taps of axis 0 of a [k, ...] filter. */
function dilateAxis0(w: Tensor4D, d: number): Tensor4D {
  if (d === 1) return w;
  const [k, a, b, c] = w.shape;
  const spread = pad(reshape(w, [k, 1, a * b * c]), [[0, 0], [0, d - 1], [0, 0]]);
  return reshape(slice(reshape(spread, [k * d, a * b * c]), [0, 0], [(k - 1) * d + 1, -1]), [(k - 1) * d + 1, a, b, c]);
}

/** The dense filter a dilated conv is equivalent to: taps at multiples of the dilation. */
export function dilatedFilter(w: Tensor4D, dh: number, dw: number): Tensor4D {
  const rows = dilateAxis0(w, dh);
  return transpose(dilateAxis0(transpose(rows, [1, 0, 2, 3]), dw), [1, 0, 2, 3]);
}

function backpropInput(xShape: number[], dy: Tensor, filter: Tensor, attrs: Conv2DAttrs): Tensor4D {
  const { strides, pad: padding, dataFormat, dimRoundingMode } = attrs;
  return engine().runKernel(Conv2DBackpropInput, { dy, filter }, {
    strides, pad: padding, dataFormat, dimRoundingMode, inputShape: xShape,
  } as unknown as NamedAttrMap) as Tensor4D;
}

function backpropFilter(x: Tensor, dy: Tensor, filterShape: number[], attrs: Conv2DAttrs): Tensor4D {
  const { strides, pad: padding, dataFormat, dimRoundingMode } = attrs;
  return engine().runKernel(Conv2DBackpropFilter, { x, dy }, {
    strides, pad: padding, dataFormat, dimRoundingMode, filterShape,
  } as unknown as NamedAttrMap) as Tensor4D;
}

/**
 * Replaces tfjs's Conv2D gradient, which rejects dilations > 1 (a dilated ResNet tail
 * needs them). Without dilation it is tfjs's gradient unchanged; with dilation the conv
 * is differentiated as the equivalent conv with a zero-spread filter, whose gradient at
 * the real taps is the dilated filter's gradient. Works on every backend.
 */
export const conv2dGradConfig: GradConfig = {
  kernelName: Conv2D,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, filter] = saved as [Tensor4D, Tensor4D];
    const convAttrs = attrs as unknown as Conv2DAttrs;
    const grad = dy as Tensor4D;
    const [dh, dw] = pair(convAttrs.dilations);
    if (dh === 1 && dw === 1) {
      return {
        x: () => backpropInput(x.shape, grad, filter, convAttrs),
        filter: () => backpropFilter(x, grad, filter.shape, convAttrs),
      };
    }
    return {
      x: () => backpropInput(x.shape, grad, dilatedFilter(filter, dh, dw), convAttrs),
      filter: () => {
        const [kh, kw] = filter.shape;
        const dense = backpropFilter(x, grad, [(kh - 1) * dh + 1, (kw - 1) * dw + 1, filter.shape[2], filter.shape[3]], convAttrs);
        return stridedSlice(dense, [0, 0, 0, 0], dense.shape, [dh, dw, 1, 1]);
      },
    };
  },
};
