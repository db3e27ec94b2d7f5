import {
  getKernel,
  getKernelsForBackend,
  registerBackend,
  registerGradient,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
} from '@tensorflow/tfjs-core';
import { comparisonGradConfigs } from './gradients/comparison-grads';
import { conv2dGradConfig } from './gradients/conv2d-grad';
import { cropAndResizeGradConfig } from './gradients/crop-and-resize-grad';
import { gatherNdGradConfig } from './gradients/gather-nd-grad';
import { meanGradConfig, sumGradConfig } from './gradients/reduce-grads';
import { conv2dBackpropFilterWasm } from './kernels/conv2d-backprop-filter';
import { conv2dBackpropInputWasm } from './kernels/conv2d-backprop-input';
import { CPU_FALLBACK_KERNELS, cpuFallbackKernel } from './kernels/cpu-fallback';
import { depthwiseConv2dBackpropFilterWasm } from './kernels/depthwise-conv2d-backprop-filter';
import { depthwiseConv2dBackpropInputWasm } from './kernels/depthwise-conv2d-backprop-input';
import { batchMatMulWasm } from './kernels/batch-mat-mul';
import { identityWasm } from './kernels/identity';
import { maxPoolGradWasm } from './kernels/max-pool-grad';
import { NATIVE_KERNEL_NAMES, nativeElementwiseKernels, nativeKernels } from './kernels/native-kernels';
import { NativeBackend } from './native-backend';
import { optimizerKernels } from './kernels/optimizer-kernels';
import { batchNormKernels } from './kernels/batch-norm-kernels';
import { hardActivationKernels } from './kernels/hard-activation-kernels';
import { roiResampleKernels } from './kernels/roi-resample-kernels';
import { NATIVE_BACKEND, NATIVE_STORAGE, WASM_STORAGE } from './kernels/tensor-storage';
import { native, reason } from '@lumen/runtime-native';
import { tileWasm } from './kernels/tile';
import { unsortedSegmentSumWasm } from './kernels/unsorted-segment-sum';

/** The wasm kernels Lumen provides: missing ones, and slow or copying ones (Conv2DBackpropInput, MaxPoolGrad, Identity, Tile) replaced. */
export const WASM_TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2dBackpropFilterWasm,
  conv2dBackpropInputWasm,
  depthwiseConv2dBackpropFilterWasm,
  depthwiseConv2dBackpropInputWasm,
  unsortedSegmentSumWasm,
  maxPoolGradWasm,
  identityWasm,
  tileWasm,
];

let gradientsRegistered = false;
let wasmKernelsRegistered = false;

/**
 * Gradients tfjs-core lacks or restricts, on every backend: Conv2D with dilations, GatherNd,
 * CropAndResize (w.r.t. the image), the zero gradients of comparisons and logical ops; and
 * Sum and Mean without a JS-filled `ones` tensor per backward pass.
 * Also loads tfjs's own gradient registry, which the `@tensorflow/tfjs-core` Node bundle
 * does not register by itself.
 */
export function registerTrainingGradients(): void {
  if (gradientsRegistered) return;
  // The union package's Node bundle registers every tfjs gradient as a side effect.
  require('@tensorflow/tfjs');
  for (const config of [conv2dGradConfig, gatherNdGradConfig, cropAndResizeGradConfig, sumGradConfig, meanGradConfig, ...comparisonGradConfigs]) {
    registerGradient(config);
  }
  gradientsRegistered = true;
}

