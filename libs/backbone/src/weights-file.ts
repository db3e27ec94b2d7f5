import { fail } from '@lumen/core';
import { isLegacyPth, readPth, startsWithZipMagic } from './pth';
import { readSafetensors, type SafeTensor } from './safetensors';
import { describe } from './validate';

// Weight files are told apart by their first bytes, not their names: a .pth is a zip
// ('PK\x03\x04'; a legacy one a pickle, 0x80), a safetensors file an 8-byte little-endian
// header length followed by the JSON header's '{'.

export type WeightsFormat = 'safetensors' | 'pth' | 'unknown';

const OPEN_BRACE = 0x7b;

function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 9 || bytes[8] !== OPEN_BRACE) return false;
  const headerBytes = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return headerBytes <= BigInt(bytes.byteLength - 8);
}

/** What the bytes hold, by content: a PyTorch .pth (zip, or the legacy pickle), safetensors, or neither. */
export function detectWeightsFormat(bytes: Uint8Array): WeightsFormat {
  if (!(bytes instanceof Uint8Array)) fail('detectWeightsFormat', `'bytes' must be a Uint8Array, but got ${describe(bytes)}.`);
  if (startsWithZipMagic(bytes) || isLegacyPth(bytes)) return 'pth';
  return looksLikeSafetensors(bytes) ? 'safetensors' : 'unknown';
}

/**
 * The tensors of a weights file, safetensors or PyTorch .pth, by name (`readSafetensors`,
 * `readPth`). Bytes of neither format go to readSafetensors, whose error says what is wrong.
 */
export function readWeightsFile(bytes: Uint8Array): Record<string, SafeTensor> {
  if (!(bytes instanceof Uint8Array)) fail('readWeightsFile', `'bytes' must be a Uint8Array, but got ${describe(bytes)}.`);
  return detectWeightsFormat(bytes) === 'pth' ? readPth(bytes) : readSafetensors(bytes);
}
