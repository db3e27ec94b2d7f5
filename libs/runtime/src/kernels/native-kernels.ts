import {
  _FusedMatMul,
  Add,
  backend_util,
  BatchMatMul,
  Cast,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNative,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  FusedConv2D,
  FusedDepthwiseConv2D,
  MaxPoolGrad,
  Multiply,
  RealDiv,
  Relu,
  Step,
  Sub,
  Sum,
  util,
  type KernelConfig,
  type KernelBackend,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { NativeActivation, NativeKernels } from '@lumen/runtime-native';
import { nativeEnabled } from './native-switch';
import type { TensorStorage } from './tensor-storage';

/**
 * Kernels that hand the arithmetic-heavy ops — GEMM, conv2d, depthwise conv2d and their
 * gradients — to @lumen/runtime-native (AVX-512 or AVX2/FMA, multi-threaded), reading and
 * writing the backend's tensor memory in place (TensorStorage: the wasm heap, or the native
 * backend's typed arrays). The wasm build of XNNPACK is 128-bit SIMD without FMA (~15 GFLOP/s a core here) and
 * repacks a matmul's right operand on every new tensor, i.e. every training step; the native
 * GEMM runs ~35 GFLOP/s a core. Cases they do not cover (NCHW, other activations,
 * broadcasting beyond one side, depthwise channel multipliers above 1, non-float32) go to
 * the kernel they replace.
 */
type KernelArgs = { inputs: Record<string, TensorInfo | undefined>; backend: KernelBackend; attrs: NamedAttrMap };

const ACTIVATIONS: Record<string, NativeActivation | undefined> = { linear: 0, relu: 1, relu6: 2 };

function activationOf(attrs: NamedAttrMap): NativeActivation | undefined {
  const name = (attrs.activation as string | undefined) ?? 'linear';
  return ACTIVATIONS[name];
}

/** Bias usable by the native epilogue: none, or one value per output channel. */
function biasOk(bias: TensorInfo | undefined, channels: number): boolean {
  return bias == null || (bias.dtype === 'float32' && util.sizeFromShape(bias.shape) === channels);
}

function geometry(info: backend_util.Conv2DInfo): number[] {
  return [
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  ];
}

function convInfo(xShape: number[], filterShape: number[], attrs: NamedAttrMap, depthwise = false): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number, (attrs.dilations as [number, number] | number | undefined) ?? 1,
    attrs.pad as 'valid' | 'same' | number, attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined, depthwise,
    backend_util.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC'),
  );
}

function nhwc(attrs: NamedAttrMap): boolean {
  return ((attrs.dataFormat as string | undefined) ?? 'NHWC') === 'NHWC';
}

function allFloat(...infos: (TensorInfo | undefined)[]): boolean {
  return infos.every((t) => t == null || t.dtype === 'float32');
}

function withFallback(
  storage: TensorStorage, kernelName: string, fallback: KernelConfig,
  run: (args: KernelArgs, view: (info: TensorInfo) => Float32Array, output: (shape: number[]) => TensorInfo) => TensorInfo | null,
): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const done = nativeEnabled() ? run(args, (info) => storage.view(args.backend, info), (shape) => storage.output(args.backend, shape)) : null;
    return done ?? fallback.kernelFunc(args as never);
  };
  return { kernelName, backendName: storage.backendName, setupFunc: fallback.setupFunc, kernelFunc: kernelFunc as unknown as KernelFunc };
}

function convKernel(native: NativeKernels, storage: TensorStorage, kernelName: string, fallback: KernelConfig, fused: boolean): KernelConfig {
  return withFallback(storage, kernelName, fallback, ({ inputs, attrs }, view, output) => {
    const { x, filter, bias, preluActivationWeights } = inputs;
    if (x == null || filter == null || preluActivationWeights != null || !allFloat(x, filter, bias)) return null;
    if (((attrs.dataFormat as string | undefined) ?? 'NHWC') !== 'NHWC') return null;
    const activation = fused ? activationOf(attrs) : 0;
    const info = convInfo(x.shape, filter.shape, attrs);
    if (activation == null || !biasOk(fused ? bias : undefined, info.outChannels)) return null;
    const out = output(info.outShape);
    native.conv2d(view(x), view(filter), view(out), geometry(info), fused && bias ? view(bias) : null, activation);
    return out;
  });
}

