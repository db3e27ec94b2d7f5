const JPEG_START = Buffer.from([0xff, 0xd8]);
const JPEG_END = Buffer.from([0xff, 0xd9]);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_END = Buffer.from('IEND', 'latin1');

/**
 * Why a JPEG or PNG is cut short, when its bytes say so (it has no end marker anywhere), else
 * null. Used to word a decode error: libvips keeps its error text in one process-wide buffer, so
 * with several decodes in flight the detail of sharp's message can come out empty or cut.
 */
export function truncation(data: Uint8Array): string | null {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.subarray(0, 2).equals(JPEG_START) && !bytes.includes(JPEG_END, 2)) {
    return `the JPEG is truncated: its ${bytes.length} bytes end before an end-of-image marker`;
  }
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    const end = bytes.lastIndexOf(PNG_END);
    if (end >= 8 && end + 8 <= bytes.length) return null; // IEND's type, then its 4-byte CRC
    return `the PNG is truncated: its ${bytes.length} bytes end before a whole IEND chunk`;
  }
  return null;
}
