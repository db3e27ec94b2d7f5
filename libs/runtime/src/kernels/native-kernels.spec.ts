import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LumenAdamUpdate, LumenBatchNormGrad, LumenBatchNormTraining, LumenSgdUpdate, LumenSumSquares } from '@lumen/core';
import { native } from '@lumen/runtime-native';
import { describeNative, randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { withoutNativeKernels } from './native-switch';
import { NATIVE_ELEMENTWISE_KERNEL_NAMES, NATIVE_KERNEL_NAMES } from './native-kernels';
import { registerNativeBackend } from '../register-training-kernels';

// @lumen/runtime-native's kernels behind wasm and as the native backend's (tensors in Node's
// memory), against the cpu backend (tfjs's reference implementations) and torch.optim's fixtures. Sizes cross the GEMM's blocking (MC 144, KC
// 256, 6x16 tiles) and run on 1 and 2 threads, so partial tiles and thread splits are hit.
// The native backend exists only where @lumen/runtime-native is built.
const backends = (native ? ['wasm', 'native'] : ['wasm']) as Backend[];
type Backend = 'wasm' | 'native';
if (!native) console.warn('@lumen/runtime-native is not built: its kernels are not tested here');

beforeAll(async () => {
  await setUpWasmAndCpu();
  registerNativeBackend(1);
});
afterAll(() => native?.setThreads(1));

const sizes = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const t = (shape: number[], seed: number) => tf.tensor(randomValues(sizes(shape), seed), shape);

// The cpu backend is slow under jest: its answers are computed once for both thread counts.
const cpuAnswers = new Map<string, Float32Array[]>();

async function agree(backend: Backend, key: string, f: () => tf.Tensor[], tolerance = 1e-5): Promise<void> {
  if (!cpuAnswers.has(key)) cpuAnswers.set(key, await runOn('cpu', f));
  const expected = cpuAnswers.get(key) as Float32Array[];
  const actual = await runOn(backend, f);
  expected.forEach((e, i) => expect(relativeError(actual[i], e)).toBeLessThan(tolerance));
}

describeNative.each([
  ['wasm', 1],
  ['wasm', 2],
  ['native', 2],
] as const)('native kernels behind %s on %i thread(s)', (backend, threads) => {
  beforeAll(() => native?.setThreads(threads));

  it.each([
    { name: '3x3/1 same, odd channels, batch 2', x: [2, 7, 13, 37], w: [3, 3, 37, 19], stride: 1, pad: 'same' as const },
    { name: '3x3/2 explicit 1', x: [1, 25, 27, 20], w: [3, 3, 20, 17], stride: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] as never },
    { name: '7x7/2 stem', x: [1, 40, 36, 3], w: [7, 7, 3, 16], stride: 2, pad: [[0, 0], [3, 3], [3, 3], [0, 0]] as never },
    { name: '3x3/1 same, taps past one block (blocks start mid-window, mid-channel)', x: [2, 9, 10, 100], w: [3, 3, 100, 12], stride: 1, pad: 'same' as const },
    { name: '5x5/1 valid (every window inside)', x: [1, 12, 14, 6], w: [5, 5, 6, 10], stride: 1, pad: 'valid' as const },
    { name: '2x2/1 same (pad 0 before, 1 after)', x: [1, 8, 9, 5], w: [2, 2, 5, 7], stride: 1, pad: 'same' as const },
    { name: '3x3/1 explicit uneven pads (2 top, 1 right)', x: [2, 10, 9, 6], w: [3, 3, 6, 5], stride: 1, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] as never },
    { name: '3x3/1 same, 64 -> 48 (input gradient taps over three blocks)', x: [1, 11, 12, 64], w: [3, 3, 64, 48], stride: 1, pad: 'same' as const },
    { name: '3x3/1 same, 30 wide (interior windows read in place, border ones packed)', x: [2, 9, 30, 24], w: [3, 3, 24, 20], stride: 1, pad: 'same' as const },
    { name: '3x3/2 pad 1, 40 wide (filter-gradient taps read in place, zeros at the border)', x: [1, 17, 40, 12], w: [3, 3, 12, 8], stride: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] as never },
    { name: '1x1/1, K past one block', x: [1, 9, 17, 300], w: [1, 1, 300, 21], stride: 1, pad: 'valid' as const },
    { name: '1x1/2 downsample', x: [2, 15, 16, 24], w: [1, 1, 24, 40], stride: 2, pad: 'valid' as const },
    { name: '3x3/1 same, 4800 pixels of 5 channels (filter gradient from patch rows in 16 groups of two chunks)', x: [2, 48, 50, 5], w: [3, 3, 5, 7], stride: 1, pad: 'same' as const },
    { name: '5x3/2, dilation-free, 16 -> 16 (one 16-wide sliver per tile)', x: [2, 21, 23, 16], w: [5, 3, 16, 16], stride: 2, pad: 'same' as const },
    { name: '3x3/1 same, 2400 pixels of 40 channels (filter gradient over two pixel groups)', x: [2, 40, 30, 40], w: [3, 3, 40, 24], stride: 1, pad: 'same' as const },
  ])('conv2d forward and both gradients: $name', async (c) => {
    await agree(backend, c.name, () => {
      const x = t(c.x, 1) as tf.Tensor4D;
      const w = t(c.w, 2) as tf.Tensor4D;
      const y = tf.conv2d(x, w, c.stride, c.pad);
      const dy = t(y.shape, 3);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dy)))([x, w]);
      return [y, dx, dw];
    }, 1e-4);
  });

  it('fused conv2d with bias and relu / relu6, and a dilated conv', async () => {
    await agree(backend, 'fused', () => {
      const x = t([2, 13, 11, 9], 4) as tf.Tensor4D;
      const w = t([3, 3, 9, 20], 5) as tf.Tensor4D;
      const bias = t([20], 6) as tf.Tensor1D;
      return [
        tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'relu' }),
        tf.fused.conv2d({ x, filter: w, strides: 2, pad: 'valid', bias, activation: 'relu6' }),
        tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'elu' }),
        tf.conv2d(x, w, 1, 'same', 'NHWC', 2),
      ];
    }, 1e-4);
  });

  it('matMul: plain, transposed either side, batched, broadcast, fused bias + relu', async () => {
    await agree(backend, 'matMul', () => {
      const a = t([150, 300], 7) as tf.Tensor2D;
      const b = t([300, 70], 8) as tf.Tensor2D;
      const aT = tf.transpose(a) as tf.Tensor2D;
      const bT = tf.transpose(b) as tf.Tensor2D;
      const bias = t([70], 9) as tf.Tensor1D;
      const batched = t([3, 20, 30], 10) as tf.Tensor3D;
      const right = t([3, 30, 17], 11) as tf.Tensor3D;
      return [
        tf.matMul(a, b),
        tf.matMul(aT, b, true, false),
        tf.matMul(a, bT, false, true),
        tf.matMul(aT, bT, true, true),
        tf.matMul(batched, right),
        tf.matMul(batched, t([1, 30, 17], 12) as tf.Tensor3D),
        tf.fused.matMul({ a, b, bias, activation: 'relu' }),
        tf.fused.matMul({ a, b, bias, activation: 'relu6' }),
        tf.matMul(t([5, 1], 13) as tf.Tensor2D, t([1, 4], 14) as tf.Tensor2D),
      ];
    });
  });

  it('Sum over every axis but the last (bias gradients) matches a float64 sum; other sums still work', async () => {
    // float64 reference: the cpu backend sums in float32, ~1e-4 off over 40k values.
    for (const shape of [[2, 10, 31, 70], [4000, 3]]) {
      const values = randomValues(sizes(shape), 15);
      const cols = shape[shape.length - 1];
      const expected = new Float64Array(cols);
      values.forEach((v, i) => (expected[i % cols] += v));
      const [actual, kept] = await runOn(backend, () => {
        const x = tf.tensor(values, shape);
        return [tf.sum(x, shape.map((_, i) => i).slice(0, -1)), tf.sum(x, shape.map((_, i) => i).slice(0, -1).reverse(), true)];
      });
      expect(relativeError(actual, expected)).toBeLessThan(1e-6);
      expect(relativeError(kept, expected)).toBeLessThan(1e-6);
    }
    await agree(backend, 'other sums', () => {
      const x = t([2, 10, 31, 70], 15);
      return [tf.sum(x, [1, 2]), tf.sum(x, -1), tf.sum(x, 0)];
    });
  });
});

