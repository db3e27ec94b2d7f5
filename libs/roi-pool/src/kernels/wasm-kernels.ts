// The row kernels as WebAssembly SIMD functions (f32x4), in a module of their own with its
// own linear memory. A "row" is the channel vector of one pixel of an NHWC map: RoI pooling
// adds a few weighted rows of the feature map into each output row (forward) or spreads
// each output gradient row over a few feature rows (backward), ~1 000 floats at a time —
// which is 3 to 11 times faster in wasm SIMD than in a JavaScript loop (measured), and which
// no tfjs op does without materialising per-point gathers.
import { encodeModule, F32, I32, op, V128, type Bytes, type FunctionDef, type ValueType } from './wasm-encoder';
import type { RowKernels } from './row-kernels';

/** Loop over the row in 16-byte steps: `off` from 0 while off < cBytes (param 0). */
function overRow(offLocal: number, step: Bytes): Bytes {
  return [
    ...op.loop,
    ...step,
    ...op.get(offLocal), ...op.i32(16), ...op.i32Add, ...op.tee(offLocal),
    ...op.get(0), ...op.i32LtU, ...op.brIf(0),
    ...op.end,
  ];
}

const at = (base: number, off: number): Bytes => [...op.get(base), ...op.get(off), ...op.i32Add];

/** gatherK(cBytes, dst, s0, w0, …): dst += Σ w_t · s_t. */
function gather(k: number): FunctionDef {
  const params: ValueType[] = [I32, I32];
  for (let t = 0; t < k; t++) params.push(I32, F32);
  const off = params.length;
  const wv = (t: number) => off + 1 + t;
  const src = (t: number) => 2 + 2 * t;
  const weight = (t: number) => 3 + 2 * t;
  const splats: Bytes = [];
  for (let t = 0; t < k; t++) splats.push(...op.get(weight(t)), ...op.splat, ...op.set(wv(t)));
  const step: Bytes = [...at(1, off), ...at(1, off), ...op.load()];
  for (let t = 0; t < k; t++) step.push(...at(src(t), off), ...op.load(), ...op.get(wv(t)), ...op.mul, ...op.add);
  step.push(...op.store());
  return { name: `gather${k}`, params, locals: [I32, ...Array<ValueType>(k).fill(V128)], body: [...splats, ...overRow(off, step)] };
}

/** scatterK(cBytes, src, d0, w0, …): d_t += w_t · src. */
function scatter(k: number): FunctionDef {
  const params: ValueType[] = [I32, I32];
  for (let t = 0; t < k; t++) params.push(I32, F32);
  const off = params.length;
  const value = off + 1;
  const wv = (t: number) => off + 2 + t;
  const dst = (t: number) => 2 + 2 * t;
  const weight = (t: number) => 3 + 2 * t;
  const splats: Bytes = [];
  for (let t = 0; t < k; t++) splats.push(...op.get(weight(t)), ...op.splat, ...op.set(wv(t)));
  const step: Bytes = [...at(1, off), ...op.load(), ...op.set(value)];
  for (let t = 0; t < k; t++) {
    step.push(...at(dst(t), off), ...at(dst(t), off), ...op.load(), ...op.get(value), ...op.get(wv(t)), ...op.mul, ...op.add, ...op.store());
  }
  return { name: `scatter${k}`, params, locals: [I32, V128, ...Array<ValueType>(k).fill(V128)], body: [...splats, ...overRow(off, step)] };
}

/** max4(cBytes, dst, a0, a1, a2, a3): dst = max(a0, a1, a2, a3). */
function max4(): FunctionDef {
  const off = 6;
  const step: Bytes = [
    ...at(1, off),
    ...at(2, off), ...op.load(), ...at(3, off), ...op.load(), ...op.max,
    ...at(4, off), ...op.load(), ...at(5, off), ...op.load(), ...op.max,
    ...op.max,
    ...op.store(),
  ];
  return { name: 'max4', params: [I32, I32, I32, I32, I32, I32], locals: [I32], body: overRow(off, step) };
}

/**
 * route4(cBytes, g, a0, a1, a2, a3): the 2x2 max-pool gradient in place. Each a_k holds a
 * candidate; afterwards a_k = g where k is the first (lowest k) candidate equal to the
 * maximum, 0 elsewhere.
 */
function route4(): FunctionDef {
  const off = 6;
  const c = (k: number) => 7 + k;
  const m = 11;
  const taken = 12;
  const e = (k: number) => 13 + k; // e0, e1, e2
  const g = 16;
  const step: Bytes = [];
  for (let k = 0; k < 4; k++) step.push(...at(2 + k, off), ...op.load(), ...op.set(c(k)));
  step.push(...op.get(c(0)), ...op.get(c(1)), ...op.max, ...op.get(c(2)), ...op.get(c(3)), ...op.max, ...op.max, ...op.set(m));
  step.push(...op.get(c(0)), ...op.get(m), ...op.eq, ...op.tee(e(0)), ...op.set(taken));
  for (const k of [1, 2]) {
    step.push(...op.get(c(k)), ...op.get(m), ...op.eq, ...op.get(taken), ...op.andNot, ...op.tee(e(k)));
    step.push(...op.get(taken), ...op.or, ...op.set(taken));
  }
  step.push(...at(1, off), ...op.load(), ...op.set(g));
  for (let k = 0; k < 3; k++) step.push(...at(2 + k, off), ...op.get(g), ...op.get(e(k)), ...op.and, ...op.store());
  step.push(...at(5, off), ...op.get(g), ...op.get(taken), ...op.andNot, ...op.store());
  return {
    name: 'route4',
    params: [I32, I32, I32, I32, I32, I32],
    locals: [I32, V128, V128, V128, V128, V128, V128, V128, V128, V128, V128],
    body: overRow(off, step),
  };
}

