// Which row kernels run a call: wasm SIMD where it applies, JavaScript otherwise. Both are
// created once, on first use, and keep their memory for later calls.
import { createJsKernels } from './js-kernels';
import type { RowKernels } from './row-kernels';
import { createWasmKernels } from './wasm-kernels';

export type KernelChoice = 'auto' | 'wasm' | 'js';

let choice: KernelChoice = 'auto';
let wasm: RowKernels | null | undefined;
let js: RowKernels | undefined;

/**
 * Which kernels run ('auto': wasm SIMD where it applies). Internal: specs use it to run
 * every reference case through both implementations; not part of the public API.
 */
export function setKernelChoice(next: KernelChoice): void {
  choice = next;
}

/** The kernels for rows of `channels` floats and a memory of `floats` floats, with that memory. */
export function kernelsFor(channels: number, floats: number): { kernels: RowKernels; mem: Float32Array } {
  if (choice !== 'js') {
    if (wasm === undefined) wasm = createWasmKernels();
    if (wasm != null && wasm.supports(channels)) {
      const mem = wasm.reserve(floats);
      if (mem != null) return { kernels: wasm, mem };
    }
    if (choice === 'wasm') throw new Error(`roi-pool: wasm kernels unavailable for ${channels} channels and ${floats} floats`);
  }
  js ??= createJsKernels();
  return { kernels: js, mem: js.reserve(floats) as Float32Array };
}