function conv2dBackpropInputKernel(native: NativeKernels, storage: TensorStorage, fallback: KernelConfig): KernelConfig {
  return withFallback(storage, Conv2DBackpropInput, fallback, ({ inputs, attrs }, view, output) => {
    const { dy, filter } = inputs;
    if (dy == null || filter == null || !allFloat(dy, filter) || ((attrs.dataFormat as string | undefined) ?? 'NHWC') !== 'NHWC') return null;
    const info = convInfo(attrs.inputShape as number[], filter.shape, attrs);
    const dx = output(info.inShape);
    native.conv2dBackpropInput(view(dy), view(filter), view(dx), geometry(info));
    return dx;
  });
}

function conv2dBackpropFilterKernel(native: NativeKernels, storage: TensorStorage, fallback: KernelConfig): KernelConfig {
  return withFallback(storage, Conv2DBackpropFilter, fallback, ({ inputs, attrs }, view, output) => {
    const { x, dy } = inputs;
    if (x == null || dy == null || !allFloat(x, dy) || ((attrs.dataFormat as string | undefined) ?? 'NHWC') !== 'NHWC') return null;
    const filterShape = attrs.filterShape as number[];
    const info = convInfo(x.shape, filterShape, attrs);
    const dw = output(filterShape);
    native.conv2dBackpropFilter(view(x), view(dy), view(dw), geometry(info));
    return dw;
  });
}

/** Depthwise conv forward, plain or fused (bias, relu/relu6); channel multiplier 1 only. */
function depthwiseKernel(native: NativeKernels, storage: TensorStorage, kernelName: string, fallback: KernelConfig, fused: boolean): KernelConfig {
  return withFallback(storage, kernelName, fallback, ({ inputs, attrs }, view, output) => {
    const { x, filter, bias, preluActivationWeights } = inputs;
    if (x == null || filter == null || preluActivationWeights != null || !allFloat(x, filter, bias) || !nhwc(attrs)) return null;
    if (filter.shape[3] !== 1) return null;
    const activation = fused ? activationOf(attrs) : 0;
    const info = convInfo(x.shape, filter.shape, attrs, true);
    if (activation == null || !biasOk(fused ? bias : undefined, info.outChannels)) return null;
    const out = output(info.outShape);
    native.depthwiseConv2d(view(x), view(filter), view(out), geometry(info), fused && bias ? view(bias) : null, activation);
    return out;
  });
}

function depthwiseBackpropInputKernel(native: NativeKernels, storage: TensorStorage, fallback: KernelConfig): KernelConfig {
  return withFallback(storage, DepthwiseConv2dNativeBackpropInput, fallback, ({ inputs, attrs }, view, output) => {
    const { dy, filter } = inputs;
    if (dy == null || filter == null || !allFloat(dy, filter) || !nhwc(attrs) || filter.shape[3] !== 1) return null;
    const info = convInfo(attrs.inputShape as number[], filter.shape, attrs, true);
    const dx = output(info.inShape);
    native.depthwiseConv2dBackpropInput(view(dy), view(filter), view(dx), geometry(info));
    return dx;
  });
}

function depthwiseBackpropFilterKernel(native: NativeKernels, storage: TensorStorage, fallback: KernelConfig): KernelConfig {
  return withFallback(storage, DepthwiseConv2dNativeBackpropFilter, fallback, ({ inputs, attrs }, view, output) => {
    const { x, dy } = inputs;
    const filterShape = attrs.filterShape as number[];
    if (x == null || dy == null || !allFloat(x, dy) || !nhwc(attrs) || filterShape[3] !== 1) return null;
    const info = convInfo(x.shape, filterShape, attrs, true);
    const dw = output(filterShape);
    native.depthwiseConv2dBackpropFilter(view(x), view(dy), view(dw), geometry(info));
    return dw;
  });
}

