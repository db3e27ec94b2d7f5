import { PickleDict, unpickle, type UnpickleOptions } from './pickle';

// Pickles written by CPython 3.11's pickle module (the expression above each) and by hand.

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));

const options = (overrides: Partial<UnpickleOptions> = {}): UnpickleOptions => ({
  fn: 'test',
  source: 'x.pkl',
  findClass: (module, name) => {
    throw new Error(`refused ${module}.${name}`);
  },
  persistentLoad: (pid) => ({ pid }),
  ...overrides,
});

/** PickleDicts as [key, value] lists, to compare with toEqual. */
function plain(value: unknown): unknown {
  if (value instanceof PickleDict) return [...value.entries].map(([k, v]) => [plain(k), plain(v)]);
  return Array.isArray(value) ? value.map(plain) : value;
}

// [1, 300, 70000, -5, -70000, 2**40, -2**63, 2**64, 1.5, -0.25, None, True, False, 'héllo', (1,), (1, 2), (1, 2, 3), (), {'a': [1, 2]}]
const VALUES = [1, 300, 70000, -5, -70000, 2 ** 40, -(2n ** 63n), 2n ** 64n, 1.5, -0.25, null, true, false, 'héllo', [1], [1, 2], [1, 2, 3], [], [['a', [1, 2]]]];
const PROTOCOL_2 =
  '80025d7100284b014d2c014a701101004afbffffff4a90eefeff8a060000000000018a0800000000000000808a09000000000000000001473ff800000000000047bfd00000000000004e8889580600000068c3a96c6c6f71014b018571024b014b028671034b014b024b03877104297d710558010000006171065d7107284b014b026573652e';
const PROTOCOL_4 =
  '80049576000000000000005d94284b014d2c014a701101004afbffffff4a90eefeff8a060000000000018a0800000000000000808a09000000000000000001473ff800000000000047bfd00000000000004e88898c0668c3a96c6c6f944b0185944b014b0286944b014b024b038794297d948c0161945d94284b014b026573652e';

describe('unpickle', () => {
  it('reads ints of every width (bigint past 2^53), floats, None, bools, str, tuples, lists, dicts: protocol 2', () => {
    expect(plain(unpickle(hex(PROTOCOL_2), options()))).toEqual(VALUES);
  });

  it('reads the same from protocol 4 (FRAME, MEMOIZE, SHORT_BINUNICODE)', () => {
    expect(plain(unpickle(hex(PROTOCOL_4), options()))).toEqual(VALUES);
  });

  it('reads bytes (protocol 3) as a Uint8Array', () => {
    // [b'\x00\x01', 'x']
    expect(unpickle(hex('80035d7100284302000171015801000000787102652e'), options())).toEqual([new Uint8Array([0, 1]), 'x']);
  });

  it('keeps shared references shared (memo)', () => {
    // x = [1]; [x, x]
    const [a, b] = unpickle(hex('80025d7100285d71014b01616801652e'), options()) as unknown[];
    expect(a).toEqual([1]);
    expect(a).toBe(b);
  });

  it('reads DICT, LIST, TUPLE, DUP, POP and POP_MARK', () => {
    // ( (K1 K2 d  (K3 l  (K4 t  K5 2 0  (K6 1  t  -> ({1: 2}, [3], (4,), 5)
    const bytes = ascii('((K\x01K\x02d(K\x03l(K\x04tK\x0520(K\x061t.');
    const [dict, list, tuple, five] = unpickle(bytes, options()) as unknown[];
    expect(plain(dict)).toEqual([[1, 2]]);
    expect([list, tuple, five]).toEqual([[3], [4], 5]);
  });

  it('hands GLOBALs to findClass and REDUCEs only the functions it returns', () => {
    const calls: string[] = [];
    const findClass = (module: string, name: string): unknown => {
      calls.push(`${module}.${name}`);
      return (args: unknown[]) => ({ made: args });
    };
    // c'collections\nOrderedDict\n' ) R  ->  OrderedDict()
    expect(unpickle(ascii('\x80\x02ccollections\nOrderedDict\n)R.'), options({ findClass }))).toEqual({ made: [] });
    expect(calls).toEqual(['collections.OrderedDict']);
    expect(() => unpickle(ascii('\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.'), options())).toThrow('refused os.system');
    expect(() => unpickle(ascii('\x80\x02))R.'), options())).toThrow('Error in test: x.pkl: REDUCE of something that is not a function a GLOBAL named (at byte 4).');
  });

  it('passes BINPERSID ids to persistentLoad', () => {
    // ('storage', 'k') Q
    expect(unpickle(ascii('\x80\x02X\x07\x00\x00\x00storageX\x01\x00\x00\x00k\x86Q.'), options())).toEqual({ pid: ['storage', 'k'] });
  });

  it('sets BUILD state on a dict as attributes (an OrderedDict\'s _metadata)', () => {
    // {} {'_metadata': 1} b
    const dict = unpickle(ascii('\x80\x02}}X\x09\x00\x00\x00_metadataK\x01sb.'), options()) as PickleDict;
    expect([...dict.entries]).toEqual([]);
    expect([...dict.attributes]).toEqual([['_metadata', 1]]);
    expect(() => unpickle(ascii('\x80\x02]}b.'), options())).toThrow("Error in test: x.pkl: BUILD (set an object's state) on something that is not a dict (at byte 4).");
  });

  it('names what is wrong, and where', () => {
    const cases: [string, string][] = [
      ['\x80\x02I1\n.', 'opcode INT (0x49) is not one torch.save writes for tensors and dicts (at byte 2).'],
      ['\x80\x02\xff.', 'byte 0xff is not a pickle opcode (at byte 2).'],
      ['\x80\x02h\x05.', 'memo entry 5 is read before it is written (at byte 2).'],
      ['\x80\x020.', 'an opcode found the stack empty (at byte 2).'],
      ['\x80\x02t.', 'an opcode needs a MARK, and there is none (at byte 2).'],
      ['\x80\x02(.', 'STOP inside an unclosed MARK (at byte 3).'],
      ['\x80\x02X\x09\x00\x00\x00abc', 'the pickle is truncated: 9 byte(s) needed, 3 left (at byte 2).'],
      ['\x80\x02K\x01', 'the pickle is truncated: 1 byte(s) needed, 0 left (at byte 4).'],
      ['\x80\x02cos\nsys', 'a GLOBAL name without its newline: truncated (at byte 2).'],
      ['\x80\x06.', 'pickle protocol 6 (at most 5 is known) (at byte 0).'],
      ['\x80\x02K\x01K\x02a.', 'APPEND(S) to something that is not a list (at byte 6).'],
    ];
    for (const [bytes, message] of cases) expect(() => unpickle(ascii(bytes), options())).toThrow(`Error in test: x.pkl: ${message}`);
  });
});
