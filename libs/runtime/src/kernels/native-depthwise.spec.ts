import * as tf from '@tensorflow/tfjs-core';
import { native } from '@lumen/runtime-native';
import { describeNative, randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { refConv, refConvGrads, refOutShape, type RefConv } from '../testing/reference-conv';

// @lumen/runtime-native's depthwise kernels behind wasm, against the cpu backend (tfjs's
// reference implementations) and, for dilations (tfjs's gradient refuses them; the kernels
// take them), the direct float64 definitions. Channel counts leave a masked block of 8 and
// rows leave partial groups of 4 values; one case is large enough to split over 2 threads.
if (!native) console.warn('@lumen/runtime-native is not built: its depthwise kernels are not tested here');

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];

beforeAll(setUpWasmAndCpu);
afterAll(() => native?.setThreads(1));

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const t = (shape: number[], seed: number) => tf.tensor(randomValues(size(shape), seed), shape);

// The cpu backend is slow under jest: its answers are computed once for both thread counts.
const cpuAnswers = new Map<string, Float32Array[]>();

async function agree(key: string, f: () => tf.Tensor[], tolerance: number): Promise<void> {
  if (!cpuAnswers.has(key)) cpuAnswers.set(key, await runOn('cpu', f));
  const expected = cpuAnswers.get(key) as Float32Array[];
  const actual = await runOn('wasm', f);
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(relativeError(actual[i], e)).toBeLessThan(tolerance));
}

/** y, and dx, dw of sum(y · dy) through tf.grads. */
function forwardAndGrads(x: tf.Tensor4D, w: tf.Tensor4D, stride: number | [number, number], pad: Pad, dySeed: number): tf.Tensor[] {
  const conv = (a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad as never);
  const y = conv(x, w);
  const dy = t(y.shape, dySeed);
  return [y, ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), dy)))([x, w])];
}

describeNative.each([1, 2])('native depthwise kernels on %i thread(s)', (threads) => {
  beforeAll(() => native?.setThreads(threads));

  it.each([
    { name: '3x3/1 same, 13 channels, batch 2', x: [2, 7, 13, 13], k: [3, 3], stride: 1, pad: 'same' },
    { name: '3x3/2 pad 1 (MobileNet downsampling), 37 channels', x: [1, 25, 27, 37], k: [3, 3], stride: 2, pad: 1 },
    { name: '5x5/2 pad 2, odd sizes, batch 2', x: [2, 11, 9, 24], k: [5, 5], stride: 2, pad: 2 },
    { name: '5x5/1 same, split over threads', x: [2, 32, 33, 40], k: [5, 5], stride: 1, pad: 'same' },
    { name: '3x3/2 same on even sizes (pad 0 before, 1 after)', x: [1, 16, 18, 20], k: [3, 3], stride: 2, pad: 'same' },
    { name: '7x7/1 valid (taps in two groups), 3 channels', x: [1, 12, 15, 3], k: [7, 7], stride: 1, pad: 'valid' },
    {
      name: '3x5/[1,2] explicit pads wider than the kernel',
      x: [1, 9, 14, 16], k: [3, 5], stride: [1, 2], pad: [[0, 0], [3, 2], [0, 6], [0, 0]],
    },
  ] as { name: string; x: Shape4; k: [number, number]; stride: number | [number, number]; pad: Pad }[])(
    'forward and both gradients through tf.grads: $name', async (c) => {
      await agree(c.name, () => {
        const x = t(c.x, 1) as tf.Tensor4D;
        const w = t([...c.k, c.x[3], 1], 2) as tf.Tensor4D;
        return forwardAndGrads(x, w, c.stride, c.pad, 3);
      }, 1e-4);
    },
  );

  it('fused with bias and relu / relu6 / linear; elu and channel multiplier 2 fall back', async () => {
    await agree('fused and fallbacks', () => {
      const x = t([2, 13, 11, 19], 4) as tf.Tensor4D;
      const w = t([3, 3, 19, 1], 5) as tf.Tensor4D;
      const bias = t([19], 6) as tf.Tensor1D;
      const w2 = t([3, 3, 19, 2], 7) as tf.Tensor4D;
      return [
        tf.fused.depthwiseConv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'relu' }),
        tf.fused.depthwiseConv2d({ x, filter: w, strides: 2, pad: 1, bias, activation: 'relu6' }),
        tf.fused.depthwiseConv2d({ x, filter: w, strides: 1, pad: 'valid', bias }),
        tf.fused.depthwiseConv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'elu' }),
        ...forwardAndGrads(x, w2, 2, 1, 8),
      ];
    }, 1e-4);
  });

  it('dilation: forward against cpu; all three kernels (with stride 2 too) against the float64 definitions', async () => {
    await agree('dilated forward', () => [tf.depthwiseConv2d(t([1, 14, 17, 11], 9) as tf.Tensor4D, t([3, 3, 11, 1], 10) as tf.Tensor4D, 1, 'same', 'NHWC', 2)], 1e-4);
    for (const stride of [1, 2]) {
      const xShape: Shape4 = [2, 15, 13, 12];
      const wShape: Shape4 = [3, 3, 12, 1];
      const xv = randomValues(size(xShape), 11), wv = randomValues(size(wShape), 12);
      const ref: RefConv = { x: xv, xShape, w: wv, wShape, stride: [stride, stride], dilation: [2, 2], pad: [2, 2, 2, 1], depthwise: true };
      const yShape = refOutShape(ref);
      const dyv = randomValues(size(yShape), 13);
      const attrs = { strides: [stride, stride], dilations: [2, 2], pad: [[0, 0], [2, 2], [2, 1], [0, 0]], dataFormat: 'NHWC' };
      const [y, dx, dw] = await runOn('wasm', () => {
        const x = tf.tensor4d(xv, xShape), w = tf.tensor4d(wv, wShape), dy = tf.tensor4d(dyv, yShape);
        const run = (name: string, inputs: Record<string, tf.Tensor>, extra: object) => tf.engine().runKernel(name, inputs, { ...attrs, ...extra } as never) as tf.Tensor;
        return [
          run('DepthwiseConv2dNative', { x, filter: w }, {}),
          run('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { inputShape: xShape }),
          run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { filterShape: wShape }),
        ];
      });
      const expected = refConvGrads(ref, dyv);
      expect(relativeError(y, refConv(ref))).toBeLessThan(1e-5);
      expect(relativeError(dx, expected.dx)).toBeLessThan(1e-5);
      expect(relativeError(dw, expected.dw)).toBeLessThan(1e-5);
    }
  });
});

describeNative('native depthwise kernels, called directly', () => {
  it('refuse a geometry whose channel multiplier is not 1', () => {
    const geometry = [1, 4, 4, 2, 4, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1];
    const a = new Float32Array(64);
    expect(() => native?.depthwiseConv2d(a, a, a, geometry, null, 0)).toThrow(/channel multiplier 1/);
    expect(() => native?.depthwiseConv2dBackpropInput(a, a, a, geometry)).toThrow(/channel multiplier 1/);
    expect(() => native?.depthwiseConv2dBackpropFilter(a, a, a, geometry)).toThrow(/channel multiplier 1/);
  });
});
