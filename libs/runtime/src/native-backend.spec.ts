import * as tf from '@tensorflow/tfjs-core';
import { native } from '@lumen/runtime-native';
import { registerNativeBackend, registerTrainingGradients } from './register-training-kernels';

// The native backend's array pool: a kernel's output array is reused once its tensor is
// disposed, never while anything else can still see it.
const describeNative = native ? describe : describe.skip;

type Values = { data: { get(id: object): { values: Float32Array } } };
const arrayOf = (t: tf.Tensor) => (tf.backend() as unknown as Values).data.get(t.dataId).values;

describeNative('NativeBackend', () => {
  beforeAll(async () => {
    registerTrainingGradients();
    registerNativeBackend(1);
    await tf.setBackend('native');
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  });

  const operands = () => [tf.tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]), tf.tensor([10, 20, 30, 40, 50, 60, 70, 80], [2, 4])];

  it('hands a disposed output array to the next output of its size', () => {
    const [a, b] = operands();
    const first = tf.add(a, b);
    const array = arrayOf(first);
    first.dispose();
    const second = tf.mul(a, b);
    expect(arrayOf(second)).toBe(array);
    expect(Array.from(second.dataSync())).toEqual([10, 40, 90, 160, 250, 360, 490, 640]);
    tf.dispose([a, b, second]);
  });

  it('never reuses an array that was read out, viewed by a slice or kept by a reshape', () => {
    const [a, b] = operands();
    const read = tf.add(a, b);
    const values = read.dataSync();
    read.dispose();
    const sliced = tf.sub(a, b);
    const view = tf.slice(sliced, [1, 0], [1, 4]);
    sliced.dispose();
    const reshaped = tf.mul(a, b);
    const kept = tf.reshape(reshaped, [8]);
    reshaped.dispose();
    const later = [tf.div(a, b), tf.add(b, a), tf.sub(b, a)];
    expect(Array.from(values)).toEqual([11, 22, 33, 44, 55, 66, 77, 88]);
    expect(Array.from(view.dataSync())).toEqual([-45, -54, -63, -72]);
    expect(Array.from(kept.dataSync())).toEqual([10, 40, 90, 160, 250, 360, 490, 640]);
    for (const t of later) expect([values, arrayOf(view), arrayOf(kept)]).not.toContain(arrayOf(t));
    tf.dispose([a, b, view, kept, ...later]);
  });

  it('casts bool and int32 to float32 into an array of its own (tfjs-cpu shares the input\'s), pooled like any output', () => {
    const before = tf.memory().numTensors;
    const [a, b] = operands();
    const mask = tf.greater(a, 4), ints = tf.cast(b, 'int32');
    for (const source of [mask, ints]) {
      const cast = tf.cast(source, 'float32');
      const array = arrayOf(cast);
      expect(array).toBeInstanceOf(Float32Array);
      expect(array).not.toBe(arrayOf(source));
      cast.dispose();
      const next = tf.add(a, b);
      expect(arrayOf(next)).toBe(array);
      next.dispose();
    }
    expect(Array.from(mask.dataSync())).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(Array.from(ints.dataSync())).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    tf.dispose([a, b, mask, ints]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves no tensor behind through a training-like step', () => {
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([1, 8, 8, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 4, 6], 0, 1, 'float32', 2) as tf.Tensor4D;
    for (let step = 0; step < 3; step++) {
      const [dx, dw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.relu(tf.add(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 1, 'same'), 0.5))))([x, w]);
      expect(dx.shape).toEqual(x.shape);
      tf.dispose([dx, dw]);
    }
    tf.dispose([x, w]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
