// The row kernels as plain JavaScript loops: the fallback where WebAssembly SIMD is missing,
// the channel count is not a multiple of 4, or the wasm memory cannot grow to what a call
// needs — and the reference the wasm kernels are checked against.
import type { RowKernels } from './row-kernels';

export function createJsKernels(): RowKernels {
  let mem = new Float32Array(0);
  return {
    name: 'js',
    supports: () => true,
    reserve(floats) {
      if (floats > mem.length) mem = new Float32Array(Math.max(floats, Math.ceil(mem.length * 1.5)));
      return mem;
    },
    gather(dst, src, weight, count, channels) {
      for (let t = 0; t < count; t++) {
        const s = src[t];
        const w = weight[t];
        for (let c = 0; c < channels; c++) mem[dst + c] += w * mem[s + c];
      }
    },
    scatter(src, dst, weight, count, channels) {
      for (let t = 0; t < count; t++) {
        const d = dst[t];
        const w = weight[t];
        for (let c = 0; c < channels; c++) mem[d + c] += w * mem[src + c];
      }
    },
    max4(dst, a0, a1, a2, a3, channels) {
      for (let c = 0; c < channels; c++) mem[dst + c] = Math.max(mem[a0 + c], mem[a1 + c], mem[a2 + c], mem[a3 + c]);
    },
    route4(g, a0, a1, a2, a3, channels) {
      for (let c = 0; c < channels; c++) {
        const v0 = mem[a0 + c];
        const v1 = mem[a1 + c];
        const v2 = mem[a2 + c];
        const v3 = mem[a3 + c];
        const m = Math.max(v0, v1, v2, v3);
        const k = v0 === m ? 0 : v1 === m ? 1 : v2 === m ? 2 : 3;
        const grad = mem[g + c];
        mem[a0 + c] = k === 0 ? grad : 0;
        mem[a1 + c] = k === 1 ? grad : 0;
        mem[a2 + c] = k === 2 ? grad : 0;
        mem[a3 + c] = k === 3 ? grad : 0;
      }
    },
  };
}
