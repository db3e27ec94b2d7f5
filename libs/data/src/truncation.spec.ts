import sharp from 'sharp';
import { truncation } from './truncation';

describe('truncation', () => {
  const pixels = Buffer.from(Uint8Array.from({ length: 64 * 48 * 3 }, (_, i) => (i * 37) % 251));
  const encode = (format: 'jpeg' | 'png') => sharp(pixels, { raw: { width: 64, height: 48, channels: 3 } })[format]().toBuffer();

  it('names a JPEG or PNG cut anywhere before its end marker, with its length', async () => {
    for (const format of ['jpeg', 'png'] as const) {
      const whole = await encode(format);
      expect(truncation(whole)).toBeNull();
      for (const length of [10, 40, whole.length >> 1, whole.length - 2]) {
        const cut = whole.subarray(0, length);
        expect(truncation(cut)).toBe(
          format === 'jpeg'
            ? `the JPEG is truncated: its ${length} bytes end before an end-of-image marker`
            : `the PNG is truncated: its ${length} bytes end before a whole IEND chunk`,
        );
      }
    }
  });

  it('says nothing of bytes that end whole, of bytes past the end marker, or of other formats', async () => {
    const jpeg = await encode('jpeg');
    expect(truncation(Buffer.concat([jpeg, Buffer.from('trailing data')]))).toBeNull();
    const corrupt = Buffer.from(jpeg);
    corrupt.fill(0x55, 200, 400); // damaged scan data, the end marker intact
    expect(truncation(corrupt)).toBeNull();
    expect(truncation(Buffer.from('not an image'))).toBeNull();
    expect(truncation(Buffer.alloc(0))).toBeNull();
    const webp = await sharp(pixels, { raw: { width: 64, height: 48, channels: 3 } }).webp().toBuffer();
    expect(truncation(webp.subarray(0, 30))).toBeNull();
  });
});