describeNative('the native backend', () => {
  it('element-wise add/sub/mul/div under broadcasts (same shape, bias, scalar either side, new axes, rank 7 falls back), relu and step', async () => {
    await agree('native', 'elementwise', () => {
      const x = t([2, 5, 7, 16], 41), y = t([2, 5, 7, 16], 42), bias = t([16], 43), col = t([5, 1, 1], 44);
      const up = t([1, 4, 1, 3, 1, 8], 45), ones = tf.ones([1, 1, 2, 1, 2, 1]);
      const seven = t([2, 1, 2, 1, 2, 1, 3], 46), other = t([1, 2, 1, 2, 1, 2, 1], 47);
      return [
        tf.add(x, y), tf.sub(x, bias), tf.mul(bias, x), tf.div(x, tf.add(tf.abs(y), 1)), tf.mul(x, 3), tf.sub(2, x), tf.add(x, col),
        tf.mul(up, ones), tf.div(ones, tf.add(tf.abs(up), 1)), tf.add(seven, other),
        tf.relu(x), tf.step(x), tf.step(x, 0.25),
      ];
    });
    const [relu, step] = await runOn('native', () => [tf.relu(tf.tensor([-1, 0, Number.NaN, 2])), tf.step(tf.tensor([-1, 0, Number.NaN, 2]), 0.5)]);
    expect(Array.from(relu)).toEqual([0, 0, Number.NaN, 2]);
    expect(Array.from(step)).toEqual([0.5, 0.5, Number.NaN, 1]);
  });

  // tfjs-cpu's Cast to float32 from bool or int32 loses no precision, so it shares the input's array: the float32
  // tensor held a Uint8Array / Int32Array and every native kernel given it threw "holds no float32 values".
  it.each([
    { name: 'a bool mask (hard-sigmoid gradient form)', f: (x: tf.Tensor) => [tf.mul(tf.cast(tf.greater(x, 0), 'float32'), 1 / 6)] },
    { name: 'int32', f: (x: tf.Tensor) => [tf.add(tf.cast(tf.cast(tf.mul(x, 10), 'int32'), 'float32'), x)] },
    { name: 'an int32 operand a binary op upcasts', f: (x: tf.Tensor) => [tf.mul(tf.reshape(tf.range(0, 16, 1, 'int32'), [1, 16]), x)] },
    { name: 'bool -> int32 (shares the bool array too) -> float32', f: (x: tf.Tensor) => [tf.sub(tf.cast(tf.cast(tf.less(x, 0.5), 'int32'), 'float32'), x)] },
    {
      name: 'reshaped, relu, step and summed',
      f: (x: tf.Tensor) => {
        const mask = tf.cast(tf.greaterEqual(x, 0), 'float32');
        return [tf.relu(tf.reshape(mask, [-1, 16])), tf.step(tf.sub(mask, 0.5)), tf.sum(mask, [0, 1]), tf.matMul(tf.reshape(mask, [70, 16]), tf.reshape(mask, [70, 16]), true)];
      },
    },
  ])('casts to float32 from $name into a float32 array of its own', async ({ name, f }) => {
    const before = tf.memory().numTensors;
    // Twice: the second run gets the first's disposed outputs from the pool.
    for (let run = 0; run < 2; run++) await agree('native', `cast ${name}`, () => f(t([7, 10, 16], 50)));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('sums over any axes, with and without keepDims', async () => {
    await agree('native', 'sums any axes', () => {
      const x = t([2, 6, 2, 5, 2, 8], 48);
      return [tf.sum(x, [2, 4]), tf.sum(x, [0, 2, 4], true), tf.sum(x), tf.sum(x, [1, 3, 5]), tf.sum(x, 5), tf.sum(t([7], 49))];
    });
  });

  it("puts @lumen/runtime-native's kernels in front of the cpu backend's, on tensors that are typed arrays in Node (no wasm heap)", async () => {
    for (const name of [...NATIVE_KERNEL_NAMES, ...NATIVE_ELEMENTWISE_KERNEL_NAMES, LumenSgdUpdate, LumenAdamUpdate, LumenSumSquares, LumenBatchNormTraining, LumenBatchNormGrad]) {
      const kernel = tf.getKernel(name, 'native');
      expect([name, kernel?.kernelFunc]).toEqual([name, expect.any(Function)]);
      expect(kernel?.kernelFunc).not.toBe(tf.getKernel(name, 'cpu')?.kernelFunc);
    }
    // The rest are the cpu backend's own.
    expect(tf.getKernel('Exp', 'native')?.kernelFunc).toBe(tf.getKernel('Exp', 'cpu')?.kernelFunc);
    await tf.setBackend('native');
    const y = tf.ones([2, 3]);
    expect((tf.backend() as unknown as { data: { get(id: object): { values: unknown } } }).data.get(y.dataId).values).toBeInstanceOf(Float32Array);
    y.dispose();
  });
});

interface OptimizerFixture {
  config: { type: 'sgd' | 'adam'; lr: number; momentum: number; weightDecay: number; betas: [number, number]; epsilon: number };
  clip: number | null;
  w0: number[][];
  b0: number[];
  grads: [number[][], number[]][];
  w: number[][];
  b: number[];
}

// torch.optim's results, generated by tools/fixtures/optimizer_fixtures.py for @lumen/detector.
const fixtures = JSON.parse(readFileSync(join(__dirname, '../../../detector/src/fixtures/optimizer.json'), 'utf8')).steps as OptimizerFixture[];

describe.each(
  backends.flatMap((backend) => [
    ['native', backend, <T>(f: () => Promise<T>) => f()] as const,
    ['JS', backend, withoutNativeKernels] as const,
  ]),
)('optimizer kernels (%s on the %s backend) against torch.optim', (_, backend, mode) => {
  it.each(fixtures.map((f) => [`${f.config.type}${f.clip ? ` clipped at ${f.clip}` : ''}`, f] as const))('%s', (_, ref) => mode(async () => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const { config } = ref;
    let w: tf.Tensor = tf.tensor2d(ref.w0), b: tf.Tensor = tf.tensor1d(ref.b0);
    let slots: tf.Tensor[][] = [w, b].map((p) => (config.type === 'sgd' ? [tf.zerosLike(p)] : [tf.zerosLike(p), tf.zerosLike(p)]));
    ref.grads.forEach(([gw, gb], step) => {
      const grads = [tf.tensor2d(gw), tf.tensor1d(gb)];
      const sumSquares = grads.reduce((s, g) => {
        const r = tf.engine().runKernel(LumenSumSquares, { x: g }, {}) as tf.Tensor;
        const v = r.dataSync()[0];
        r.dispose();
        return s + v;
      }, 0);
      const norm = Math.sqrt(sumSquares);
      const gradScale = ref.clip !== null && norm > ref.clip ? ref.clip / (norm + 1e-6) : 1;
      const params = [w, b];
      const next = params.map((p, i) => {
        const [b1, b2] = config.betas;
        const out = config.type === 'sgd'
          ? tf.engine().runKernel(LumenSgdUpdate, { param: p, grad: grads[i], momentum: slots[i][0] }, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay, gradScale })
          : tf.engine().runKernel(LumenAdamUpdate, { param: p, grad: grads[i], m: slots[i][0], v: slots[i][1] }, {
            stepSize: config.lr / (1 - b1 ** (step + 1)), beta1: b1, beta2: b2, biasCorrection2Sqrt: Math.sqrt(1 - b2 ** (step + 1)),
            epsilon: config.epsilon, weightDecay: config.weightDecay, gradScale,
          });
        return out as unknown as tf.Tensor[];
      });
      tf.dispose([...params, ...slots.flat(), ...grads]);
      [w, b] = next.map((n) => n[0]);
      slots = next.map((n) => n.slice(1));
    });
    expect(relativeError(w.dataSync(), ref.w.flat())).toBeLessThan(1e-5);
    expect(relativeError(b.dataSync(), ref.b)).toBeLessThan(1e-5);
    tf.dispose([w, b, ...slots.flat()]);
    expect(tf.memory().numTensors).toBe(before);
  }));
});

