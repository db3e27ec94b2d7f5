import { createHash } from 'node:crypto';
import { native } from '@lumen/runtime-native';
import { describeNative, randomValues } from '../testing/compare';

// Every kernel splits its work so that no sum depends on the thread count (the GEMM by blocks
// of C, each summed whole by one thread; a filter gradient by pixel groups fixed by the shape,
// added in group order), so a training run gives the same bits on any machine: 1 and 2
// threads must agree exactly.
const kernels = native as NonNullable<typeof native>;
afterAll(() => native?.setThreads(1));

const hash = (a: Float32Array) => createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

/** Hashes of a GEMM (K over two blocks, partial tiles), and a conv's forward and both gradients. */
function outputs(threads: number, [n, h, w, c, o, k]: number[]): string[] {
  kernels.setThreads(threads);
  const [M, N, K] = [301, 70, 600];
  const a = randomValues(M * K, 1), b = randomValues(K * N, 2), out = new Float32Array(M * N);
  kernels.matMul(a, b, out, [1, M, N, K, 0, 0, 0, 0], null, 0);
  const pad = (k - 1) >> 1;
  const g = [n, h, w, c, h, w, o, k, k, 1, 1, 1, 1, pad, pad];
  const x = randomValues(n * h * w * c, 3), f = randomValues(k * k * c * o, 4), dy = randomValues(n * h * w * o, 5);
  const y = new Float32Array(dy.length), dx = new Float32Array(x.length), dw = new Float32Array(f.length);
  kernels.conv2d(x, f, y, g, null, 0);
  kernels.conv2dBackpropInput(dy, f, dx, g);
  kernels.conv2dBackpropFilter(x, dy, dw, g);
  return [out, y, dx, dw].map(hash);
}

describeNative('native kernels on 1 and 2 threads', () => {
  it.each([
    ['3x3, 40 channels, 4800 pixels (filter gradient over four pixel groups)', [2, 48, 50, 40, 24, 3]],
    ['3x3, 12 channels, 4800 pixels (filter gradient from patch rows in chunks)', [2, 48, 50, 12, 24, 3]],
    ['1x1, 64 channels, 2500 pixels (filter gradient over two pixel groups)', [1, 50, 50, 64, 48, 1]],
  ])('give the same bits: %s', (_, shape) => {
    expect(outputs(2, shape)).toEqual(outputs(1, shape));
  });
});
