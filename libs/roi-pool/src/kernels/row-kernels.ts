// Row kernels: the inner loops of RoI pooling, over one linear float32 memory. Offsets are
// in floats; a row is `channels` consecutive floats (one pixel of an NHWC map). Two
// implementations: WebAssembly SIMD (wasm-kernels.ts) and plain JavaScript (js-kernels.ts);
// select-kernels.ts picks one per call.

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
