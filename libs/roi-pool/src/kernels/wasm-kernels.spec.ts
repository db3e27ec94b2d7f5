import { seededRandom } from '@lumen/core';
import { createJsKernels } from './js-kernels';
import type { RowKernels } from './row-kernels';
import { createWasmKernels, WASM_MODULE_BYTES } from './wasm-kernels';

const CHANNELS = 12;
const ROWS = 24;

function pair(): { wasm: RowKernels; js: RowKernels; a: Float32Array; b: Float32Array } {
  const wasm = createWasmKernels() as RowKernels;
  const js = createJsKernels();
  const a = (wasm.reserve(ROWS * CHANNELS) as Float32Array).subarray(0, ROWS * CHANNELS);
  const b = js.reserve(ROWS * CHANNELS) as Float32Array;
  const random = seededRandom(3);
  // Quarters, so that ties occur and sums are exact in float32.
  for (let i = 0; i < ROWS * CHANNELS; i++) a[i] = b[i] = Math.round(random() * 16 - 8) / 4;
  return { wasm, js, a, b };
}

const rows = (...r: number[]) => Int32Array.from(r, (v) => v * CHANNELS);

describe('wasm row kernels', () => {
  it('builds a valid wasm SIMD module (Node >= 16.4 runs SIMD)', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(wasm.validate(WASM_MODULE_BYTES)).toBe(true);
    expect(createWasmKernels()).not.toBeNull();
  });

  it.each([1, 2, 3, 4, 5, 7, 9])('gather and scatter agree with the JavaScript loops for %p terms', (count) => {
    const { wasm, js, a, b } = pair();
    const src = rows(1, 3, 5, 7, 9, 11, 13, 15, 17);
    const weight = Float64Array.from([0.5, -1.25, 2, 0.75, 1.5, -0.5, 0.25, -2, 1]);
    for (const k of [wasm, js]) {
      k.gather(20 * CHANNELS, src, weight, count, CHANNELS);
      k.scatter(21 * CHANNELS, src, weight, count, CHANNELS);
    }
    expect(Array.from(a)).toEqual(Array.from(b));
    // And what they compute: row 20 += Σ w · row.
    const fresh = pair().b;
    for (let c = 0; c < CHANNELS; c++) {
      let sum = fresh[20 * CHANNELS + c];
      for (let t = 0; t < count; t++) sum += weight[t] * fresh[src[t] + c];
      expect(b[20 * CHANNELS + c]).toBeCloseTo(sum, 5);
    }
  });

  it('max4 and route4 agree with the JavaScript loops, ties to the first maximum', () => {
    const { wasm, js, a, b } = pair();
    for (const k of [wasm, js]) {
      k.max4(22 * CHANNELS, 0, CHANNELS, 2 * CHANNELS, 3 * CHANNELS, CHANNELS);
      k.route4(23 * CHANNELS, 4 * CHANNELS, 5 * CHANNELS, 6 * CHANNELS, 7 * CHANNELS, CHANNELS);
    }
    expect(Array.from(a)).toEqual(Array.from(b));
    // An explicit tie: candidates 1 and 3 share the maximum; the gradient goes to 1.
    const tie = createJsKernels();
    const mem = tie.reserve(5 * 4) as Float32Array;
    mem.set([0, 0, 0, 0, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 7, 7, 7, 7]);
    for (const k of [createWasmKernels() as RowKernels]) {
      const m = k.reserve(5 * 4) as Float32Array;
      m.set(mem);
      k.route4(16, 0, 4, 8, 12, 4);
      expect(Array.from(m.subarray(0, 16))).toEqual([0, 0, 0, 0, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
    tie.route4(16, 0, 4, 8, 12, 4);
    expect(Array.from(mem.subarray(0, 16))).toEqual([0, 0, 0, 0, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('grows its memory for larger calls and keeps the view current', () => {
    const wasm = createWasmKernels() as RowKernels;
    const small = wasm.reserve(16) as Float32Array;
    const large = wasm.reserve(1 << 20) as Float32Array;
    expect(large.length).toBeGreaterThanOrEqual(1 << 20);
    expect(large.buffer).not.toBe(small.buffer);
    expect(wasm.reserve(2 ** 31)).toBeNull(); // 8 GiB: beyond wasm32
  });
});
