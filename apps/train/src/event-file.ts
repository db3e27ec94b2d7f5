import { crc32c } from '@node-rs/crc32';
import { parse } from 'protobufjs';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * The parts of TensorFlow's event.proto and summary.proto that scalar logs use, with their
 * field numbers (a reader skips the fields left out).
 */
const EVENT_PROTO = `
syntax = "proto3";
package tensorflow;

message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    Summary summary = 5;
    SessionLog session_log = 7;
  }
}

message Summary {
  message Value {
    string tag = 1;
    oneof value {
      float simple_value = 2;
    }
  }
  repeated Value value = 1;
}

message SessionLog {
  enum SessionStatus {
    STATUS_UNSPECIFIED = 0;
    START = 1;
    STOP = 2;
    CHECKPOINT = 3;
  }
  SessionStatus status = 1;
  string checkpoint_path = 2;
  string msg = 3;
}
`;

const Event = parse(EVENT_PROTO).root.lookupType('tensorflow.Event');

/** What every event file starts with; TensorBoard reads version 2 as "restarts are marked by SessionLog START". */
export const FILE_VERSION = 'brain.Event:2';

/** TFRecord's masked CRC32C: rotated and offset, so a CRC stored inside checksummed data stays a good check. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 length, masked CRC of the length, the data, masked CRC of the data (little-endian). */
export function tfRecord(data: Uint8Array): Buffer {
  const record = Buffer.alloc(12 + data.length + 4);
  record.writeBigUInt64LE(BigInt(data.length), 0);
  record.writeUInt32LE(maskedCrc32c(record.subarray(0, 8)), 8);
  record.set(data, 12);
  record.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return record;
}

/** `events.out.tfevents.<unix seconds>.<host>`: TensorBoard's name for an event file. */
export function eventFileName(now: Date, host: string): string {
  return `events.out.tfevents.${Math.floor(now.getTime() / 1000)}.${host}`;
}

export interface EventFileOptions {
  /** When the file is started (default now): its name and first event. */
  now?: Date;
  /** Default: this machine's hostname. */
  host?: string;
}

/**
 * A TensorBoard event file in `dir`: TFRecord-framed Event messages, the first one the file
 * version. Each call appends one record in one write (no buffering), so a live
 * `tensorboard --logdir` sees it at once and a crash loses at most the record being written.
 */
export class EventFileWriter {
  readonly path: string;

  constructor(dir: string, options: EventFileOptions = {}) {
    mkdirSync(dir, { recursive: true });
    const now = options.now ?? new Date();
    const header = this.encode({ wallTime: now.getTime() / 1000, step: 0, fileVersion: FILE_VERSION });
    this.path = createNew(join(dir, eventFileName(now, options.host ?? hostname())), header);
  }

  /** One Event at `step` holding a simple_value per tag (none written when `values` is empty). */
  scalars(step: number, values: Readonly<Record<string, number>>, wallTime = Date.now() / 1000): void {
    const value = Object.entries(values).map(([tag, simpleValue]) => ({ tag, simpleValue }));
    if (value.length > 0) this.append({ wallTime, step, summary: { value } });
  }

  /**
   * A SessionLog START at `step`: TensorBoard drops what earlier files logged at this step and
   * after it, which a run resumed from an earlier checkpoint logs again.
   */
  sessionStart(step: number, wallTime = Date.now() / 1000): void {
    this.append({ wallTime, step, sessionLog: { status: 'START' } });
  }

  private append(event: Record<string, unknown>): void {
    appendFileSync(this.path, this.encode(event));
  }

  private encode(event: Record<string, unknown>): Buffer {
    return tfRecord(Event.encode(Event.fromObject(event)).finish());
  }
}

/**
 * Creates `path` holding `data`, never touching an existing file: a run started in the same
 * second as the previous one (a quick resume) gets `<path>.1`, `<path>.2`…, names that sort
 * after it, in the order TensorBoard reads a folder's event files.
 */
function createNew(path: string, data: Uint8Array): string {
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? path : `${path}.${n}`;
    try {
      writeFileSync(candidate, data, { flag: 'wx' });
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
