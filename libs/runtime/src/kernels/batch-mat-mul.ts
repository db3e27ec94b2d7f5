import { BatchMatMul, type BatchMatMulAttrs, type BatchMatMulInputs, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callKernel, release } from '../kernel-calls';

/**
 * Wraps wasm's BatchMatMul: with a transposed operand it runs ~10x slower than on plain
 * operands (656 ms vs 70 ms for [256,256]·[3136,256]ᵀ), and every dense layer's backward
 * pass asks for one (dA = dy·Bᵀ, dB = Aᵀ·dy). Transposing explicitly first (a fast
 * kernel) and multiplying plain operands gives the same numbers.
 */
export function batchMatMulWasm(wasmKernel: KernelConfig): KernelConfig {
  const original = wasmKernel.kernelFunc;
  const kernelFunc = (args: { inputs: BatchMatMulInputs; backend: BackendWasm; attrs: BatchMatMulAttrs }): TensorInfo => {
    const { inputs, backend, attrs } = args;
    if (!attrs.transposeA && !attrs.transposeB) return original(args as never) as TensorInfo;
    const swapLast = (t: TensorInfo): TensorInfo => {
      const perm = t.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      return callKernel('wasm', backend, 'Transpose', { x: t }, { perm });
    };
    const a = attrs.transposeA ? swapLast(inputs.a as TensorInfo) : (inputs.a as TensorInfo);
    const b = attrs.transposeB ? swapLast(inputs.b as TensorInfo) : (inputs.b as TensorInfo);
    try {
      return original({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } } as never) as TensorInfo;
    } finally {
      if (a !== inputs.a) release(backend, a);
      if (b !== inputs.b) release(backend, b);
    }
  };
  // setupFunc binds wasm's exported function when the backend starts: keep it.
  return { kernelName: BatchMatMul, backendName: 'wasm', setupFunc: wasmKernel.setupFunc, kernelFunc: kernelFunc as unknown as KernelFunc };
}
