import * as tf from '@tensorflow/tfjs-core';
import { LumenHardSigmoid, LumenHardSigmoidGrad, LumenHardSwish, LumenHardSwishGrad } from '@lumen/core';
import { native } from '@lumen/runtime-native';
import { describeNative, NATIVE_AND_JS_MODES, randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { registerNativeBackend } from '../register-training-kernels';

// The hard-activation kernels (@lumen/runtime-native's, and their JS form when it is off) behind
// wasm and as the native backend's, against the tensor-op composition @lumen/backbone falls back
// to, computed on the cpu backend: equal to the bit, forward and backward, at the kinks (±3 and
// the floats beside them), for NaN, ±0, ±Infinity and magnitudes past 3.4e38 / 6 (where torch's
// x·relu6(x + 3) / 6 overflows to Infinity; the composition, and so the kernels, give x).
// 70001 values cross the kernels' thread split (32768); the scalar tail after the 8-wide
// vectors gets specials too.
if (!native) console.warn('@lumen/runtime-native is not built: the hard-activation kernels are not registered, nor tested here');

beforeAll(async () => {
  await setUpWasmAndCpu();
  registerNativeBackend(1);
});
afterAll(() => native?.setThreads(1));

const f = Math.fround;
const SPECIALS = [
  -3, 3, f(-3 - 2.4e-7), f(-3 + 2.4e-7), f(3 - 2.4e-7), f(3 + 2.4e-7), 0, -0, Number.NaN, -4, 4, -1, 1, 1e-30,
  1e30, -1e30, 3.4e38, -3.4e38, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e38,
];
const randomX = randomValues(70001, 51).map((v) => 4 * v);
const INPUTS = {
  // 21: two vectors and a tail of 5 (the largest magnitudes); then 7, all in the tail.
  specials: Float32Array.from(SPECIALS),
  'kinks and NaN in the tail': Float32Array.from([-3, 3, f(-3 - 2.4e-7), f(3 + 2.4e-7), Number.NaN, -0, 1e30]),
  '70001 values, specials at both ends': Float32Array.from([...SPECIALS, ...randomX, ...SPECIALS]),
};

/** The composition of tensor ops (@lumen/backbone's fallback), forward and derivative. */
const COMPOSED = {
  [LumenHardSwish]: {
    gradName: LumenHardSwishGrad,
    forward: (x: tf.Tensor) => tf.mul(x, tf.mul(tf.relu6(tf.add(x, 3)), 1 / 6)),
    derivative: (x: tf.Tensor) => tf.where(tf.less(x, -3), tf.zerosLike(x), tf.where(tf.lessEqual(x, 3), tf.add(tf.div(x, 3), 0.5), tf.onesLike(x))),
  },
  [LumenHardSigmoid]: {
    gradName: LumenHardSigmoidGrad,
    forward: (x: tf.Tensor) => tf.mul(tf.relu6(tf.add(x, 3)), 1 / 6),
    derivative: (x: tf.Tensor) => tf.mul(tf.cast(tf.logicalAnd(tf.greater(x, -3), tf.less(x, 3)), 'float32'), 1 / 6),
  },
};
type Name = keyof typeof COMPOSED;
const NAMES = Object.keys(COMPOSED) as Name[];

const fused = (name: Name, x: tf.Tensor, dy: tf.Tensor): tf.Tensor[] => [
  tf.engine().runKernel(name, { x }) as tf.Tensor,
  tf.engine().runKernel(COMPOSED[name].gradName, { dy, x }) as tf.Tensor,
];

describeNative.each(NATIVE_AND_JS_MODES)('hard-activation kernels (%s) on the %s backend, %i thread(s)', (_, backend, threads, mode) => {
  beforeAll(() => native?.setThreads(threads));

  it('are registered, forward and gradient', () => {
    for (const name of NAMES) expect([name, tf.getKernel(name, backend) != null, tf.getKernel(COMPOSED[name].gradName, backend) != null]).toEqual([name, true, true]);
  });

  it.each(NAMES.flatMap((name) => Object.keys(INPUTS).map((input) => [name, input] as const)))('%s and its gradient equal the composition to the bit: %s', (name, input) =>
    mode(async () => {
      const xv = INPUTS[input as keyof typeof INPUTS];
      const dyv = randomValues(xv.length, 52);
      const make = () => [tf.tensor1d(xv), tf.tensor1d(dyv)];
      const expected = await runOn('cpu', () => {
        const [x, dy] = make();
        return [COMPOSED[name].forward(x), tf.mul(dy, COMPOSED[name].derivative(x))];
      });
      // runOn also checks that the kernels leave no tensor and no backend buffer behind.
      const actual = await runOn(backend, () => fused(name, ...(make() as [tf.Tensor, tf.Tensor])));
      // Object.is per value: NaN equals NaN, -0 differs from 0.
      expect(actual.map((a) => Array.from(a))).toEqual(expected.map((e) => Array.from(e)));
    }),
  );

  it("have torch's derivatives at the kinks and for NaN (hardswish's: x/3 + 1/2 up to 3 inclusive, 1 past it and for NaN)", () =>
    mode(async () => {
      const x = [-3 - 1e-6, -3, 3, 3 + 1e-6, Number.NaN];
      const [swish, sigmoid] = await runOn(backend, () => {
        const xt = tf.tensor1d(x), dy = tf.onesLike(xt);
        return [fused(LumenHardSwish, xt, dy)[1], fused(LumenHardSigmoid, xt, dy)[1]];
      });
      expect(Array.from(swish)).toEqual([0, -0.5, 1.5, 1, 1]);
      expect(Array.from(sigmoid)).toEqual([0, 0, 0, 0, 0]);
    }),
  );

  it('give the gradient tf.grad finds through the composition, away from the kinks', () =>
    mode(async () => {
      const dyv = randomValues(randomX.length, 53);
      for (const name of NAMES) {
        const [expected] = await runOn('cpu', () => [tf.grad((x: tf.Tensor) => tf.mul(COMPOSED[name].forward(x), tf.tensor1d(dyv)))(tf.tensor1d(randomX))]);
        const [, actual] = await runOn(backend, () => fused(name, tf.tensor1d(randomX), tf.tensor1d(dyv)));
        expect([name, relativeError(actual, expected) < 1e-6]).toEqual([name, true]);
      }
    }),
  );

  it('name what is wrong with their inputs', () =>
    mode(async () => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.tensor1d([1, 2, 3]);
        expect(() => tf.engine().runKernel(LumenHardSwish, { x: tf.cast(x, 'int32') })).toThrow("@lumen/runtime: LumenHardSwish takes a float32 'x', got int32");
        expect(() => tf.engine().runKernel(LumenHardSigmoidGrad, { dy: tf.ones([2]), x })).toThrow('@lumen/runtime: LumenHardSigmoidGrad takes dy and x of one shape, got [2] and [3]');
        expect(() => tf.engine().runKernel(LumenHardSwishGrad, { x })).toThrow("@lumen/runtime: LumenHardSwishGrad needs input 'dy'");
      });
      expect(tf.memory().numTensors).toBe(before);
    }),
  );
});
