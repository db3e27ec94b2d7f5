/**
 * The scratch folder a bench and its PyTorch peer exchange inputs and answers through:
 * raw little-endian float32 files (numpy's `fromfile('<f4')`) and a meta.json.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class PeerData {
  constructor(readonly dir: string) {}

  write(name: string, values: Float32Array): void {
    writeFileSync(join(this.dir, name), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  }

  writeMeta(meta: unknown): void {
    writeFileSync(join(this.dir, 'meta.json'), JSON.stringify(meta));
  }

  read(name: string): Float32Array {
    const bytes = readFileSync(join(this.dir, name));
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
}

/** Runs `use` on a fresh folder, removed afterwards unless LUMEN_BENCH_KEEP is set (to rerun a peer by hand). */
export async function withPeerData<T>(name: string, use: (data: PeerData) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `lumen-bench-${name}-`));
  try {
    return await use(new PeerData(dir));
  } finally {
    if (process.env.LUMEN_BENCH_KEEP == null) rmSync(dir, { recursive: true, force: true });
    else console.error(`[bench] inputs kept in ${dir}`);
  }
}
