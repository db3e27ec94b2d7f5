import {
  backend_util,
  MaxPoolGrad,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  type MaxPoolGradInputs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmAlloc, wasmFloats } from '../kernel-calls';

/**
 * dx of a max-pool: each window's dy goes to the window's first maximum (row-major scan,
 * padding excluded), as on the cpu backend. One pass over the windows, all channels of a
 * pixel at a time (NHWC keeps them contiguous).
 */
export function maxPoolInputGradient(
  x: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  info: backend_util.Conv2DInfo,
  dx: Float32Array,
): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const kh = info.effectiveFilterHeight;
  const kw = info.effectiveFilterWidth;
  const where = new Int32Array(C);
  dx.fill(0);
  let g = 0;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < Ho; oy++) {
      const y0 = oy * sh - info.padInfo.top;
      const yStart = y0 < 0 ? y0 + Math.ceil(-y0 / dh) * dh : y0;
      const yEnd = Math.min(H, y0 + kh);
      for (let ox = 0; ox < Wo; ox++, g += C) {
        const x0 = ox * sw - info.padInfo.left;
        const xStart = x0 < 0 ? x0 + Math.ceil(-x0 / dw) * dw : x0;
        const xEnd = Math.min(W, x0 + kw);
        // The forward output y is each window's maximum: look for its first occurrence.
        // (Matching a known value mispredicts far less than tracking a running maximum.)
        where.fill(-1);
        for (let yy = yStart; yy < yEnd; yy += dh) {
          for (let xx = xStart; xx < xEnd; xx += dw) {
            const base = ((n * H + yy) * W + xx) * C;
            for (let c = 0; c < C; c++) {
              if (x[base + c] === y[g + c] && where[c] < 0) where[c] = base + c;
            }
          }
        }
        for (let c = 0; c < C; c++) if (where[c] >= 0) dx[where[c]] += dy[g + c];
      }
    }
  }
}

/**
 * Replaces wasm's MaxPoolGrad, which rescans the windows for every input pixel (~80x the
 * forward pool on a ResNet stem). (wasm's MaxPoolWithArgmax cannot stand in: it reports
 * index 0 for windows whose values are all negative.)
 */
function maxPoolGrad(args: { inputs: MaxPoolGradInputs; backend: BackendWasm; attrs: MaxPoolGradAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const x = inputs.input as TensorInfo;
  const y = inputs.output as TensorInfo;
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  if (info.outShape.some((d, i) => d !== dy.shape[i])) {
    throw new Error(`@lumen/runtime MaxPoolGrad: dy has shape [${dy.shape}], the pooling gives [${info.outShape}]`);
  }
  const dx = wasmAlloc(backend, x.shape);
  maxPoolInputGradient(wasmFloats(backend, x), wasmFloats(backend, y), wasmFloats(backend, dy), info, wasmFloats(backend, dx));
  return dx;
}

export const maxPoolGradWasm: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};
