// The sha256 of a checkpoint's weights, recorded in meta.json when it is saved and checked when
// it is read: a damaged copy (a flipped bit, a half-finished transfer that still parses) stops
// with the file's name instead of giving wrong detections.
import { UserError } from '@lumen/core';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** The hex sha256 of bytes already in memory (one pass, no second read of the file). */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The hex sha256 of a file, streamed in 1 MB chunks (memory stays flat however large it is). */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  } catch (error) {
    throw new UserError(`${path}: cannot read: ${(error as Error).message}`);
  }
  return hash.digest('hex');
}

/** A sha256 as meta.json records it: 64 lowercase hex digits. */
export function isSha256(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}

/** The error for weights whose sha256 is not the one meta.json records. */
export function weightsMismatch(path: string, expected: string, actual: string): UserError {
  return new UserError(
    `${path} does not match the sha256 in meta.json: the file is damaged or was changed; copy the checkpoint again from its source ` +
      `(meta.json: ${expected.slice(0, 12)}…, file: ${actual.slice(0, 12)}…; if you changed the weights on purpose, delete 'weightsSha256' from meta.json)`,
  );
}
