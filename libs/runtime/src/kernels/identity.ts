import { Identity, type IdentityInputs, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Replaces wasm's Identity, which copies its input. tfjs clones every tensor it saves for
 * the backward pass through Identity, so on wasm each saved activation was stored twice —
 * enough to push ResNet-50 forward+backward at 608x800 past wasm32's 4 GB heap. Tensors
 * are immutable, so sharing the buffer (as the cpu backend does) is safe.
 */
function identity(args: { inputs: IdentityInputs; backend: BackendWasm }): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityWasm: KernelConfig = {
  kernelName: Identity,
  backendName: 'wasm',
  kernelFunc: identity as unknown as KernelFunc,
};
