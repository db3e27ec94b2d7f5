import { LumenHardSigmoid, LumenHardSigmoidGrad, LumenHardSwish, LumenHardSwishGrad } from '@lumen/core';
import { util, type KernelBackend, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeKernels } from '@lumen/runtime-native';
import { nativeEnabled } from './native-switch';
import type { TensorStorage } from './tensor-storage';

/**
 * MobileNetV3's hard-swish and hard-sigmoid and their gradients for the wasm and native
 * backends, run by @lumen/backbone when the active backend has them (names, inputs and
 * outputs are @lumen/core's kernel-names.ts). One pass over the map each way, in place of the
 * 3-9 element-wise kernels (and as many fresh tensors) of their composition: those took ~68 of
 * ~180 ms of MobileNetV3-FPN inference on wasm. The arithmetic is the composition's, float32
 * operation for operation, so the two agree to the bit (but for NaN on wasm, whose Relu6 makes
 * it 0 where these kernels, the cpu backend and torch keep NaN).
 */

type Args = { inputs: Record<string, TensorInfo | undefined>; backend: KernelBackend };

const f = Math.fround;
const SIXTH = f(1 / 6);
/** relu6(x + 3) in float32; Math.max/min keep NaN. */
const shifted = (x: number) => Math.min(Math.max(f(x + 3), 0), 6);

/** Each activation: its kernels, @lumen/runtime-native's op code, and the JS form used when the addon is off. */
const ACTIVATIONS = [
  {
    name: LumenHardSwish, gradName: LumenHardSwishGrad, op: 2 as const,
    forward: (x: number) => x * f(shifted(x) * SIXTH),
    // NaN fails both tests and gets 1, as in torch's hardswish_backward.
    slope: (x: number) => (x < -3 ? 0 : x <= 3 ? f(f(x / 3) + 0.5) : 1),
  },
  {
    name: LumenHardSigmoid, gradName: LumenHardSigmoidGrad, op: 3 as const,
    forward: (x: number) => shifted(x) * SIXTH,
    slope: (x: number) => (x > -3 && x < 3 ? SIXTH : 0),
  },
];

function float32(inputs: Args['inputs'], name: string, kernel: string): TensorInfo {
  const t = inputs[name];
  if (t == null) throw new Error(`@lumen/runtime: ${kernel} needs input '${name}'`);
  if (t.dtype !== 'float32') throw new Error(`@lumen/runtime: ${kernel} takes a float32 '${name}', got ${t.dtype}`);
  return t;
}

function forwardKernel(native: NativeKernels | null, storage: TensorStorage, a: (typeof ACTIVATIONS)[number]) {
  return ({ inputs, backend }: Args): TensorInfo => {
    const x = float32(inputs, 'x', a.name);
    // The output first: allocating may grow the wasm heap, which detaches older views of it.
    const out = storage.output(backend, x.shape);
    const [xv, ov] = [x, out].map((t) => storage.view(backend, t));
    if (native && nativeEnabled()) native.unary(a.op, xv, ov, 0);
    else for (let i = 0; i < xv.length; i++) ov[i] = a.forward(xv[i]);
    return out;
  };
}

function gradientKernel(native: NativeKernels | null, storage: TensorStorage, a: (typeof ACTIVATIONS)[number]) {
  return ({ inputs, backend }: Args): TensorInfo => {
    const dy = float32(inputs, 'dy', a.gradName), x = float32(inputs, 'x', a.gradName);
    if (!util.arraysEqual(dy.shape, x.shape)) throw new Error(`@lumen/runtime: ${a.gradName} takes dy and x of one shape, got [${dy.shape}] and [${x.shape}]`);
    const dx = storage.output(backend, x.shape);
    const [dyv, xv, dxv] = [dy, x, dx].map((t) => storage.view(backend, t));
    if (native && nativeEnabled()) native.unaryGrad(a.op, dyv, xv, dxv);
    else for (let i = 0; i < xv.length; i++) dxv[i] = dyv[i] * a.slope(xv[i]);
    return dx;
  };
}

/** The hard-activation kernels for `storage`'s backend: native when @lumen/runtime-native is built, JS over the same memory otherwise. */
export function hardActivationKernels(native: NativeKernels | null, storage: TensorStorage): KernelConfig[] {
  return ACTIVATIONS.flatMap((a) => [
    { kernelName: a.name, backendName: storage.backendName, kernelFunc: forwardKernel(native, storage, a) as unknown as KernelFunc },
    { kernelName: a.gradName, backendName: storage.backendName, kernelFunc: gradientKernel(native, storage, a) as unknown as KernelFunc },
  ]);
}
