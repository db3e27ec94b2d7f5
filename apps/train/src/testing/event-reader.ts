// A TensorBoard event-file reader for the specs, written apart from event-file.ts on purpose:
// its own table-driven CRC32C and a hand-written protobuf wire decoder, so a spec checks the
// writer against the format (TFRecord framing; event.proto / summary.proto field numbers),
// not against itself.
import { readFileSync } from 'node:fs';

/** CRC32C (Castagnoli; reflected polynomial 0x82F63B78), one table lookup per byte. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's mask: rotate right by 15 bits, add 0xa282ead8 (mod 2^32). */
function masked(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return Number((BigInt(rotated) + 0xa282ead8n) % 0x100000000n);
}

/** The data of each TFRecord of a file; throws on a bad length or data checksum, or a truncated record. */
export function readRecords(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw new Error(`truncated record header at byte ${at}`);
    const length = Number(view.getBigUint64(at, true));
    if (view.getUint32(at + 8, true) !== masked(referenceCrc32c(bytes.subarray(at, at + 8)))) throw new Error(`bad length checksum at byte ${at}`);
    const start = at + 12;
    if (start + length + 4 > bytes.length) throw new Error(`truncated record at byte ${at}`);
    const data = bytes.subarray(start, start + length);
    if (view.getUint32(start + length, true) !== masked(referenceCrc32c(data))) throw new Error(`bad data checksum at byte ${at}`);
    records.push(data);
    at = start + length + 4;
  }
  return records;
}

/** One field of a protobuf message as it is on the wire. */
type WireField =
  | { field: number; wire: 0; varint: bigint }
  | { field: number; wire: 1; bytes: Uint8Array }
  | { field: number; wire: 2; bytes: Uint8Array }
  | { field: number; wire: 5; bytes: Uint8Array };

/** The fields of a protobuf message in order: varint, fixed64, length-delimited and fixed32 (no groups). */
export function decodeWire(bytes: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= bytes.length) throw new Error('truncated varint');
      const byte = bytes[at++];
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  const take = (n: number) => {
    if (at + n > bytes.length) throw new Error('truncated field');
    const slice = bytes.subarray(at, at + n);
    at += n;
    return slice;
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ field, wire, varint: varint() });
    else if (wire === 1) fields.push({ field, wire, bytes: take(8) });
    else if (wire === 2) fields.push({ field, wire, bytes: take(Number(varint())) });
    else if (wire === 5) fields.push({ field, wire, bytes: take(4) });
    else throw new Error(`unexpected wire type ${wire} for field ${field}`);
  }
  return fields;
}

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** SessionLog.status (1 = START). */
  sessionStatus?: number;
  /** Summary values: tag -> simple_value. */
  scalars?: Record<string, number>;
}

const littleEndian = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const text = (bytes: Uint8Array) => new TextDecoder('utf-8', { fatal: true }).decode(bytes);

function expectWire<W extends WireField['wire']>(f: WireField, wire: W, what: string): Extract<WireField, { wire: W }> {
  if (f.wire !== wire) throw new Error(`${what}: wire type ${f.wire}, expected ${wire}`);
  return f as Extract<WireField, { wire: W }>;
}

/** Event{wall_time=1 double, step=2 int64, file_version=3 string, summary=5, session_log=7}; other fields are an error here. */
export function decodeEvent(bytes: Uint8Array): DecodedEvent {
  const event: DecodedEvent = { wallTime: 0, step: 0 };
  for (const f of decodeWire(bytes)) {
    if (f.field === 1) event.wallTime = littleEndian(expectWire(f, 1, 'wall_time').bytes).getFloat64(0, true);
    else if (f.field === 2) event.step = Number(BigInt.asIntN(64, expectWire(f, 0, 'step').varint));
    else if (f.field === 3) event.fileVersion = text(expectWire(f, 2, 'file_version').bytes);
    else if (f.field === 5) event.scalars = decodeSummary(expectWire(f, 2, 'summary').bytes);
    else if (f.field === 7) {
      for (const s of decodeWire(expectWire(f, 2, 'session_log').bytes)) if (s.field === 1) event.sessionStatus = Number(expectWire(s, 0, 'status').varint);
      event.sessionStatus ??= 0;
    } else throw new Error(`unexpected Event field ${f.field}`);
  }
  return event;
}

/** Summary{value=1 repeated Value{tag=1 string, simple_value=2 float}}. */
function decodeSummary(bytes: Uint8Array): Record<string, number> {
  const scalars: Record<string, number> = {};
  for (const v of decodeWire(bytes)) {
    if (v.field !== 1) throw new Error(`unexpected Summary field ${v.field}`);
    let tag: string | undefined;
    let value: number | undefined;
    for (const f of decodeWire(expectWire(v, 2, 'value').bytes)) {
      if (f.field === 1) tag = text(expectWire(f, 2, 'tag').bytes);
      else if (f.field === 2) value = littleEndian(expectWire(f, 5, 'simple_value').bytes).getFloat32(0, true);
      else throw new Error(`unexpected Summary.Value field ${f.field}`);
    }
    if (tag === undefined || value === undefined) throw new Error('a Summary.Value without tag or simple_value');
    if (tag in scalars) throw new Error(`tag ${tag} twice in one Summary`);
    scalars[tag] = value;
  }
  return scalars;
}

/** Every event of an event file, in order. */
export function readEventFile(path: string): DecodedEvent[] {
  return readRecords(readFileSync(path)).map(decodeEvent);
}
