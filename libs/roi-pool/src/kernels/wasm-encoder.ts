// A minimal WebAssembly binary encoder: just enough to emit the handful of row kernels in
// wasm-kernels.ts (one memory, functions of i32/f32 parameters, loops, SIMD loads, stores
// and arithmetic). Writing the module here keeps the library free of build steps and
// binary blobs: the bytes come from readable instruction lists.

export type Bytes = number[];

/** Unsigned LEB128. */
export function uleb(value: number): Bytes {
  const out: Bytes = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (i32 constants). */
export function sleb(value: number): Bytes {
  const out: Bytes = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function vector(items: Bytes[]): Bytes {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): Bytes {
  return vector([...text].map((ch) => [ch.charCodeAt(0)]));
}

function section(id: number, content: Bytes): Bytes {
  return [id, ...uleb(content.length), ...content];
}

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValueType = typeof I32 | typeof F32 | typeof V128;

const EMPTY_BLOCK = 0x40;
const simd = (opcode: number): Bytes => [0xfd, ...uleb(opcode)];
/** Memory immediate: log2 alignment hint and constant offset. */
const memarg = (alignLog2: number, offset: number): Bytes => [alignLog2, ...uleb(offset)];

/** The instructions the kernels use, as byte sequences. */
export const op = {
  get: (local: number): Bytes => [0x20, ...uleb(local)],
  set: (local: number): Bytes => [0x21, ...uleb(local)],
  tee: (local: number): Bytes => [0x22, ...uleb(local)],
  i32: (value: number): Bytes => [0x41, ...sleb(value)],
  i32Add: [0x6a] as Bytes,
  i32LtU: [0x49] as Bytes,
  /** `loop` … `brIf(0)` … `end`: a do-while. */
  loop: [0x03, EMPTY_BLOCK] as Bytes,
  brIf: (depth: number): Bytes => [0x0d, ...uleb(depth)],
  end: [0x0b] as Bytes,
  load: (offset = 0): Bytes => [...simd(0x00), ...memarg(4, offset)],
  store: (offset = 0): Bytes => [...simd(0x0b), ...memarg(4, offset)],
  splat: simd(0x13),
  eq: simd(0x41),
  not: simd(0x4d),
  and: simd(0x4e),
  /** a & ~b */
  andNot: simd(0x4f),
  or: simd(0x50),
  add: simd(0xe4),
  mul: simd(0xe6),
  max: simd(0xe9),
};

export interface FunctionDef {
  name: string;
  params: ValueType[];
  /** Locals after the parameters, in order. */
  locals: ValueType[];
  body: Bytes;
}

/**
 * A module with one exported, growable memory ("memory", one initial page) and the given
 * functions, all exported under their names, none returning a value.
 */
export function encodeModule(functions: FunctionDef[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vector(f.params.map((p) => [p])), ...vector([])]);
  const code = functions.map((f) => {
    const groups: Bytes[] = [];
    for (const type of f.locals) {
      const last = groups[groups.length - 1];
      if (last != null && last[last.length - 1] === type) last[0]++;
      else groups.push([1, type]);
    }
    const body = [...vector(groups), ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(5, vector([[0x00, ...uleb(1)]])),
    ...section(7, vector([[...name('memory'), 0x02, 0x00], ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])])),
    ...section(10, vector(code)),
  ]);
}
