import * as tf from '@tensorflow/tfjs-core';
import { LumenHardSigmoid, LumenHardSigmoidGrad, LumenHardSwish, LumenHardSwishGrad } from '@lumen/core';
import { hardSigmoid, hardSwish } from './layers';

// hardSwish / hardSigmoid through the fused kernels a backend may register (@lumen/runtime does
// for wasm and native, and tests there that its kernels equal the composition to the bit):
// here cpu stand-ins with the same float32 arithmetic check what the layers hand them and do
// with their outputs, and that the values and gradients do not depend on which path ran.

let before: number;
beforeEach(() => (before = tf.memory().numTensors));
afterEach(() => expect(tf.memory().numTensors).toBe(before));

interface CpuBackend {
  readSync(dataId: tf.TensorInfo['dataId']): Float32Array;
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

const f = Math.fround;
const SIXTH = f(1 / 6);
const shifted = (x: number) => Math.min(Math.max(f(x + 3), 0), 6);

/** Each op, its kernels and their float32 arithmetic, operation for operation as the composition's. */
const OPS = [
  {
    op: hardSwish, forward: LumenHardSwish, gradient: LumenHardSwishGrad,
    value: (x: number) => x * f(shifted(x) * SIXTH),
    slope: (x: number) => (x < -3 ? 0 : x <= 3 ? f(f(x / 3) + 0.5) : 1),
  },
  {
    op: hardSigmoid, forward: LumenHardSigmoid, gradient: LumenHardSigmoidGrad,
    value: (x: number) => shifted(x) * SIXTH,
    slope: (x: number) => (x > -3 && x < 3 ? SIXTH : 0),
  },
];

/** Registers cpu stand-ins for `which` of an op's kernels; `calls` records each call's kernel and input values. */
function registerStandIns(o: (typeof OPS)[number], which: Array<'forward' | 'gradient'>) {
  const calls: Array<{ kernel: string; inputs: Record<string, number[]> }> = [];
  const func = (kernel: string, compute: (values: Record<string, Float32Array>, i: number) => number): tf.KernelFunc => ({ inputs, backend }) => {
    const cpu = backend as unknown as CpuBackend;
    const values = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, cpu.readSync((t as tf.TensorInfo).dataId)]));
    calls.push({ kernel, inputs: Object.fromEntries(Object.entries(values).map(([name, v]) => [name, Array.from(v)])) });
    return cpu.makeTensorInfo((inputs.x as tf.TensorInfo).shape, 'float32', Float32Array.from(values.x, (_, i) => compute(values, i)));
  };
  const kernels = {
    forward: { kernelName: o.forward, kernelFunc: func(o.forward, (v, i) => o.value(v.x[i])) },
    gradient: { kernelName: o.gradient, kernelFunc: func(o.gradient, (v, i) => v.dy[i] * o.slope(v.x[i])) },
  };
  for (const k of which) tf.registerKernel({ ...kernels[k], backendName: 'cpu' });
  return { calls, unregister: () => which.forEach((k) => tf.unregisterKernel(kernels[k].kernelName, 'cpu')) };
}

// The kinks, the floats beside them, NaN, ±0, magnitudes up to float32's largest, ±Infinity.
const POINTS = [-4, -3, f(-3 - 2.4e-7), -1, 0, -0, 1, 3, f(3 + 2.4e-7), 4, Number.NaN, 1e30, -1e30, 3.4e38, -3.4e38, Infinity, -Infinity];
const DY = POINTS.map((_, i) => (i % 3) - 0.75);

/** The op's values and its gradient against DY, as arrays. */
function run(op: (typeof OPS)[number]['op']): number[][] {
  return tf.tidy(() => {
    const x = tf.tensor1d(POINTS);
    const [grad] = tf.grads((t: tf.Tensor) => op(t))([x], tf.tensor1d(DY));
    return [Array.from(op(x).dataSync()), Array.from(grad.dataSync())];
  });
}

const int32Values = (op: (typeof OPS)[number]['op']) => tf.tidy(() => Array.from(op(tf.tensor1d([-4, -3, -1, 0, 2, 3, 5], 'int32')).dataSync()));

describe.each(OPS.map((o) => [o.forward, o] as const))('%s', (_, o) => {
  it('runs the fused kernels when the backend has both: forward on x, gradient on (dy, x); values and gradients as composed', () => {
    const composed = run(o.op);
    const standIns = registerStandIns(o, ['forward', 'gradient']);
    try {
      const viaKernels = run(o.op);
      // Object.is per value: NaN equals NaN, -0 differs from 0.
      expect(viaKernels).toEqual(composed);
      const x = Array.from(Float32Array.from(POINTS));
      expect(standIns.calls).toEqual([
        { kernel: o.forward, inputs: { x } },
        { kernel: o.gradient, inputs: { dy: DY, x } },
        { kernel: o.forward, inputs: { x } },
      ]);
    } finally {
      standIns.unregister();
    }
  });

  it('composes tensor ops unless both kernels are registered, and for input that is not float32', () => {
    const composed = run(o.op);
    const forwardOnly = registerStandIns(o, ['forward']);
    try {
      expect(run(o.op)).toEqual(composed);
      expect(forwardOnly.calls).toEqual([]);
    } finally {
      forwardOnly.unregister();
    }
    const composedInt32 = int32Values(o.op);
    const both = registerStandIns(o, ['forward', 'gradient']);
    try {
      expect(int32Values(o.op)).toEqual(composedInt32);
      expect(both.calls).toEqual([]);
    } finally {
      both.unregister();
    }
  });
});
