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
import { callKernel, release, wasmAlloc, wasmFloats } from '../kernel-calls';
import { convGeometry } from './conv2d-backprop-filter';
import type { ConvGeometry } from './im2col';

/**
 * dW[i, j, c, m] = Σ_{n, y, x} x[n, y·s + i·d − p, x·s + j·d − p, c] · dy[n, y, x, c·M + m],
 * as a direct pass over the pixels accumulating in float64: the path for dilated
 * depthwise convs, which `depthwiseFilterGradientByConv` does not cover.
 */
export function depthwiseFilterGradient(
  x: Float32Array,
  dy: Float32Array,
  g: ConvGeometry,
  multiplier: number,
  out: Float32Array,
): void {
  const { batch: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = g;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = g;
  const { dilationHeight: dh, dilationWidth: dw, padTop, padLeft } = g;
  const outC = C * multiplier;
  const acc = new Float64Array(outC);
  let o = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      acc.fill(0);
      const offX = j * dw - padLeft;
      // Output columns whose input column lies inside the image, for this tap.
      const ox0 = Math.min(Wo, Math.max(0, Math.ceil(-offX / sw)));
      const ox1 = Math.max(ox0, Math.min(Wo, Math.floor((W - 1 - offX) / sw) + 1));
      for (let n = 0; n < N; n++) {
        for (let oy = 0; oy < Ho; oy++) {
          const iy = oy * sh + i * dh - padTop;
          if (iy < 0 || iy >= H) continue;
          let xb = ((n * H + iy) * W + ox0 * sw + offX) * C;
          let db = ((n * Ho + oy) * Wo + ox0) * outC;
          const xStep = sw * C;
          for (let ox = ox0; ox < ox1; ox++, xb += xStep, db += outC) {
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

/**
 * The same sum as a depthwise convolution wasm runs natively: per image, x (padded as in
 * the forward pass) correlated channel by channel with dy used as a [Ho, Wo, C, M] filter,
 * dilated by the forward stride; the first kh x kw outputs are dW. ~4x the JS loop.
 */
function depthwiseFilterGradientByConv(
  backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: ConvGeometry, filterShape: number[],
): TensorInfo {
  const [kh, kw, C, M] = filterShape;
  const { batch: N, inHeight: H, inWidth: W, outHeight: Ho, outWidth: Wo, strideHeight: sh, strideWidth: sw } = g;
  const padBottom = Math.max(0, (Ho - 1) * sh + kh - H - g.padTop);
  const padRight = Math.max(0, (Wo - 1) * sw + kw - W - g.padLeft);
  const perImage: TensorInfo[] = [];
  for (let n = 0; n < N; n++) {
    const xn = N === 1 ? x : callKernel('wasm', backend, 'Slice', { x }, { begin: [n, 0, 0, 0], size: [1, H, W, C] });
    const dyn = N === 1 ? dy : callKernel('wasm', backend, 'Slice', { x: dy }, { begin: [n, 0, 0, 0], size: [1, Ho, Wo, C * M] });
    const filter = callKernel('wasm', backend, 'Reshape', { x: dyn }, { shape: [Ho, Wo, C, M] });
    const z = callKernel('wasm', backend, 'DepthwiseConv2dNative', { x: xn, filter }, {
      strides: [1, 1],
      dilations: [sh, sw],
      pad: [[0, 0], [g.padTop, padBottom], [g.padLeft, padRight], [0, 0]],
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    } as never);
    release(backend, filter);
    if (N > 1) release(backend, xn, dyn);
    const exact = z.shape[1] === kh && z.shape[2] === kw;
    perImage.push(exact ? z : callKernel('wasm', backend, 'Slice', { x: z }, { begin: [0, 0, 0, 0], size: [1, kh, kw, C * M] }));
    if (!exact) release(backend, z);
  }
  const total = perImage.length === 1 ? perImage[0] : callKernel('wasm', backend, 'AddN', perImage as never);
  if (perImage.length > 1) release(backend, ...perImage);
  const out = callKernel('wasm', backend, 'Reshape', { x: total }, { shape: filterShape });
  release(backend, total);
  return out;
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
  const g = convGeometry(info);
  if (g.dilationHeight === 1 && g.dilationWidth === 1) return depthwiseFilterGradientByConv(backend, x, dy, g, filterShape);
  const out = wasmAlloc(backend, [...filterShape]);
  depthwiseFilterGradient(wasmFloats(backend, x), wasmFloats(backend, dy), g, filterShape[3], wasmFloats(backend, out));
  return out;
}

export const depthwiseConv2dBackpropFilterWasm: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dBackpropFilter as unknown as KernelFunc,
};