/** Batch count, strides (0 broadcasts) and outer output shape; null when both sides have several batches that differ. */
function batchLayout(a: number[], b: number[]): { outer: number[]; batch: number; aStride: number; bStride: number } | null {
  const outerA = a.slice(0, -2), outerB = b.slice(0, -2);
  const batchA = util.sizeFromShape(outerA), batchB = util.sizeFromShape(outerB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  return {
    outer: backend_util.assertAndGetBroadcastShape(outerA, outerB),
    batch: Math.max(batchA, batchB),
    aStride: batchA === 1 ? 0 : a[a.length - 1] * a[a.length - 2],
    bStride: batchB === 1 ? 0 : b[b.length - 1] * b[b.length - 2],
  };
}

function matMulKernel(native: NativeKernels, storage: TensorStorage, kernelName: string, fallback: KernelConfig, fused: boolean): KernelConfig {
  return withFallback(storage, kernelName, fallback, ({ inputs, attrs }, view, output) => {
    const { a, b, bias, preluActivationWeights } = inputs;
    if (a == null || b == null || preluActivationWeights != null || !allFloat(a, b, bias) || a.shape.length < 2 || b.shape.length < 2) return null;
    const transposeA = attrs.transposeA === true, transposeB = attrs.transposeB === true;
    const ra = a.shape.length, rb = b.shape.length;
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const kB = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const activation = fused ? activationOf(attrs) : 0;
    const layout = batchLayout(a.shape, b.shape);
    if (K !== kB || layout == null || activation == null || !biasOk(fused ? bias : undefined, N)) return null;
    const out = output([...layout.outer, M, N]);
    native.matMul(
      view(a), view(b), view(out),
      [layout.batch, M, N, K, transposeA ? 1 : 0, transposeB ? 1 : 0, layout.aStride, layout.bStride],
      fused && bias ? view(bias) : null, activation,
    );
    return out;
  });
}

/** Sum over every axis but the last (bias gradients; wasm's Sum runs ~80M values/s there), and with `anyAxes` over any axes. */
function sumKernel(native: NativeKernels, storage: TensorStorage, fallback: KernelConfig, anyAxes: boolean): KernelConfig {
  return withFallback(storage, Sum, fallback, ({ inputs, attrs }, view, output) => {
    const { x } = inputs;
    if (x == null || x.dtype !== 'float32' || x.shape.length < 1 || util.sizeFromShape(x.shape) === 0) return null;
    const rank = x.shape.length;
    const axes = util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((p, q) => p - q);
    if (rank < 2 || axes.length !== rank - 1 || axes.some((axis, i) => axis !== i)) {
      if (!anyAxes) return null;
      // Output strides over x's dims: row-major over the kept dims, 0 on the summed ones.
      const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const strides = broadcastStrides(kept, x.shape).map((s, i) => (axes.includes(i) ? 0 : s));
      const layout = collapse(x.shape, [broadcastStrides(x.shape, x.shape), strides]);
      if (layout == null) return null;
      const out = output(attrs.keepDims ? kept : x.shape.filter((_, i) => !axes.includes(i)));
      native.sumAxes(view(x), view(out), [layout.dims.length, ...layout.dims, ...layout.strides[1]]);
      return out;
    }
    const cols = x.shape[rank - 1];
    const out = output(attrs.keepDims ? [...x.shape.slice(0, -1).map(() => 1), cols] : [cols]);
    native.sumRows(view(x), view(out), util.sizeFromShape(x.shape) / Math.max(1, cols), cols);
    return out;
  });
}

/** Max-pool input gradient (a ResNet stem's), threads over rows of the map. */
function maxPoolGradKernel(native: NativeKernels, storage: TensorStorage, fallback: KernelConfig): KernelConfig {
  return withFallback(storage, MaxPoolGrad, fallback, ({ inputs, attrs }, view, output) => {
    const { dy, input, output: pooled } = inputs;
    if (dy == null || input == null || pooled == null || !allFloat(dy, input, pooled)) return null;
    const info = backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], attrs.filterSize as [number, number] | number, attrs.strides as [number, number] | number, 1,
      attrs.pad as 'valid' | 'same' | number, attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
    if (info.outShape.some((d, i) => d !== dy.shape[i])) return null;
    const dx = output(input.shape);
    native.maxPoolGrad(view(input), view(pooled), view(dy), view(dx), [
      info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.strideHeight, info.strideWidth,
      info.dilationHeight, info.dilationWidth, info.effectiveFilterHeight, info.effectiveFilterWidth, info.padInfo.top, info.padInfo.left,
    ]);
    return dx;
  });
}

