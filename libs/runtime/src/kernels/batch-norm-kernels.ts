import { LumenBatchNormGrad, LumenBatchNormTraining } from '@lumen/core';
import type { KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeKernels } from '@lumen/runtime-native';
import { nativeEnabled } from './native-switch';
import type { TensorStorage } from './tensor-storage';

/**
 * Training-mode BatchNorm for the wasm and native backends, used by @lumen/core's batchNormTraining
 * (backbones, FPN, conv-fc head) when the active backend has these kernels (their names,
 * inputs and outputs are @lumen/core's kernel-names.ts). Two passes for the statistics and one to normalise, then two for the
 * gradient — in place of ~7 element-wise kernels forward and ~6 backward, the largest share
 * of a small ResNet's training step. Sums accumulate in float64.
 */

type Args = { inputs: Record<string, TensorInfo | undefined>; backend: KernelBackend; attrs: NamedAttrMap };

function viewOf(storage: TensorStorage, backend: KernelBackend, info: TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`@lumen/runtime: batch-norm kernels take float32 tensors, got ${info.dtype}`);
  return storage.view(backend, info);
}

function input(inputs: Args['inputs'], name: string, kernel: string): TensorInfo {
  const t = inputs[name];
  if (t == null) throw new Error(`@lumen/runtime: ${kernel} needs input '${name}'`);
  return t;
}

function channelsOf(x: TensorInfo, kernel: string, ...perChannel: TensorInfo[]): number {
  const channels = x.shape[x.shape.length - 1];
  for (const t of perChannel) {
    if (t.shape.length !== 1 || t.shape[0] !== channels) {
      throw new Error(`@lumen/runtime: ${kernel} expects per-channel inputs of shape [${channels}], got [${t.shape}]`);
    }
  }
  return channels;
}

function batchNormTraining(native: NativeKernels | null, storage: TensorStorage) {
  return ({ inputs, backend, attrs }: Args): TensorInfo[] => {
    const view = (info: TensorInfo) => viewOf(storage, backend, info);
    const [x, gamma, beta] = ['x', 'gamma', 'beta'].map((n) => input(inputs, n, LumenBatchNormTraining));
    const C = channelsOf(x, LumenBatchNormTraining, gamma, beta);
    const eps = attrs.epsilon as number;
    const relu = attrs.relu === true;
    const outs = [storage.output(backend, x.shape), storage.output(backend, x.shape), ...[0, 1, 2].map(() => storage.output(backend, [C]))];
    const [xv, g, b, y, xhat, mean, variance, invstd] = [x, gamma, beta, ...outs].map((t) => view(t));
    if (native && nativeEnabled()) {
      native.batchNormTraining(xv, g, b, y, xhat, mean, variance, invstd, C, eps, relu);
      return outs;
    }
    const rows = xv.length / C;
    const sums = new Float64Array(C);
    for (let i = 0; i < xv.length; i++) sums[i % C] += xv[i];
    for (let c = 0; c < C; c++) mean[c] = sums[c] / rows;
    sums.fill(0);
    for (let i = 0; i < xv.length; i++) {
      const d = xv[i] - mean[i % C];
      sums[i % C] += d * d;
    }
    for (let c = 0; c < C; c++) {
      variance[c] = sums[c] / rows;
      invstd[c] = 1 / Math.sqrt(variance[c] + eps);
    }
    for (let i = 0; i < xv.length; i++) {
      const c = i % C;
      xhat[i] = Math.fround(xv[i] - mean[c]) * invstd[c];
      const v = Math.fround(Math.fround(xhat[i] * g[c]) + b[c]);
      y[i] = relu && v < 0 ? 0 : v;
    }
    return outs;
  };
}

function batchNormGrad(native: NativeKernels | null, storage: TensorStorage) {
  return ({ inputs, backend }: Args): TensorInfo[] => {
    const view = (info: TensorInfo) => viewOf(storage, backend, info);
    const [dy, xhat, gamma, invstd] = ['dy', 'xhat', 'gamma', 'invstd'].map((n) => input(inputs, n, LumenBatchNormGrad));
    const C = channelsOf(dy, LumenBatchNormGrad, gamma, invstd);
    // A relu BatchNorm's output: dy counts where it is positive.
    const y = inputs.y;
    if (y != null && y.shape.join() !== dy.shape.join()) throw new Error(`@lumen/runtime: ${LumenBatchNormGrad} takes y of dy's shape [${dy.shape}], got [${y.shape}]`);
    const outs = [storage.output(backend, dy.shape), storage.output(backend, [C]), storage.output(backend, [C])];
    const [g0, h, gm, inv, dx, dgamma, dbeta] = [dy, xhat, gamma, invstd, ...outs].map((t) => view(t));
    const mask = y == null ? null : view(y);
    if (native && nativeEnabled()) {
      native.batchNormGrad(g0, h, gm, inv, dx, dgamma, dbeta, C, mask);
      return outs;
    }
    const g = mask == null ? g0 : g0.map((v, i) => (mask[i] > 0 ? v : 0));
    const n = g.length / C;
    const sumDy = new Float64Array(C), sumDyX = new Float64Array(C);
    for (let i = 0; i < g.length; i++) {
      sumDy[i % C] += g[i];
      sumDyX[i % C] += g[i] * h[i];
    }
    dbeta.set(sumDy);
    dgamma.set(sumDyX);
    for (let i = 0; i < g.length; i++) {
      const c = i % C;
      dx[i] = ((gm[c] * inv[c]) / n) * (n * g[i] - dbeta[c] - h[i] * dgamma[c]);
    }
    return outs;
  };
}

/** The batch-norm kernels for `storage`'s backend: native when @lumen/runtime-native is built, JS over the same memory otherwise. */
export function batchNormKernels(native: NativeKernels | null, storage: TensorStorage): KernelConfig[] {
  return [
    { kernelName: LumenBatchNormTraining, backendName: storage.backendName, kernelFunc: batchNormTraining(native, storage) as unknown as KernelFunc },
    { kernelName: LumenBatchNormGrad, backendName: storage.backendName, kernelFunc: batchNormGrad(native, storage) as unknown as KernelFunc },
  ];
}
