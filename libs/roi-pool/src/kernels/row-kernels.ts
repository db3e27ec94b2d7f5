// Row kernels: the inner loops of RoI pooling, over one linear float32 memory. Offsets are
// in floats; a row is `channels` consecutive floats (one pixel of an NHWC map). Two
// implementations: WebAssembly SIMD (wasm-kernels.ts) and plain JavaScript (below), used
// when WebAssembly SIMD is missing, the channel count is not a multiple of 4, or the wasm
// memory cannot grow to what a call needs.
import { createWasmKernels } from './wasm-kernels';

export interface RowKernels {
  readonly name: 'wasm' | 'js';
  /** Whether rows of this many channels can go through these kernels. */
  supports(channels: number): boolean;
  /** The memory, grown to at least `floats` floats (null when it cannot grow); valid until the next call. */
  reserve(floats: number): Float32Array | null;
  /** mem[dst + c] += Σ_t weight[t] · mem[src[t] + c] for t < count, c < channels. */
  gather(dst: number, src: Int32Array, weight: Float64Array, count: number, channels: number): void;
  /** mem[dst[t] + c] += weight[t] · mem[src + c] for t < count, c < channels. */
  scatter(src: number, dst: Int32Array, weight: Float64Array, count: number, channels: number): void;
  /** mem[dst + c] = max(mem[a0 + c], mem[a1 + c], mem[a2 + c], mem[a3 + c]). */
  max4(dst: number, a0: number, a1: number, a2: number, a3: number, channels: number): void;
  /**
   * The 2x2 max-pool gradient in place: rows a0..a3 hold the four candidates; afterwards
   * a_k = mem[g + c] where k is the first candidate equal to their maximum, 0 elsewhere.
   */
  route4(g: number, a0: number, a1: number, a2: number, a3: number, channels: number): void;
}

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

export type KernelChoice = 'auto' | 'wasm' | 'js';

let choice: KernelChoice = 'auto';
let wasm: RowKernels | null | undefined;
let js: RowKernels | undefined;

/**
 * Which kernels run ('auto': wasm SIMD where it applies). Internal: specs use it to run
 * every reference case through both implementations; not part of the public API.
 */
export function setKernelChoice(next: KernelChoice): void {
  choice = next;
}

/** The kernels for rows of `channels` floats and a memory of `floats` floats, with that memory. */
export function kernelsFor(channels: number, floats: number): { kernels: RowKernels; mem: Float32Array } {
  if (choice !== 'js') {
    if (wasm === undefined) wasm = createWasmKernels();
    if (wasm != null && wasm.supports(channels)) {
      const mem = wasm.reserve(floats);
      if (mem != null) return { kernels: wasm, mem };
    }
    if (choice === 'wasm') throw new Error(`roi-pool: wasm kernels unavailable for ${channels} channels and ${floats} floats`);
  }
  js ??= createJsKernels();
  return { kernels: js, mem: js.reserve(floats) as Float32Array };
}
