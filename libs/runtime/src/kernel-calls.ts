import {
  getKernel,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
  util,
  type KernelBackend,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Calls another kernel of the backend a kernel runs on, directly: no tape, no engine
 * scopes. The caller owns the returned TensorInfo and frees it with `release`.
 */
export function callKernel(
  backendName: string,
  backend: KernelBackend,
  name: string,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const kernel = getKernel(name, backendName);
  if (kernel == null) {
    throw new Error(`@lumen/runtime: kernel '${name}' is not registered for backend '${backendName}'`);
  }
  const out = kernel.kernelFunc({ inputs, attrs, backend });
  if (Array.isArray(out)) {
    throw new Error(`@lumen/runtime: kernel '${name}' returned ${out.length} outputs, expected one`);
  }
  return out;
}

/** `callKernel` for kernels with several outputs. */
export function callKernelOutputs(
  backendName: string,
  backend: KernelBackend,
  name: string,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap = {},
): TensorInfo[] {
  const kernel = getKernel(name, backendName);
  if (kernel == null) {
    throw new Error(`@lumen/runtime: kernel '${name}' is not registered for backend '${backendName}'`);
  }
  const out = kernel.kernelFunc({ inputs, attrs, backend });
  return Array.isArray(out) ? out : [out];
}

/** Frees intermediate results of `callKernel`. */
export function release(backend: KernelBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * Raw float32 access to a wasm tensor's memory. Valid until the next allocation on the wasm
 * heap (a heap growth moves the buffer), so callers allocate first and take views after.
 */
export function wasmFloats(backend: BackendWasm, info: TensorInfo): Float32Array {
  if (info.dtype !== 'float32') {
    throw new Error(`@lumen/runtime: expected a float32 tensor, got ${info.dtype}`);
  }
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Allocates an uninitialised float32 output on the wasm heap. */
export function wasmAlloc(backend: BackendWasm, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, 'float32');
}

export function sizeOf(shape: number[]): number {
  return util.sizeFromShape(shape);
}
