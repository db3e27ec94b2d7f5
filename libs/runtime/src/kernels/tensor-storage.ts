import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NativeBackend } from '../native-backend';

/**
 * How native kernels reach a backend's float32 tensor memory in place: the wasm backend's
 * tensors live in its 4 GB heap, the native backend's (a cpu backend) in Node's own memory,
 * as one typed array each. The kernels read and write through these views, never copying.
 */
export interface TensorStorage {
  /** The backend the kernels are registered for. */
  backendName: string;
  /** The float32 values of `info`. */
  view(backend: KernelBackend, info: TensorInfo): Float32Array;
  /** A new float32 tensor of `shape` (contents unspecified) for a kernel to fill. */
  output(backend: KernelBackend, shape: number[]): TensorInfo;
}

export const WASM_STORAGE: TensorStorage = {
  backendName: 'wasm',
  view: (backend, info) => (backend as BackendWasm).typedArrayFromHeap(info) as Float32Array,
  output: (backend, shape) => (backend as BackendWasm).makeOutput(shape, 'float32'),
};

/** The backend whose tensors are typed arrays in Node's memory and whose heavy kernels are @lumen/runtime-native's. */
export const NATIVE_BACKEND = 'native';

export const NATIVE_STORAGE: TensorStorage = {
  backendName: NATIVE_BACKEND,
  view: (backend, info) => {
    const values = (backend as NativeBackend).data.get(info.dataId)?.values;
    if (!(values instanceof Float32Array)) throw new Error(`@lumen/runtime: the native backend holds no float32 values for a ${info.dtype} tensor of shape [${info.shape}]`);
    return values;
  },
  output: (backend, shape) => (backend as NativeBackend).floatOutput(shape),
};
