import { LumenBatchNormGrad, LumenBatchNormTraining } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Plain-JS cpu versions of the fused BatchNorm kernels (their contract: kernel-names.ts in
 * @lumen/core), so the fused path is tested without @lumen/runtime. Statistics over every
 * axis but the last. `calls` counts the runs; `unregister` removes both kernels.
 */
/** What the kernels use of the cpu backend (MathBackendCPU; the library types only tfjs-core). */
interface CpuBackend {
  readSync(dataId: tf.TensorInfo['dataId']): unknown;
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

export function registerCpuBatchNormKernels(): { calls: { training: number; grad: number }; unregister(): void } {
  const calls = { training: 0, grad: 0 };
  const read = (backend: CpuBackend, t: tf.TensorInfo) => backend.readSync(t.dataId) as Float32Array;
  const perChannel = (length: number, channels: number, value: (i: number) => number) => {
    const out = new Float64Array(channels);
    for (let i = 0; i < length; i++) out[i % channels] += value(i);
    return out;
  };
  tf.registerKernel({
    kernelName: LumenBatchNormTraining,
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend: kernelBackend, attrs }) => {
      calls.training++;
      const backend = kernelBackend as CpuBackend;
      const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
      const { epsilon: eps, relu } = attrs as { epsilon: number; relu?: boolean };
      const [xs, g, bias] = [read(backend, x), read(backend, gamma), read(backend, beta)];
      const c = g.length;
      const n = xs.length / c;
      const mean = perChannel(xs.length, c, (i) => xs[i]).map((s) => s / n);
      const variance = perChannel(xs.length, c, (i) => (xs[i] - mean[i % c]) ** 2).map((s) => s / n);
      const invstd = variance.map((v) => 1 / Math.sqrt(v + eps));
      const xhat = xs.map((v, i) => (v - mean[i % c]) * invstd[i % c]);
      const y = xhat.map((v, i) => v * g[i % c] + bias[i % c]).map((v) => (relu && v < 0 ? 0 : v));
      return [y, xhat].map((values) => backend.makeTensorInfo(x.shape, 'float32', values)).concat(
        [mean, variance, invstd].map((values) => backend.makeTensorInfo([c], 'float32', Float32Array.from(values))),
      );
    },
  });
  tf.registerKernel({
    kernelName: LumenBatchNormGrad,
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend: kernelBackend }) => {
      calls.grad++;
      const backend = kernelBackend as CpuBackend;
      const { dy, xhat, gamma, invstd, y } = inputs as Record<'dy' | 'xhat' | 'gamma' | 'invstd', tf.TensorInfo> & { y?: tf.TensorInfo };
      const [xh, g, inv] = [read(backend, xhat), read(backend, gamma), read(backend, invstd)];
      const out = y == null ? null : read(backend, y);
      // A relu BatchNorm's gradient: dy where its output is positive.
      const dys = out == null ? read(backend, dy) : read(backend, dy).map((d, i) => (out[i] > 0 ? d : 0));
      const c = g.length;
      const n = dys.length / c;
      const sumDy = perChannel(dys.length, c, (i) => dys[i]);
      const sumDyXhat = perChannel(dys.length, c, (i) => dys[i] * xh[i]);
      const dx = dys.map((d, i) => ((g[i % c] * inv[i % c]) / n) * (n * d - sumDy[i % c] - xh[i] * sumDyXhat[i % c]));
      return [backend.makeTensorInfo(dy.shape, 'float32', dx), ...[sumDyXhat, sumDy].map((values) => backend.makeTensorInfo([c], 'float32', Float32Array.from(values)))];
    },
  });
  return {
    calls,
    unregister() {
      tf.unregisterKernel(LumenBatchNormTraining, 'cpu');
      tf.unregisterKernel(LumenBatchNormGrad, 'cpu');
    },
  };
}