/** Registers Lumen's wasm kernels (replacing wasm's slow Conv2DBackpropInput). Idempotent. */
export function registerWasmTrainingKernels(log: (message: string) => void = console.warn): void {
  if (wasmKernelsRegistered) return;
  // The wasm backend registers its kernels when its package loads.
  require('@tensorflow/tfjs-backend-wasm');
  for (const config of WASM_TRAINING_KERNELS) {
    if (getKernel(config.kernelName, 'wasm') != null) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
  // BatchMatMul wraps wasm's own (kept for plain operands).
  const matMul = getKernel('BatchMatMul', 'wasm');
  if (matMul != null) {
    unregisterKernel('BatchMatMul', 'wasm');
    registerKernel(batchMatMulWasm(matMul));
  }
  for (const config of [...optimizerKernels(null, WASM_STORAGE), ...batchNormKernels(null, WASM_STORAGE)]) registerKernel(config);
  for (const name of CPU_FALLBACK_KERNELS) {
    if (getKernel(name, 'wasm') == null) registerKernel(cpuFallbackKernel(name, log));
  }
  wasmKernelsRegistered = true;
}

let nativeKernelsRegistered = false;

/** The kernel `name` of `backend`, which native kernels are put in front of (it answers what they do not cover). */
const kernelOf = (backend: string) => (name: string): KernelConfig => {
  const kernel = getKernel(name, backend);
  if (kernel == null) throw new Error(`@lumen/runtime: the ${backend} backend has no '${name}' kernel to put native kernels in front of`);
  return kernel;
};

/** Registers `configs`, each replacing its backend's kernel of the same name. */
function putInFront(configs: KernelConfig[]): void {
  for (const config of configs) {
    if (getKernel(config.kernelName, config.backendName) != null) unregisterKernel(config.kernelName, config.backendName);
    registerKernel(config);
  }
}

/**
 * Loads @lumen/runtime-native and, when it is built, puts its GEMM and conv kernels in front
 * of the wasm backend's (each falls back to the kernel it replaces). Returns what runs, or
 * null with the reason. Call before the wasm backend initialises. `LUMEN_NATIVE=0` disables.
 */
export function registerNativeWasmKernels(threads: number): { isa: string; threads: number } | { reason: string } {
  if (native == null) return { reason: reason ?? 'unavailable' };
  native.setThreads(threads);
  if (!nativeKernelsRegistered) {
    registerWasmTrainingKernels();
    putInFront([
      ...nativeKernels(native, WASM_STORAGE, kernelOf('wasm')), ...optimizerKernels(native, WASM_STORAGE), ...batchNormKernels(native, WASM_STORAGE),
      ...hardActivationKernels(native, WASM_STORAGE), ...roiResampleKernels(native, WASM_STORAGE),
    ]);
    nativeKernelsRegistered = true;
  }
  return { isa: native.isa(), threads: native.threads() };
}

export { NATIVE_KERNEL_NAMES };

let nativeBackendRegistered = false;

/**
 * Registers the `native` backend: tfjs's cpu backend — every tensor a typed array in Node's
 * memory, so a model is not bounded by wasm32's 4 GB heap — with @lumen/runtime-native's GEMM,
 * conv, depthwise, element-wise, optimizer, batch-norm and hard-activation kernels in front of its JS ones (each falls back to
 * the one it replaces). Returns what runs, or the reason it cannot (the addon is not built).
 */
export function registerNativeBackend(threads: number): { isa: string; threads: number } | { reason: string } {
  if (native == null) return { reason: reason ?? 'unavailable' };
  native.setThreads(threads);
  if (!nativeBackendRegistered) {
    registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 0);
    for (const config of getKernelsForBackend('cpu')) registerKernel({ ...config, backendName: NATIVE_BACKEND });
    const current = kernelOf(NATIVE_BACKEND);
    putInFront([
      ...nativeKernels(native, NATIVE_STORAGE, current, { sumAnyAxes: true }), ...nativeElementwiseKernels(native, NATIVE_STORAGE, current),
      ...optimizerKernels(native, NATIVE_STORAGE), ...batchNormKernels(native, NATIVE_STORAGE), ...hardActivationKernels(native, NATIVE_STORAGE), ...roiResampleKernels(native, NATIVE_STORAGE),
    ]);
    nativeBackendRegistered = true;
  }
  return { isa: native.isa(), threads: native.threads() };
}
