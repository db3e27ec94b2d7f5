import { fail } from '@lumen/core';

// A restricted unpickler: Python's pickle machine for the opcodes torch.save writes
// (protocols 2 to 4), with no way to run code. A GLOBAL is whatever the caller's `findClass`
// gives for the name (it refuses the rest), and REDUCE only ever calls a JS function that
// came from there. Written here, not taken from npm: pickleparser (one release, one author)
// reads negative LONG1 ints as unsigned, makes dicts plain objects (a '__proto__' key
// reaches the prototype) and by default stands in for unknown globals rather than refusing
// them; torch likewise keeps its own restricted unpickler (torch/_weights_only_unpickler.py).
//
// Values: None -> null, bool -> boolean, int -> number (bigint past 2^53), float -> number,
// str -> string, bytes -> Uint8Array, tuple and list -> array, dict -> PickleDict.

/** A Python dict or OrderedDict: insertion order, keys of any type, attributes set by BUILD. */
export class PickleDict {
  readonly entries = new Map<unknown, unknown>();
  readonly attributes = new Map<string, unknown>();
}

/** A function a GLOBAL may name, called by REDUCE with the argument tuple. */
export type PickleCallable = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** The function errors are reported for ('readPth'). */
  fn: string;
  /** The pickle's name in errors ('archive/data.pkl'). */
  source: string;
  /** The object GLOBAL `module name` stands for; throws for names it does not allow. */
  findClass(module: string, name: string): unknown;
  /** The object a persistent id (BINPERSID) stands for. */
  persistentLoad(pid: unknown): unknown;
}

const MAX_PROTOCOL = 5;

/** Opcodes of the pickle protocols that are not implemented, by name for the error. */
const UNSUPPORTED: Record<number, string> = {
  0x46: 'FLOAT', 0x49: 'INT', 0x4c: 'LONG', 0x50: 'PERSID', 0x53: 'STRING', 0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x67: 'GET', 0x69: 'INST', 0x6f: 'OBJ', 0x70: 'PUT',
  0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS',
  0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The machine's state while one pickle runs. */
class Machine {
  readonly stack: unknown[] = [];
  readonly marks: number[] = [];
  readonly memo = new Map<number, unknown>();
  readonly view: DataView;
  pos = 0;
  /** Where the opcode being run starts, for errors. */
  at = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly options: UnpickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(message: string): never {
    return fail(this.options.fn, `${this.options.source}: ${message} (at byte ${this.at}).`);
  }

  /** The next `n` bytes' offset, after checking they are there. */
  take(n: number): number {
    const left = this.bytes.byteLength - this.pos;
    if (n > left) this.fail(`the pickle is truncated: ${n} byte(s) needed, ${left} left`);
    const start = this.pos;
    this.pos += n;
    return start;
  }

  u8 = (): number => this.bytes[this.take(1)];
  u16 = (): number => this.view.getUint16(this.take(2), true);
  u32 = (): number => this.view.getUint32(this.take(4), true);
  i32 = (): number => this.view.getInt32(this.take(4), true);
  u64 = (): number => {
    const n = this.view.getBigUint64(this.take(8), true);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`a length of ${n} bytes`);
    return Number(n);
  };
  /** Python's struct '>d': BINFLOAT is the one big-endian field of the format. */
  f64 = (): number => this.view.getFloat64(this.take(8), false);
  raw = (n: number): Uint8Array => {
    const start = this.take(n);
    return this.bytes.subarray(start, start + n);
  };
  text = (n: number): string => {
    const raw = this.raw(n);
    try {
      return utf8.decode(raw);
    } catch {
      return this.fail('a string that is not valid UTF-8');
    }
  };
  /** A newline-terminated line (GLOBAL's module and name). */
  line = (): string => {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('a GLOBAL name without its newline: truncated');
    const value = this.text(end - this.pos);
    this.pos += 1;
    return value;
  };

  push = (value: unknown): void => {
    this.stack.push(value);
  };
  pop = (): unknown => {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) this.fail('an opcode found the stack empty');
    return this.stack.pop();
  };
  top = (): unknown => {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) this.fail('an opcode found the stack empty');
    return this.stack[this.stack.length - 1];
  };
  /** The items pushed since the last MARK, taking the mark away. */
  popMark = (): unknown[] => {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail('an opcode needs a MARK, and there is none');
    return this.stack.splice(mark);
  };
  put = (index: number): void => {
    this.memo.set(index, this.top());
  };
  get = (index: number): void => {
    if (!this.memo.has(index)) this.fail(`memo entry ${index} is read before it is written`);
    this.push(this.memo.get(index));
  };
}

