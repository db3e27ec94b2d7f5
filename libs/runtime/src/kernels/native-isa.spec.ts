import { execFileSync } from 'node:child_process';
import { native } from '@lumen/runtime-native';

// @lumen/runtime-native picks its GEMM tile by CPU (AVX-512, else AVX2+FMA, else portable).
// Every tile sums each output in the same order, so results must not depend on the pick:
// a child process forced onto the AVX2 tile (LUMEN_NATIVE_ISA=avx2) gives the same bits.
const describeNative = native ? describe : describe.skip;

/** Hashes of a GEMM with partial tiles, and a conv's forward and both gradients, on `env`'s tile. */
function outputsOn(env: Record<string, string>): { isa: string; hashes: string[] } {
  const script = `
    const { createHash } = require('node:crypto');
    const { native } = require('@lumen/runtime-native');
    let s = 7;
    const random = (n) => Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5);
    const hash = (a) => createHash('sha256').update(Buffer.from(a.buffer)).digest('hex');
    const [M, N, K] = [147, 83, 300];
    const a = random(M * K), b = random(K * N), c = new Float32Array(M * N);
    native.matMul(a, b, c, [1, M, N, K, 0, 0, 0, 0], null, 0);
    const g = [2, 13, 11, 40, 13, 11, 35, 3, 3, 1, 1, 1, 1, 1, 1];
    const x = random(2 * 13 * 11 * 40), w = random(9 * 40 * 35), dy = random(2 * 13 * 11 * 35);
    const y = new Float32Array(dy.length), dx = new Float32Array(x.length), dw = new Float32Array(w.length);
    native.conv2d(x, w, y, g, null, 0);
    native.conv2dBackpropInput(dy, w, dx, g);
    native.conv2dBackpropFilter(x, dy, dw, g);
    process.stdout.write(JSON.stringify({ isa: native.isa(), hashes: [c, y, dx, dw].map(hash) }));
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' }));
}

describeNative('the GEMM tile the CPU gets', () => {
  it('gives the same bits as the AVX2 tile', () => {
    const chosen = outputsOn({});
    const avx2 = outputsOn({ LUMEN_NATIVE_ISA: 'avx2' });
    if (chosen.isa !== 'avx512') console.warn(`this CPU runs the ${chosen.isa} tile: both processes used it`);
    else expect(avx2.isa).toBe('avx2-fma');
    expect(chosen.hashes).toEqual(avx2.hashes);
  });

  it('fmaPeak measures a positive rate and checks its argument', () => {
    const kernels = native as NonNullable<typeof native>;
    const gflops = kernels.fmaPeak(1000);
    expect(Number.isFinite(gflops)).toBe(true);
    expect(gflops).toBeGreaterThan(0);
    expect(() => kernels.fmaPeak(0)).toThrow('fmaPeak: iterations must be a positive integer');
  });
});
