import { LumenAdamUpdate, LumenSgdUpdate, LumenSumSquares } from '@lumen/core';
import type { KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeKernels } from '@lumen/runtime-native';
import { nativeEnabled } from './native-switch';
import type { TensorStorage } from './tensor-storage';

/**
 * Fused optimizer kernels for the wasm and native backends, run by @lumen/detector's applyGradients
 * when the active backend has them (their names, inputs and attrs are @lumen/core's
 * kernel-names.ts). One pass over a variable's memory in place of ~10 element-wise kernels
 * or a copy out to JS and back — for a ResNet-50 C4 detector (70M parameters) the copies
 * alone took ~1.5 s a step.
 */

type Args = { inputs: Record<string, TensorInfo | undefined>; backend: KernelBackend; attrs: NamedAttrMap };

const f = Math.fround;

function viewOf(storage: TensorStorage, backend: KernelBackend, info: TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`@lumen/runtime: optimizer kernels take float32 tensors, got ${info.dtype}`);
  return storage.view(backend, info);
}

function required(inputs: Args['inputs'], name: string, kernel: string): TensorInfo {
  const t = inputs[name];
  if (t == null) throw new Error(`@lumen/runtime: ${kernel} needs input '${name}'`);
  return t;
}

function sgdUpdate(native: NativeKernels | null, storage: TensorStorage) {
  return ({ inputs, backend, attrs }: Args): TensorInfo[] => {
    const view = (info: TensorInfo) => viewOf(storage, backend, info);
    const param = required(inputs, 'param', LumenSgdUpdate), grad = required(inputs, 'grad', LumenSgdUpdate);
    const momentum = inputs.momentum;
    const outW = storage.output(backend, param.shape);
    const outBuffer = momentum ? storage.output(backend, param.shape) : null;
    const [lr, mu, wd, scale] = [attrs.lr, attrs.momentum, attrs.weightDecay, attrs.gradScale] as number[];
    const w = view(param), g = view(grad), nw = view(outW);
    const buf = momentum ? view(momentum) : null, nb = outBuffer ? view(outBuffer) : null;
    if (native && nativeEnabled()) {
      native.sgdUpdate(w, g, buf, nw, nb, [lr, mu, wd, scale]);
    } else {
      const [flr, fmu, fwd, fscale] = [f(lr), f(mu), f(wd), f(scale)];
      for (let i = 0; i < w.length; i++) {
        let d = f(f(g[i] * fscale) + f(w[i] * fwd));
        if (buf && nb) d = nb[i] = f(f(buf[i] * fmu) + d);
        nw[i] = f(w[i] - f(d * flr));
      }
    }
    return outBuffer ? [outW, outBuffer] : [outW];
  };
}

function adamUpdate(native: NativeKernels | null, storage: TensorStorage) {
  return ({ inputs, backend, attrs }: Args): TensorInfo[] => {
    const view = (info: TensorInfo) => viewOf(storage, backend, info);
    const [param, grad, m, v] = ['param', 'grad', 'm', 'v'].map((n) => required(inputs, n, LumenAdamUpdate));
    const outs = [0, 1, 2].map(() => storage.output(backend, param.shape));
    const h = ['stepSize', 'beta1', 'beta2', 'biasCorrection2Sqrt', 'epsilon', 'weightDecay', 'gradScale'].map((k) => attrs[k] as number);
    const [w, g, mv, vv, nw, nm, nv] = [param, grad, m, v, ...outs].map((t) => view(t));
    if (native && nativeEnabled()) {
      native.adamUpdate(w, g, mv, vv, nw, nm, nv, h);
    } else {
      const [step, b1, b2, c2, eps, wd, scale] = h.map(f);
      const [ob1, ob2] = [f(1 - b1), f(1 - b2)];
      for (let i = 0; i < w.length; i++) {
        const d = f(f(g[i] * scale) + f(w[i] * wd));
        const m1 = (nm[i] = f(f(mv[i] * b1) + f(d * ob1)));
        const v1 = (nv[i] = f(f(vv[i] * b2) + f(f(d * d) * ob2)));
        nw[i] = f(w[i] - f(f(step * m1) / f(f(f(Math.sqrt(v1)) / c2) + eps)));
      }
    }
    return outs;
  };
}

function sumSquares(native: NativeKernels | null, storage: TensorStorage) {
  return ({ inputs, backend }: Args): TensorInfo => {
    const view = (info: TensorInfo) => viewOf(storage, backend, info);
    const x = required(inputs, 'x', LumenSumSquares);
    const out = storage.output(backend, []);
    const values = view(x);
    let total = 0;
    if (native && nativeEnabled()) total = native.sumSquares(values);
    else for (let i = 0; i < values.length; i++) total += values[i] * values[i];
    view(out)[0] = total;
    return out;
  };
}

/** The optimizer kernels for `storage`'s backend: native when @lumen/runtime-native is built, JS over the same memory otherwise. */
export function optimizerKernels(native: NativeKernels | null, storage: TensorStorage): KernelConfig[] {
  return [
    { kernelName: LumenSgdUpdate, backendName: storage.backendName, kernelFunc: sgdUpdate(native, storage) as unknown as KernelFunc },
    { kernelName: LumenAdamUpdate, backendName: storage.backendName, kernelFunc: adamUpdate(native, storage) as unknown as KernelFunc },
    { kernelName: LumenSumSquares, backendName: storage.backendName, kernelFunc: sumSquares(native, storage) as unknown as KernelFunc },
  ];
}
