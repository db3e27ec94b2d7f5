import { mkdtempSync, rmSync } from 'node:fs';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataConfig } from '../types';

export const FIXTURES = join(__dirname, '..', 'fixtures');

/** Collects log lines. */
export function logLines(): { log: (line: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (line) => lines.push(line), lines };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A temporary folder, removed by the returned function. */
export function tempDir(prefix = 'lumen-data-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A config with no augmentation, small sizes and the given dataset. */
export function testConfig(dataset: Partial<DataConfig['dataset']> & Pick<DataConfig['dataset'], 'type' | 'dir'>, overrides: Partial<DataConfig> = {}): DataConfig {
  return {
    dataset: { splits: { train: 'train', val: 'val', test: 'test' }, ...dataset },
    image: { minSize: 32, maxSize: 64 },
    augment: {
      flip: 0,
      scaleJitter: { prob: 0, minSizes: [] },
      photometric: { prob: 0, brightness: 0, contrast: 0, saturation: 0, hue: 0 },
      crop: { prob: 0, minScale: 0.5, minBoxVisible: 0.5 },
    },
    loader: { concurrency: 2, prefetch: 4, shuffle: true },
    ...overrides,
  };
}

/** Mean RGB of a region of HWC pixels. */
export function meanColour(pixels: ArrayLike<number>, width: number, x0: number, y0: number, x1: number, y1: number): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      for (let c = 0; c < 3; c++) sum[c] += pixels[(y * width + x) * 3 + c];
      n++;
    }
  }
  return [sum[0] / n, sum[1] / n, sum[2] / n];
}

/**
 * A textured 640x480 JPEG, whole and with the second half of its bytes cut off: the cut one's
 * header still reads (the cut is in the scan data), its pixels do not decode.
 */
export async function truncatedJpeg(): Promise<{ whole: Buffer; cut: Buffer }> {
  const texture = Buffer.from(Uint8Array.from({ length: 640 * 480 * 3 }, (_, i) => (i * 37) % 251));
  const whole = await sharp(texture, { raw: { width: 640, height: 480, channels: 3 } }).jpeg().toBuffer();
  return { whole, cut: whole.subarray(0, whole.length >> 1) };
}
