import * as tf from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { refConvGrads, refOutShape, type RefConv } from '../testing/reference-conv';
import { withoutNativeKernels } from './native-switch';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

interface Case {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: [number, number];
  pad: Pad;
  dilation?: [number, number];
}

// Strides 1/2/3, odd sizes, valid/same/explicit (incl. asymmetric and pads as large as the
// kernel), batch > 1, channel counts that are not multiples of 4, 1x1 and 7x7 kernels.
const cases: Case[] = [
  { name: '3x3/1 same, batch 2', x: [2, 9, 11, 5], w: [3, 3, 5, 7], stride: [1, 1], pad: 'same' },
  { name: '3x3/2 same, odd map', x: [2, 9, 11, 5], w: [3, 3, 5, 7], stride: [2, 2], pad: 'same' },
  { name: '3x3/2 valid', x: [1, 10, 13, 6], w: [3, 3, 6, 3], stride: [2, 2], pad: 'valid' },
  { name: '3x3/2 explicit 1 (torchvision)', x: [2, 12, 9, 3], w: [3, 3, 3, 5], stride: [2, 2], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { name: '7x7/2 explicit 3 (ResNet stem)', x: [1, 15, 14, 3], w: [7, 7, 3, 6], stride: [2, 2], pad: [[0, 0], [3, 3], [3, 3], [0, 0]] },
  { name: '1x1/1', x: [2, 8, 7, 6], w: [1, 1, 6, 9], stride: [1, 1], pad: 'valid' },
  { name: '1x1/2 (downsample)', x: [2, 9, 8, 6], w: [1, 1, 6, 5], stride: [2, 2], pad: 'valid' },
  { name: '3x3 stride [1,2], asymmetric explicit pads', x: [1, 10, 11, 3], w: [3, 3, 3, 2], stride: [1, 2], pad: [[0, 0], [0, 2], [2, 1], [0, 0]] },
  { name: '2x4/3, pads wider than the kernel reach', x: [2, 11, 13, 3], w: [2, 4, 3, 2], stride: [3, 3], pad: [[0, 0], [3, 0], [1, 4], [0, 0]] },
  { name: '3x3 dilation 2 same', x: [1, 12, 11, 3], w: [3, 3, 3, 5], stride: [1, 1], pad: 'same', dilation: [2, 2] },
  { name: '3x3 dilation [2,3] explicit', x: [2, 13, 14, 2], w: [3, 3, 2, 3], stride: [1, 1], pad: [[0, 0], [2, 2], [3, 3], [0, 0]], dilation: [2, 3] },
];

function explicitPads(c: Case): [number, number, number, number] {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.w, c.stride, c.dilation ?? 1, c.pad);
  return [info.padInfo.top, info.padInfo.bottom, info.padInfo.left, info.padInfo.right];
}

beforeAll(setUpWasmAndCpu);

// Both implementations: @lumen/runtime-native's, and the wasm kernels that run without it.
const modes = [
  ['native', <T>(f: () => Promise<T>) => f()],
  ['wasm only', withoutNativeKernels],
] as const;

describe.each(cases)('conv2d gradients on wasm: $name', (c) => {
  const xv = randomValues(c.x.reduce((a, b) => a * b), 11);
  const wv = randomValues(c.w.reduce((a, b) => a * b), 12);
  const ref: RefConv = { x: xv, xShape: c.x, w: wv, wShape: c.w, stride: c.stride, dilation: c.dilation ?? [1, 1], pad: explicitPads(c) };
  const yShape = refOutShape(ref);
  const dyv = randomValues(yShape.reduce((a, b) => a * b), 13);
  const expected = refConvGrads(ref, dyv);

  // d/d(x, w) of sum(conv(x, w) * dy) is exactly (dx, dw) for upstream gradient dy.
  const grads = () => {
    const x = tf.tensor4d(xv, c.x);
    const w = tf.tensor4d(wv, c.w);
    const dy = tf.tensor4d(dyv, yShape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation ?? 1), dy)));
    return g([x, w]);
  };

  it.each(modes)('%s: matches the direct definition to 1e-4, without leaks', async (_, mode) => {
    const [dx, dw] = await mode(() => runOn('wasm', grads));
    expect(relativeError(dx, expected.dx)).toBeLessThan(1e-4);
    expect(relativeError(dw, expected.dw)).toBeLessThan(1e-4);
  });

  it.each(modes)('%s: matches the cpu backend to 1e-4', async (_, mode) => {
    const [cdx, cdw] = await runOn('cpu', grads);
    const [dx, dw] = await mode(() => runOn('wasm', grads));
    expect(relativeError(dx, cdx)).toBeLessThan(1e-4);
    expect(relativeError(dw, cdw)).toBeLessThan(1e-4);
  });
});

describe('conv2d gradient kernels called directly', () => {
  it('Conv2DBackpropInput with pad "same" and stride 2 gives the input shape back', async () => {
    const [dx] = await runOn('wasm', () => [
      tf.conv2dTranspose(tf.ones([1, 5, 6, 4]) as tf.Tensor4D, tf.ones([3, 3, 3, 4]) as tf.Tensor4D, [1, 10, 12, 3], 2, 'same'),
    ]);
    const [cdx] = await runOn('cpu', () => [
      tf.conv2dTranspose(tf.ones([1, 5, 6, 4]) as tf.Tensor4D, tf.ones([3, 3, 3, 4]) as tf.Tensor4D, [1, 10, 12, 3], 2, 'same'),
    ]);
    expect(dx.length).toBe(10 * 12 * 3);
    expect(relativeError(dx, cdx)).toBeLessThan(1e-6);
  });

  it('rejects NCHW with a message naming the layout', async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([1, 3, 5, 5]);
    const dy = tf.ones([1, 2, 5, 5]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
        strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 2],
      } as never),
    ).toThrow(/NHWC/);
    tf.dispose([x, dy]);
  });
});
