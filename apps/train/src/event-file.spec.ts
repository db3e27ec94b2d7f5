import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { EventFileWriter, FILE_VERSION } from './event-file';
import { readEventFile, readRecords, referenceCrc32c } from './testing/event-reader';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lumen-events-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const START = new Date('2026-03-04T05:06:07.250Z');
const START_SECONDS = START.getTime() / 1000;

describe("the spec's reader", () => {
  it('has a CRC32C that gives the check value of the standard test vector', () => {
    expect(referenceCrc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(referenceCrc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });
});

describe('EventFileWriter', () => {
  it('names the file events.out.tfevents.<unix seconds>.<host> and starts it with the file version', () => {
    const writer = new EventFileWriter(join(dir, 'name'), { now: START, host: 'trainer-1' });
    expect(basename(writer.path)).toBe(`events.out.tfevents.${Math.floor(START_SECONDS)}.trainer-1`);
    expect(readEventFile(writer.path)).toEqual([{ wallTime: START_SECONDS, step: 0, fileVersion: FILE_VERSION }]);
    expect(FILE_VERSION).toBe('brain.Event:2');
  });

  it('appends scalars and session starts as TFRecords that decode to what was written', () => {
    const writer = new EventFileWriter(join(dir, 'scalars'), { now: START, host: 'h' });
    writer.sessionStart(1, START_SECONDS + 0.5);
    writer.scalars(1, { 'loss/total': 1.25, lr: 0.02, 'eval/AP/seven': 0.1 }, START_SECONDS + 1);
    writer.scalars(2 ** 40 + 3, { 'loss/total': -3.5e-8 }, START_SECONDS + 2);
    writer.scalars(3, {});
    const events = readEventFile(writer.path);
    expect(events).toEqual([
      { wallTime: START_SECONDS, step: 0, fileVersion: 'brain.Event:2' },
      { wallTime: START_SECONDS + 0.5, step: 1, sessionStatus: 1 },
      // simple_value is a float: values come back rounded to float32.
      { wallTime: START_SECONDS + 1, step: 1, scalars: { 'loss/total': 1.25, lr: Math.fround(0.02), 'eval/AP/seven': Math.fround(0.1) } },
      { wallTime: START_SECONDS + 2, step: 2 ** 40 + 3, scalars: { 'loss/total': Math.fround(-3.5e-8) } },
    ]);
  });

  it('writes each event at once, so a reader sees it before the next one', () => {
    const writer = new EventFileWriter(join(dir, 'live'), { now: START, host: 'h' });
    for (let step = 1; step <= 3; step++) {
      writer.scalars(step, { 'loss/total': step });
      expect(readEventFile(writer.path).map((e) => e.step)).toEqual([0, ...Array.from({ length: step }, (_, i) => i + 1)]);
    }
  });

  it('never overwrites an event file: a second one started in the same second gets a suffix that sorts after it', () => {
    const folder = join(dir, 'same-second');
    const first = new EventFileWriter(folder, { now: START, host: 'h' });
    first.scalars(5, { lr: 1 });
    const second = new EventFileWriter(folder, { now: START, host: 'h' });
    const third = new EventFileWriter(folder, { now: START, host: 'h' });
    expect([second.path, third.path]).toEqual([`${first.path}.1`, `${first.path}.2`]);
    expect(readdirSync(folder).sort()).toEqual([basename(first.path), basename(second.path), basename(third.path)]);
    expect(readEventFile(first.path).map((e) => e.step)).toEqual([0, 5]);
  });

  it('frames records so that a flipped bit or a cut is caught by the checksums', () => {
    const writer = new EventFileWriter(join(dir, 'damage'), { now: START, host: 'h' });
    writer.scalars(7, { 'loss/total': 2 });
    const bytes = readFileSync(writer.path);
    expect(readRecords(bytes)).toHaveLength(2);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 8] ^= 0x01;
    expect(() => readRecords(flipped)).toThrow(/bad data checksum/);
    const badLength = Buffer.from(bytes);
    badLength[0] ^= 0x01;
    expect(() => readRecords(badLength)).toThrow(/bad length checksum/);
    writeFileSync(join(dir, 'cut'), bytes.subarray(0, bytes.length - 3));
    expect(() => readRecords(readFileSync(join(dir, 'cut')))).toThrow(/truncated record/);
  });
});
