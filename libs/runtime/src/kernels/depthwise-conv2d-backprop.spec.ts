import * as tf from '@tensorflow/tfjs-core';
import { randomValues, relativeError, runOn, setUpWasmAndCpu } from '../testing/compare';
import { refConvGrads, refOutShape, type RefConv } from '../testing/reference-conv';

interface Case {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: [number, number];
  pad: 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
}

const cases: Case[] = [
  { name: '3x3/1 same, batch 2 (MobileNetV2)', x: [2, 9, 11, 5], w: [3, 3, 5, 1], stride: [1, 1], pad: 'same' },
  { name: '3x3/2 explicit 1 (MobileNetV2 downsampling)', x: [2, 12, 9, 7], w: [3, 3, 7, 1], stride: [2, 2], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { name: '3x3/2 valid, multiplier 2', x: [1, 10, 13, 3], w: [3, 3, 3, 2], stride: [2, 2], pad: 'valid' },
  { name: '5x5/1 same, multiplier 3', x: [2, 7, 8, 2], w: [5, 5, 2, 3], stride: [1, 1], pad: 'same' },
];

beforeAll(setUpWasmAndCpu);

describe.each(cases)('depthwise conv gradients on wasm: $name', (c) => {
  const xv = randomValues(c.x.reduce((a, b) => a * b), 21);
  const wv = randomValues(c.w.reduce((a, b) => a * b), 22);
  const info = tf.backend_util.computeConv2DInfo(c.x, c.w, c.stride, 1, c.pad, undefined, true);
  const ref: RefConv = {
    x: xv, xShape: c.x, w: wv, wShape: c.w, stride: c.stride, dilation: [1, 1], depthwise: true,
    pad: [info.padInfo.top, info.padInfo.bottom, info.padInfo.left, info.padInfo.right],
  };
  const yShape = refOutShape(ref);
  const dyv = randomValues(yShape.reduce((a, b) => a * b), 23);
  const expected = refConvGrads(ref, dyv);
  const grads = () => {
    const dy = tf.tensor4d(dyv, yShape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dy)));
    return g([tf.tensor4d(xv, c.x), tf.tensor4d(wv, c.w)]);
  };

  it('matches the direct definition and the cpu backend to 1e-4, without leaks', async () => {
    const [dx, dw] = await runOn('wasm', grads);
    const [cdx, cdw] = await runOn('cpu', grads);
    expect(relativeError(dx, expected.dx)).toBeLessThan(1e-4);
    expect(relativeError(dw, expected.dw)).toBeLessThan(1e-4);
    expect(relativeError(dx, cdx)).toBeLessThan(1e-4);
    expect(relativeError(dw, cdw)).toBeLessThan(1e-4);
  });
});

describe('DepthwiseConv2dNativeBackpropFilter with dilation (direct kernel call)', () => {
  // tfjs's depthwise gradient refuses dilations, but the kernel itself supports them.
  it('matches the direct definition', async () => {
    const xShape: [number, number, number, number] = [2, 11, 10, 3];
    const wShape: [number, number, number, number] = [3, 3, 3, 2];
    const xv = randomValues(xShape.reduce((a, b) => a * b), 24);
    const ref: RefConv = {
      x: xv, xShape, w: new Float32Array(54), wShape, stride: [1, 1], dilation: [2, 2], pad: [2, 2, 2, 2], depthwise: true,
    };
    const yShape = refOutShape(ref);
    const dyv = randomValues(yShape.reduce((a, b) => a * b), 25);
    const [dw] = await runOn('wasm', () => [
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(xv, xShape), dy: tf.tensor4d(dyv, yShape) }, {
        strides: [1, 1], dilations: [2, 2], pad: [[0, 0], [2, 2], [2, 2], [0, 0]], filterShape: wShape,
      } as never) as tf.Tensor,
    ]);
    expect(relativeError(dw, refConvGrads(ref, dyv).dw)).toBeLessThan(1e-4);
  });
});
