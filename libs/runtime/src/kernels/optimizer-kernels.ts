import { LumenAdamUpdate, LumenSgdUpdate, LumenSumSquares } from '@lumen/core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NativeKernels } from '@lumen/runtime-native';
import { nativeEnabled } from './native-switch';

/**
 * Fused optimizer kernels for the wasm backend, run by @lumen/detector's applyGradients
 * when the active backend has them (their names, inputs and attrs are @lumen/core's
 * kernel-names.ts). One pass over a variable's memory in place of ~10 element-wise kernels
 * or a copy out to JS and back — for a ResNet-50 C4 detector (70M parameters) the copies
 * alone took ~1.5 s a step.
 */

type Args = { inputs: Record<string, TensorInfo | undefined>; backend: BackendWasm; attrs: NamedAttrMap };

const f = Math.fround;

function view(backend: BackendWasm, info: TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`@lumen/runtime: optimizer kernels take float32 tensors, got ${info.dtype}`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function required(inputs: Args['inputs'], name: string, kernel: string): TensorInfo {
  const t = inputs[name];
  if (t == null) throw new Error(`@lumen/runtime: ${kernel} needs input '${name}'`);
  return t;
}

function sgdUpdate(native: NativeKernels | null) {
  return ({ inputs, backend, attrs }: Args): TensorInfo[] => {
    const param = required(inputs, 'param', LumenSgdUpdate), grad = required(inputs, 'grad', LumenSgdUpdate);
    const momentum = inputs.momentum;
    const outW = backend.makeOutput(param.shape, 'float32');
    const outBuffer = momentum ? backend.makeOutput(param.shape, 'float32') : null;
    const [lr, mu, wd, scale] = [attrs.lr, attrs.momentum, attrs.weightDecay, attrs.gradScale] as number[];
    const w = view(backend, param), g = view(backend, grad), nw = view(backend, outW);
    const buf = momentum ? view(backend, momentum) : null, nb = outBuffer ? view(backend, outBuffer) : null;
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

function adamUpdate(native: NativeKernels | null) {
  return ({ inputs, backend, attrs }: Args): TensorInfo[] => {
    const [param, grad, m, v] = ['param', 'grad', 'm', 'v'].map((n) => required(inputs, n, LumenAdamUpdate));
    const outs = [0, 1, 2].map(() => backend.makeOutput(param.shape, 'float32'));
    const h = ['stepSize', 'beta1', 'beta2', 'biasCorrection2Sqrt', 'epsilon', 'weightDecay', 'gradScale'].map((k) => attrs[k] as number);
    const [w, g, mv, vv, nw, nm, nv] = [param, grad, m, v, ...outs].map((t) => view(backend, t));
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

function sumSquares(native: NativeKernels | null) {
  return ({ inputs, backend }: Args): TensorInfo => {
    const x = required(inputs, 'x', LumenSumSquares);
    const out = backend.makeOutput([], 'float32');
    const values = view(backend, x);
    let total = 0;
    if (native && nativeEnabled()) total = native.sumSquares(values);
    else for (let i = 0; i < values.length; i++) total += values[i] * values[i];
    view(backend, out)[0] = total;
    return out;
  };
}

/** The optimizer kernels for wasm, native when @lumen/runtime-native is built, JS on the heap otherwise. */
export function optimizerKernelsWasm(native: NativeKernels | null): KernelConfig[] {
  return [
    { kernelName: LumenSgdUpdate, backendName: 'wasm', kernelFunc: sgdUpdate(native) as unknown as KernelFunc },
    { kernelName: LumenAdamUpdate, backendName: 'wasm', kernelFunc: adamUpdate(native) as unknown as KernelFunc },
    { kernelName: LumenSumSquares, backendName: 'wasm', kernelFunc: sumSquares(native) as unknown as KernelFunc },
  ];
}
