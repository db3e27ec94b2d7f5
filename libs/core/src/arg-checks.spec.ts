import * as tf from '@tensorflow/tfjs-core';
import { assertDtype, assertImageSizes, assertNumber, assertOptions, assertRank, assertString, assertTensor } from './arg-checks';
import { describe as describeValue, fail, formatValues, isFraction, isNonNegativeInteger, isPositiveInteger } from './arg-checks';

describe('fail and describe', () => {
  it("fail throws tfjs-core's 'Error in <fn>: …'", () => {
    expect(() => fail('conv2d', 'bad.')).toThrow(new Error('Error in conv2d: bad.'));
  });

  it('describe says what came', () => {
    const t = tf.zeros([2, 3], 'int32');
    expect(describeValue(t)).toBe('a int32 tensor of shape [2,3]');
    t.dispose();
    expect(describeValue([1, 2])).toBe('an array of length 2');
    expect(describeValue(new Float32Array(3))).toBe('a Float32Array of length 3');
    expect(describeValue(null)).toBe('null');
    expect(describeValue('x')).toBe('"x"');
    expect(describeValue(NaN)).toBe('NaN');
    expect(describeValue(false)).toBe('false');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue({})).toBe('object');
  });

  it('formatValues writes a short list as JavaScript prints it', () => {
    expect(formatValues([0, NaN, Infinity, 1.5])).toBe('[0, NaN, Infinity, 1.5]');
    expect(formatValues([1, 'a', null])).toBe('[1, string, object]');
    expect(formatValues(Float32Array.from([7]))).toBe('[7]');
  });
});

describe('tensor checks', () => {
  let before: number;
  beforeEach(() => (before = tf.memory().numTensors));
  afterEach(() => expect(tf.memory().numTensors).toBe(before));

  it('assertTensor states rank, dtypes and layout in one message', () => {
    const x = tf.zeros([3, 3, 4]);
    expect(() => assertTensor('rpnHead', 'features', x, 4)).toThrow("Error in rpnHead: 'features' must be a rank-4 float32 tensor, but got a float32 tensor of shape [3,3,4].");
    expect(() => assertTensor('f', 'x', x, 4, ['float32'], 'NHWC')).toThrow("'x' must be a rank-4 float32 NHWC tensor, but got a float32 tensor of shape [3,3,4].");
    expect(() => assertTensor('f', 'x', x, 3, ['int32', 'float32'])).not.toThrow();
    expect(() => assertTensor('f', 'x', x, 3, ['int32'])).toThrow("'x' must be a rank-3 int32 tensor, but got a float32 tensor of shape [3,3,4].");
    expect(() => assertTensor('f', 'x', [1], 1)).toThrow("Error in f: 'x' must be a rank-1 tfjs Tensor, but got an array of length 1.");
    x.dispose();
    expect(() => assertTensor('f', 'x', x, 3)).toThrow("Error in f: 'x' is disposed.");
  });

  it('assertDtype and assertRank name the first thing that is wrong', () => {
    const ints = tf.zeros([1, 3], 'int32');
    expect(() => assertDtype('boxIou', 'a', ints)).toThrow("Error in boxIou: 'a' must be a float32 tensor, but got a int32 tensor of shape [1,3].");
    expect(() => assertDtype('f', 'a', ints, ['int32'])).not.toThrow();
    expect(() => assertDtype('boxArea', 'boxes', [[0, 0, 1, 1]])).toThrow("Error in boxArea: 'boxes' must be a tfjs Tensor, but got an array of length 1.");
    expect(() => assertRank('f', 'i', ints, 2, ['float32'])).toThrow("'i' must be a float32 tensor, but got a int32 tensor");
    expect(() => assertRank('f', 'i', ints, 1, ['int32'])).toThrow("Error in f: 'i' must be a rank-1 tensor, but got a int32 tensor of shape [1,3].");
    expect(() => assertRank('f', 'i', ints, 2, ['int32'])).not.toThrow();
    ints.dispose();
    expect(() => assertRank('f', 'i', ints, 2, ['int32'])).toThrow("Error in f: 'i' is disposed.");
  });
});

describe('value checks', () => {
  it('assertNumber: NaN and non-numbers never pass', () => {
    expect(() => assertNumber('f', 'n', 2.5, 'a positive integer', isPositiveInteger)).toThrow("Error in f: 'n' must be a positive integer, but got 2.5.");
    expect(() => assertNumber('f', 'n', NaN, 'a number', () => true)).toThrow("'n' must be a number, but got NaN.");
    expect(() => assertNumber('f', 'n', '1', 'a number', () => true)).toThrow(`'n' must be a number, but got "1".`);
    expect(() => assertNumber('f', 'n', 0, 'a non-negative integer', isNonNegativeInteger)).not.toThrow();
  });

  it('the predicates', () => {
    expect([1, 0, -1, 1.5].map(isPositiveInteger)).toEqual([true, false, false, false]);
    expect([1, 0, -1, 1.5].map(isNonNegativeInteger)).toEqual([true, true, false, false]);
    expect([0, 1, 0.5, -0.1, 1.1].map(isFraction)).toEqual([true, true, true, false, false]);
  });

  it('assertString and assertOptions', () => {
    expect(() => assertString('readVoc', 'dir', '')).toThrow(`Error in readVoc: 'dir' must be a non-empty string, but got "".`);
    expect(() => assertString('f', 'dir', 'a')).not.toThrow();
    expect(() => assertOptions('f', [], 'a, b?')).toThrow("Error in f: 'options' must be an object { a, b? }, but got an array of length 0.");
    expect(() => assertOptions('f', null, 'a')).toThrow("'options' must be an object { a }, but got null.");
    expect(() => assertOptions('f', {}, 'a')).not.toThrow();
  });

  it('assertImageSizes: one positive [height, width] per image', () => {
    expect(() => assertImageSizes('f', [], 1)).toThrow("Error in f: 'imageSizes' must be 1 [height, width] pairs (one per image), but got an array of length 0.");
    expect(() => assertImageSizes('f', [[10, -1]], 1)).toThrow("'imageSizes[0]' must be [height, width] with positive sizes, but got [10,-1].");
    expect(() => assertImageSizes('f', [[10, 20], [1, 1]], 2)).not.toThrow();
  });
});