/** The part of the WebAssembly API used here (declared locally: the lib targets ES2022 without DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
}

interface Exports {
  memory: WasmMemory;
  gather1(c: number, d: number, s0: number, w0: number): void;
  gather2(c: number, d: number, s0: number, w0: number, s1: number, w1: number): void;
  gather3(c: number, d: number, s0: number, w0: number, s1: number, w1: number, s2: number, w2: number): void;
  gather4(c: number, d: number, s0: number, w0: number, s1: number, w1: number, s2: number, w2: number, s3: number, w3: number): void;
  scatter1(c: number, s: number, d0: number, w0: number): void;
  scatter2(c: number, s: number, d0: number, w0: number, d1: number, w1: number): void;
  scatter3(c: number, s: number, d0: number, w0: number, d1: number, w1: number, d2: number, w2: number): void;
  scatter4(c: number, s: number, d0: number, w0: number, d1: number, w1: number, d2: number, w2: number, d3: number, w3: number): void;
  max4(c: number, d: number, a0: number, a1: number, a2: number, a3: number): void;
  route4(c: number, g: number, a0: number, a1: number, a2: number, a3: number): void;
}

export const WASM_MODULE_BYTES: Uint8Array = encodeModule([
  gather(1), gather(2), gather(3), gather(4),
  scatter(1), scatter(2), scatter(3), scatter(4),
  max4(), route4(),
]);

const PAGE_BYTES = 65536;
/** wasm32's ceiling: 65 536 pages of 64 KiB. */
const MAX_PAGES = 65536;

/**
 * The SIMD kernels, or null where WebAssembly or its SIMD proposal is unavailable.
 * Offsets are in floats; rows must hold a multiple of 4 channels.
 */
export function createWasmKernels(): RowKernels | null {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  let x: Exports;
  try {
    if (wasm == null || !wasm.validate(WASM_MODULE_BYTES)) return null;
    // Synchronous compilation: the module is 1.4 KB, under browsers' 4 KB main-thread limit.
    x = new wasm.Instance(new wasm.Module(WASM_MODULE_BYTES), {}).exports as Exports;
  } catch {
    return null; // e.g. a Content-Security-Policy without 'wasm-unsafe-eval'
  }
  let view = new Float32Array(x.memory.buffer);
  return {
    name: 'wasm',
    supports: (channels) => channels % 4 === 0,
    reserve(floats) {
      const bytes = floats * 4;
      if (bytes > x.memory.buffer.byteLength) {
        const pages = Math.ceil((bytes - x.memory.buffer.byteLength) / PAGE_BYTES);
        if (x.memory.buffer.byteLength / PAGE_BYTES + pages > MAX_PAGES) return null;
        try {
          x.memory.grow(pages);
        } catch {
          return null;
        }
      }
      if (view.buffer !== x.memory.buffer) view = new Float32Array(x.memory.buffer);
      return view;
    },
    gather(dst, src, weight, count, channels) {
      const c = channels * 4;
      const d = dst * 4;
      let t = 0;
      for (; t + 4 <= count; t += 4) {
        x.gather4(c, d, src[t] * 4, weight[t], src[t + 1] * 4, weight[t + 1], src[t + 2] * 4, weight[t + 2], src[t + 3] * 4, weight[t + 3]);
      }
      const left = count - t;
      if (left === 3) x.gather3(c, d, src[t] * 4, weight[t], src[t + 1] * 4, weight[t + 1], src[t + 2] * 4, weight[t + 2]);
      else if (left === 2) x.gather2(c, d, src[t] * 4, weight[t], src[t + 1] * 4, weight[t + 1]);
      else if (left === 1) x.gather1(c, d, src[t] * 4, weight[t]);
    },
    scatter(src, dst, weight, count, channels) {
      const c = channels * 4;
      const s = src * 4;
      let t = 0;
      for (; t + 4 <= count; t += 4) {
        x.scatter4(c, s, dst[t] * 4, weight[t], dst[t + 1] * 4, weight[t + 1], dst[t + 2] * 4, weight[t + 2], dst[t + 3] * 4, weight[t + 3]);
      }
      const left = count - t;
      if (left === 3) x.scatter3(c, s, dst[t] * 4, weight[t], dst[t + 1] * 4, weight[t + 1], dst[t + 2] * 4, weight[t + 2]);
      else if (left === 2) x.scatter2(c, s, dst[t] * 4, weight[t], dst[t + 1] * 4, weight[t + 1]);
      else if (left === 1) x.scatter1(c, s, dst[t] * 4, weight[t]);
    },
    max4(dst, a0, a1, a2, a3, channels) {
      x.max4(channels * 4, dst * 4, a0 * 4, a1 * 4, a2 * 4, a3 * 4);
    },
    route4(g, a0, a1, a2, a3, channels) {
      x.route4(channels * 4, g * 4, a0 * 4, a1 * 4, a2 * 4, a3 * 4);
    },
  };
}