/**
 * Native replacements for `storage`'s backend's kernels (each falls back to the one it
 * replaces, `current(name)`). `sumAnyAxes`: Sum over any axes too, where the fallback is slow
 * (tfjs-cpu transposes in JS); wasm's own Sum is kept for all but bias gradients.
 */
export function nativeKernels(
  native: NativeKernels, storage: TensorStorage, current: (name: string) => KernelConfig, options: { sumAnyAxes?: boolean } = {},
): KernelConfig[] {
  return [
    convKernel(native, storage, Conv2D, current(Conv2D), false),
    convKernel(native, storage, FusedConv2D, current(FusedConv2D), true),
    conv2dBackpropInputKernel(native, storage, current(Conv2DBackpropInput)),
    conv2dBackpropFilterKernel(native, storage, current(Conv2DBackpropFilter)),
    depthwiseKernel(native, storage, DepthwiseConv2dNative, current(DepthwiseConv2dNative), false),
    depthwiseKernel(native, storage, FusedDepthwiseConv2D, current(FusedDepthwiseConv2D), true),
    depthwiseBackpropInputKernel(native, storage, current(DepthwiseConv2dNativeBackpropInput)),
    depthwiseBackpropFilterKernel(native, storage, current(DepthwiseConv2dNativeBackpropFilter)),
    matMulKernel(native, storage, BatchMatMul, current(BatchMatMul), false),
    matMulKernel(native, storage, _FusedMatMul, current(_FusedMatMul), true),
    sumKernel(native, storage, current(Sum), options.sumAnyAxes ?? false),
    maxPoolGradKernel(native, storage, current(MaxPoolGrad)),
  ];
}

