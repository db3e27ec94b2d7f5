import {
  backend_util,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropFilterInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callKernel, release, wasmAlloc, wasmFloats } from '../kernel-calls';
import { im2colChannelMajor, type ConvGeometry } from './im2col';

/** Forward geometry of a conv, from tfjs's own shape/padding rules. */
export function convGeometry(info: backend_util.Conv2DInfo): ConvGeometry {
  if (info.dataFormat !== 'channelsLast') {
    throw new Error(`@lumen/runtime: conv gradients on wasm need dataFormat 'NHWC', got '${info.dataFormat}'`);
  }
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * dW = im2col(x)ᵀ · dy as a single wasm matmul: the same FLOPs as the forward conv,
 * instead of the cpu backend's scalar loops (wasm has no kernel of its own).
 */
function conv2dBackpropFilter(args: {
  inputs: Conv2DBackpropFilterInputs;
  backend: BackendWasm;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  const g = convGeometry(info);
  const rows = g.filterHeight * g.filterWidth * g.inChannels;
  const pixels = g.batch * g.outHeight * g.outWidth;

  const xT = callKernel('wasm', backend, 'Transpose', { x }, { perm: [3, 0, 1, 2] });
  let cols: TensorInfo;
  const pointwise = g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 &&
    g.strideWidth === 1 && g.padTop === 0 && g.padLeft === 0;
  if (pointwise) {
    // A 1x1/1 conv's patch matrix is the transposed input itself.
    cols = callKernel('wasm', backend, 'Reshape', { x: xT }, { shape: [1, rows, pixels] });
  } else {
    cols = wasmAlloc(backend, [1, rows, pixels]);
    im2colChannelMajor(wasmFloats(backend, xT), wasmFloats(backend, cols), g);
  }
  release(backend, xT);
  const dy3 = callKernel('wasm', backend, 'Reshape', { x: dy }, { shape: [1, pixels, info.outChannels] });
  const dw = callKernel('wasm', backend, 'BatchMatMul', { a: cols, b: dy3 }, { transposeA: false, transposeB: false });
  release(backend, cols, dy3);
  const out = callKernel('wasm', backend, 'Reshape', { x: dw }, { shape: [...filterShape] });
  release(backend, dw);
  return out;
}

export const conv2dBackpropFilterWasm: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as unknown as KernelFunc,
};