describe.each(
  backends.flatMap((backend) => [
    ['native', backend, <T>(f: () => Promise<T>) => f()] as const,
    ['JS', backend, withoutNativeKernels] as const,
  ]),
)('batch-norm kernels (%s on the %s backend) against tfjs autodiff on cpu', (_, backend, mode) => {
  // x far from zero mean: a one-pass variance would lose digits here.
  const shape = [2, 9, 7, 37];
  const xv = randomValues(sizes(shape), 21).map((v) => 3 + 2 * v);
  const gv = randomValues(37, 22), bv = randomValues(37, 23), dyv = randomValues(sizes(shape), 24);

  it('forward (y, x̂, mean, biased variance, invstd) and gradient (dx, dγ, dβ)', () => mode(async () => {
    const [y, mean, variance, dx, dgamma, dbeta] = await runOn('cpu', () => {
      const x = tf.tensor4d(xv, shape as [number, number, number, number]);
      const gamma = tf.tensor1d(gv), beta = tf.tensor1d(bv), dy = tf.tensor(dyv, shape);
      const bn = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const m = tf.moments(a, [0, 1, 2]);
        return tf.batchNorm(a, m.mean, m.variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5);
      };
      const moments = tf.moments(x, [0, 1, 2]);
      const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(bn(a, g, b), dy)))([x, gamma, beta]);
      return [bn(x, gamma, beta), moments.mean, moments.variance, ...grads];
    });
    const [wy, wxhat, wmean, wvar, winv, wdx, wdgamma, wdbeta] = await runOn(backend, () => {
      const x = tf.tensor4d(xv, shape as [number, number, number, number]);
      const gamma = tf.tensor1d(gv), beta = tf.tensor1d(bv), dy = tf.tensor(dyv, shape);
      const fwd = tf.engine().runKernel(LumenBatchNormTraining, { x, gamma, beta }, { epsilon: 1e-5 }) as tf.Tensor[];
      const grad = tf.engine().runKernel(LumenBatchNormGrad, { dy, xhat: fwd[1], gamma, invstd: fwd[4] }, {}) as tf.Tensor[];
      return [...fwd, ...grad];
    });
    expect(relativeError(wy, y)).toBeLessThan(1e-5);
    expect(relativeError(wmean, mean)).toBeLessThan(1e-6);
    expect(relativeError(wvar, variance)).toBeLessThan(1e-5);
    expect(relativeError(winv, Array.from(variance, (v) => 1 / Math.sqrt(v + 1e-5)))).toBeLessThan(1e-5);
    expect(relativeError(wxhat, Array.from(xv, (v, i) => (v - mean[i % 37]) / Math.sqrt(variance[i % 37] + 1e-5)))).toBeLessThan(1e-5);
    expect(relativeError(wdx, dx)).toBeLessThan(1e-4);
    expect(relativeError(wdgamma, dgamma)).toBeLessThan(1e-5);
    expect(relativeError(wdbeta, dbeta)).toBeLessThan(1e-5);
  }));

  it('with relu: y = relu(BN(x)) and the gradient passes dy only where y > 0', () => mode(async () => {
    const [y, dx, dgamma, dbeta] = await runOn('cpu', () => {
      const x = tf.tensor4d(xv, shape as [number, number, number, number]);
      const gamma = tf.tensor1d(gv), beta = tf.tensor1d(bv), dy = tf.tensor(dyv, shape);
      const bnRelu = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const m = tf.moments(a, [0, 1, 2]);
        return tf.relu(tf.batchNorm(a, m.mean, m.variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5));
      };
      const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(bnRelu(a, g, b), dy)))([x, gamma, beta]);
      return [bnRelu(x, gamma, beta), ...grads];
    });
    const [wy, wdx, wdgamma, wdbeta, zeros] = await runOn(backend, () => {
      const x = tf.tensor4d(xv, shape as [number, number, number, number]);
      const gamma = tf.tensor1d(gv), beta = tf.tensor1d(bv), dy = tf.tensor(dyv, shape);
      const fwd = tf.engine().runKernel(LumenBatchNormTraining, { x, gamma, beta }, { epsilon: 1e-5, relu: true }) as tf.Tensor[];
      const grad = tf.engine().runKernel(LumenBatchNormGrad, { dy, xhat: fwd[1], gamma, invstd: fwd[4], y: fwd[0] }, {}) as tf.Tensor[];
      return [fwd[0], ...grad, tf.sum(tf.cast(tf.equal(fwd[0], 0), 'float32'))];
    });
    // About half the outputs are clipped (β and γ·x̂ straddle 0).
    expect(zeros[0]).toBeGreaterThan(0.2 * y.length);
    expect(zeros[0]).toBeLessThan(0.8 * y.length);
    expect(relativeError(wy, y)).toBeLessThan(1e-5);
    expect(relativeError(wdx, dx)).toBeLessThan(1e-4);
    expect(relativeError(wdgamma, dgamma)).toBeLessThan(1e-5);
    expect(relativeError(wdbeta, dbeta)).toBeLessThan(1e-5);
  }));
});
