import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropFilterInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmAlloc, wasmFloats } from '../kernel-calls';
import { convGeometry } from './conv2d-backprop-filter';
import type { ConvGeometry } from './im2col';

/**
 * dW[i, j, c, m] = Σ_{n, y, x} x[n, y·s + i·d − p, x·s + j·d − p, c] · dy[n, y, x, c·M + m].
 * A depthwise conv has no reduction over channels, so there is no matmul to hand this to:
 * a direct pass over the pixels, accumulating in float64 like the cpu backend.
 */
export function depthwiseFilterGradient(
  x: Float32Array,
  dy: Float32Array,
  g: ConvGeometry,
  multiplier: number,
  out: Float32Array,
): void {
  const { batch: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = g;
  const outC = C * multiplier;
  const acc = new Float64Array(outC);
  let o = 0;
  for (let i = 0; i < g.filterHeight; i++) {
    for (let j = 0; j < g.filterWidth; j++) {
      acc.fill(0);
      for (let n = 0; n < N; n++) {
        for (let oy = 0; oy < Ho; oy++) {
          const iy = oy * g.strideHeight + i * g.dilationHeight - g.padTop;
          if (iy < 0 || iy >= H) continue;
          for (let ox = 0; ox < Wo; ox++) {
            const ix = ox * g.strideWidth + j * g.dilationWidth - g.padLeft;
            if (ix < 0 || ix >= W) continue;
            const xb = ((n * H + iy) * W + ix) * C;
            const db = ((n * Ho + oy) * Wo + ox) * outC;
            if (multiplier === 1) {
              for (let c = 0; c < C; c++) acc[c] += x[xb + c] * dy[db + c];
            } else {
              for (let c = 0; c < C; c++) {
                const xv = x[xb + c];
                for (let m = 0; m < multiplier; m++) acc[c * multiplier + m] += xv * dy[db + c * multiplier + m];
              }
            }
          }
        }
      }
      for (let k = 0; k < outC; k++) out[o++] = acc[k];
    }
  }
}

function depthwiseConv2dBackpropFilter(args: {
  inputs: DepthwiseConv2dNativeBackpropFilterInputs;
  backend: BackendWasm;
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, dilations, pad, dimRoundingMode, true,
  );
  const out = wasmAlloc(backend, [...filterShape]);
  depthwiseFilterGradient(wasmFloats(backend, x), wasmFloats(backend, dy), convGeometry(info), filterShape[3], wasmFloats(backend, out));
  return out;
}

export const depthwiseConv2dBackpropFilterWasm: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropFilter as unknown as KernelFunc,
};
