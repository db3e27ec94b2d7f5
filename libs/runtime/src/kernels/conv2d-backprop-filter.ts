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

  const pointwise = g.filterHeight === 1 && g.filterWidth === 1 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
    info.padInfo.bottom === 0 && info.padInfo.right === 0;
  const out = pointwise && info.outChannels > g.inChannels
    ? pointwiseFilterGradientTransposed(backend, x, dy, g, info.outChannels)
    : im2colFilterGradient(backend, x, dy, g, rows, pixels, info.outChannels);
  const shaped = callKernel('wasm', backend, 'Reshape', { x: out }, { shape: [...filterShape] });
  release(backend, out);
  return shaped;
}

/** dW[kh·kw·C, O] = cols[kh·kw·C, P] · dy[P, O], cols from the channel-major input. */
function im2colFilterGradient(
  backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: ConvGeometry, rows: number, pixels: number, outChannels: number,
): TensorInfo {
  const xT = callKernel('wasm', backend, 'Transpose', { x }, { perm: [3, 0, 1, 2] });
  let cols: TensorInfo;
  if (g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1 && g.padTop === 0 && g.padLeft === 0) {
    // A 1x1/1 conv's patch matrix is the transposed input itself.
    cols = callKernel('wasm', backend, 'Reshape', { x: xT }, { shape: [1, rows, pixels] });
  } else {
    cols = wasmAlloc(backend, [1, rows, pixels]);
    im2colChannelMajor(wasmFloats(backend, xT), wasmFloats(backend, cols), g);
  }
  release(backend, xT);
  const dy3 = callKernel('wasm', backend, 'Reshape', { x: dy }, { shape: [1, pixels, outChannels] });
  const dw = callKernel('wasm', backend, 'BatchMatMul', { a: cols, b: dy3 }, { transposeA: false, transposeB: false });
  release(backend, cols, dy3);
  return dw;
}

/**
 * A widening 1x1 conv (O > C, as ResNet's expansions and downsamples) is cheaper the other
 * way round: dWᵀ[O, C] = dyᵀ[O, P] · x[P, C]. wasm's matmul repacks its right operand on
 * every call, so that operand should be the smaller of x and dy; here it is x, which in
 * NHWC already is the [P, C] patch matrix (subsampled for a strided conv).
 */
function pointwiseFilterGradientTransposed(
  backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: ConvGeometry, outChannels: number,
): TensorInfo {
  const pixels = g.batch * g.outHeight * g.outWidth;
  const C = g.inChannels;
  let patches: TensorInfo;
  if (g.strideHeight === 1 && g.strideWidth === 1) {
    patches = callKernel('wasm', backend, 'Reshape', { x }, { shape: [1, pixels, C] });
  } else {
    patches = wasmAlloc(backend, [1, pixels, C]);
    const src = wasmFloats(backend, x);
    const dst = wasmFloats(backend, patches);
    let d = 0;
    for (let n = 0; n < g.batch; n++) {
      for (let oy = 0; oy < g.outHeight; oy++) {
        const row = (n * g.inHeight + oy * g.strideHeight) * g.inWidth;
        for (let ox = 0; ox < g.outWidth; ox++, d += C) {
          const s = (row + ox * g.strideWidth) * C;
          dst.set(src.subarray(s, s + C), d);
        }
      }
    }
  }
  const dy3 = callKernel('wasm', backend, 'Reshape', { x: dy }, { shape: [1, pixels, outChannels] });
  const dyT = callKernel('wasm', backend, 'Transpose', { x: dy3 }, { perm: [0, 2, 1] });
  release(backend, dy3);
  const dwT = callKernel('wasm', backend, 'BatchMatMul', { a: dyT, b: patches }, { transposeA: false, transposeB: false });
  release(backend, dyT, patches);
  const dw = callKernel('wasm', backend, 'Transpose', { x: dwT }, { perm: [0, 2, 1] });
  release(backend, dwT);
  return dw;
}

export const conv2dBackpropFilterWasm: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as unknown as KernelFunc,
};