/** LONG1 / LONG4: little-endian two's complement of any length. */
function signedLittleEndian(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function appendAll(m: Machine, items: unknown[]): void {
  const list = m.top();
  if (!Array.isArray(list)) m.fail('APPEND(S) to something that is not a list');
  list.push(...items);
}

function setItems(m: Machine, items: unknown[]): void {
  const dict = m.top();
  if (!(dict instanceof PickleDict)) m.fail('SETITEM(S) on something that is not a dict');
  for (let i = 0; i + 1 < items.length; i += 2) dict.entries.set(items[i], items[i + 1]);
}

function dictOf(m: Machine, items: unknown[]): PickleDict {
  if (items.length % 2 !== 0) m.fail('DICT of an odd number of items');
  const dict = new PickleDict();
  for (let i = 0; i < items.length; i += 2) dict.entries.set(items[i], items[i + 1]);
  return dict;
}

function reduce(m: Machine): void {
  const args = m.pop();
  const callable = m.pop();
  if (typeof callable !== 'function') m.fail('REDUCE of something that is not a function a GLOBAL named');
  if (!Array.isArray(args)) m.fail('REDUCE with arguments that are not a tuple');
  m.push((callable as PickleCallable)(args));
}

/** BUILD on a dict: Python's default __setstate__ sets the state dict's entries as attributes. */
function build(m: Machine): void {
  const state = m.pop();
  const target = m.top();
  if (!(target instanceof PickleDict)) m.fail('BUILD (set an object\'s state) on something that is not a dict');
  if (state === null) return;
  if (!(state instanceof PickleDict)) m.fail('BUILD with a state that is not a dict');
  for (const [key, value] of state.entries) {
    if (typeof key !== 'string') m.fail('BUILD with an attribute name that is not a string');
    target.attributes.set(key, value);
  }
}

function global(m: Machine, module: unknown, name: unknown): void {
  if (typeof module !== 'string' || typeof name !== 'string') m.fail('STACK_GLOBAL of names that are not strings');
  m.push(m.options.findClass(module, name));
}

const OPS: Record<number, (m: Machine) => void> = {
  0x80: (m) => {
    const protocol = m.u8();
    if (protocol > MAX_PROTOCOL) m.fail(`pickle protocol ${protocol} (at most ${MAX_PROTOCOL} is known)`);
  }, // PROTO
  0x95: (m) => void m.u64(), // FRAME: a length for buffered readers; the bytes follow as usual
  0x28: (m) => void m.marks.push(m.stack.length), // MARK
  0x30: (m) => void m.pop(), // POP
  0x31: (m) => void m.popMark(), // POP_MARK
  0x32: (m) => m.push(m.top()), // DUP
  0x4e: (m) => m.push(null), // NONE
  0x88: (m) => m.push(true), // NEWTRUE
  0x89: (m) => m.push(false), // NEWFALSE
  0x4a: (m) => m.push(m.i32()), // BININT
  0x4b: (m) => m.push(m.u8()), // BININT1
  0x4d: (m) => m.push(m.u16()), // BININT2
  0x8a: (m) => m.push(signedLittleEndian(m.raw(m.u8()))), // LONG1
  0x8b: (m) => m.push(signedLittleEndian(m.raw(m.u32()))), // LONG4
  0x47: (m) => m.push(m.f64()), // BINFLOAT
  0x58: (m) => m.push(m.text(m.u32())), // BINUNICODE
  0x8c: (m) => m.push(m.text(m.u8())), // SHORT_BINUNICODE
  0x8d: (m) => m.push(m.text(m.u64())), // BINUNICODE8
  0x42: (m) => m.push(m.raw(m.u32()).slice()), // BINBYTES
  0x43: (m) => m.push(m.raw(m.u8()).slice()), // SHORT_BINBYTES
  0x8e: (m) => m.push(m.raw(m.u64()).slice()), // BINBYTES8
  0x29: (m) => m.push([]), // EMPTY_TUPLE
  0x85: (m) => m.push([m.pop()]), // TUPLE1
  0x86: (m) => {
    const b = m.pop();
    m.push([m.pop(), b]);
  }, // TUPLE2
  0x87: (m) => {
    const c = m.pop();
    const b = m.pop();
    m.push([m.pop(), b, c]);
  }, // TUPLE3
  0x74: (m) => m.push(m.popMark()), // TUPLE
  0x5d: (m) => m.push([]), // EMPTY_LIST
  0x6c: (m) => m.push(m.popMark()), // LIST
  0x61: (m) => appendAll(m, [m.pop()]), // APPEND
  0x65: (m) => appendAll(m, m.popMark()), // APPENDS
  0x7d: (m) => m.push(new PickleDict()), // EMPTY_DICT
  0x64: (m) => m.push(dictOf(m, m.popMark())), // DICT
  0x73: (m) => {
    const value = m.pop();
    setItems(m, [m.pop(), value]);
  }, // SETITEM
  0x75: (m) => setItems(m, m.popMark()), // SETITEMS
  0x63: (m) => global(m, m.line(), m.line()), // GLOBAL
  0x93: (m) => {
    const name = m.pop();
    global(m, m.pop(), name);
  }, // STACK_GLOBAL
  0x52: reduce, // REDUCE
  0x62: build, // BUILD
  0x51: (m) => m.push(m.options.persistentLoad(m.pop())), // BINPERSID
  0x71: (m) => m.put(m.u8()), // BINPUT
  0x72: (m) => m.put(m.u32()), // LONG_BINPUT
  0x94: (m) => m.put(m.memo.size), // MEMOIZE
  0x68: (m) => m.get(m.u8()), // BINGET
  0x6a: (m) => m.get(m.u32()), // LONG_BINGET
};

const STOP = 0x2e;

/** The object a pickle holds. Throws, naming the byte, on anything outside the subset above. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const m = new Machine(bytes, options);
  for (;;) {
    m.at = m.pos;
    const opcode = m.u8();
    if (opcode === STOP) {
      if (m.marks.length > 0) m.fail('STOP inside an unclosed MARK');
      return m.pop();
    }
    const op = OPS[opcode];
    if (op === undefined) {
      const hex = `0x${opcode.toString(16).padStart(2, '0')}`;
      m.fail(opcode in UNSUPPORTED ? `opcode ${UNSUPPORTED[opcode]} (${hex}) is not one torch.save writes for tensors and dicts` : `byte ${hex} is not a pickle opcode`);
    }
    op(m);
  }
}