/** Strides (floats) of a row-major operand of `shape` along each dim of the broadcast output `outShape`, 0 where it repeats. */
function broadcastStrides(shape: number[], outShape: number[]): number[] {
  const strides = outShape.map(() => 0);
  for (let i = shape.length - 1, o = outShape.length - 1, stride = 1; i >= 0; i--, o--) {
    strides[o] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/**
 * Dims of size 1 dropped and neighbours merged where every operand steps through both as
 * through one (stride[d-1] = stride[d]·dims[d], zeros included): a bias add becomes [rows,
 * C], a same-shape op one run. Null past the native kernels' rank 6.
 */
function collapse(dims: number[], strides: number[][]): { dims: number[]; strides: number[][] } | null {
  const out = { dims: [] as number[], strides: strides.map(() => [] as number[]) };
  dims.forEach((d, i) => {
    if (d === 1) return;
    const last = out.dims.length - 1;
    if (last >= 0 && strides.every((s, k) => out.strides[k][last] === s[i] * d)) {
      out.dims[last] *= d;
      strides.forEach((s, k) => (out.strides[k][last] = s[i]));
    } else {
      out.dims.push(d);
      strides.forEach((s, k) => out.strides[k].push(s[i]));
    }
  });
  if (out.dims.length === 0) return { dims: [1], strides: strides.map(() => [0]) };
  return out.dims.length <= 6 ? out : null;
}

const BINARY_OPS = { [Add]: 0, [Sub]: 1, [Multiply]: 2, [RealDiv]: 3 } as const;

/** float32 add/sub/mul/div under any broadcast up to rank 6 (after collapsing). */
function binaryKernel(native: NativeKernels, storage: TensorStorage, kernelName: keyof typeof BINARY_OPS, fallback: KernelConfig): KernelConfig {
  return withFallback(storage, kernelName, fallback, ({ inputs }, view, output) => {
    const { a, b } = inputs;
    if (a == null || b == null || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (util.sizeFromShape(outShape) === 0) return null;
    const layout = collapse(outShape, [broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape)]);
    if (layout == null) return null;
    const out = output(outShape);
    native.binary(BINARY_OPS[kernelName], view(a), view(b), view(out), [layout.dims.length, ...layout.dims, ...layout.strides[0], ...layout.strides[1]]);
    return out;
  });
}

function unaryKernel(native: NativeKernels, storage: TensorStorage, kernelName: typeof Relu | typeof Step, fallback: KernelConfig): KernelConfig {
  return withFallback(storage, kernelName, fallback, ({ inputs, attrs }, view, output) => {
    const { x } = inputs;
    if (x == null || x.dtype !== 'float32' || util.sizeFromShape(x.shape) === 0) return null;
    const out = output(x.shape);
    native.unary(kernelName === Relu ? 0 : 1, view(x), view(out), kernelName === Step ? ((attrs.alpha as number | undefined) ?? 0) : 0);
    return out;
  });
}

/**
 * Cast to float32 from int32 or bool into a float32 array of the tensor's own. tfjs-cpu's Cast
 * loses no precision there, so it returns the input's dataId (its Int32Array or Uint8Array)
 * under the new dtype: a float32 tensor TensorStorage cannot view, which every kernel here
 * would refuse. Not switched off with the native kernels: the JS paths over TensorStorage (the
 * hard activations') need the same. Other casts are tfjs-cpu's (float32 to int32 or bool
 * copies; to its own dtype or bool to int32 shares, but the result is no float32 tensor).
 */
function castKernel(storage: TensorStorage, fallback: KernelConfig): KernelConfig {
  const kernelFunc = (args: KernelArgs) => {
    const { inputs: { x }, backend, attrs } = args;
    if (x == null || attrs.dtype !== 'float32' || (x.dtype !== 'int32' && x.dtype !== 'bool')) return fallback.kernelFunc(args as never);
    const out = storage.output(backend, x.shape);
    storage.view(backend, out).set(backend.readSync(x.dataId) as Int32Array | Uint8Array);
    return out;
  };
  return { kernelName: Cast, backendName: storage.backendName, setupFunc: fallback.setupFunc, kernelFunc: kernelFunc as unknown as KernelFunc };
}

/**
 * The element-wise kernels training repeats most (residual adds, ReLU and its gradient's
 * step and product), for the native backend: tfjs-cpu runs them as a JS closure per element;
 * and a Cast whose float32 results hold a Float32Array.
 */
export function nativeElementwiseKernels(native: NativeKernels, storage: TensorStorage, current: (name: string) => KernelConfig): KernelConfig[] {
  return [
    ...([Add, Sub, Multiply, RealDiv] as const).map((name) => binaryKernel(native, storage, name, current(name))),
    unaryKernel(native, storage, Relu, current(Relu)),
    unaryKernel(native, storage, Step, current(Step)),
    castKernel(storage, current(Cast)),
  ];
}

export const NATIVE_ELEMENTWISE_KERNEL_NAMES = [Add, Sub, Multiply, RealDiv, Relu, Step, Cast] as const;

export const NATIVE_KERNEL_NAMES = [
  Conv2D, FusedConv2D, Conv2DBackpropInput, Conv2DBackpropFilter,
  DepthwiseConv2dNative, FusedDepthwiseConv2D, DepthwiseConv2dNativeBackpropInput, DepthwiseConv2dNativeBackpropFilter,
  BatchMatMul, _FusedMatMul, Sum, MaxPoolGrad,
] as const;
