import {
  findBackend,
  getKernel,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Kernels the wasm backend lacks that are cheap and rare in detection models: they run on
 * the cpu backend with their inputs copied over and their outputs copied back. Hot kernels
 * (conv gradients, segment sums) have real wasm implementations instead.
 */
export const CPU_FALLBACK_KERNELS = ['Einsum', 'RaggedGather', 'RaggedRange', 'RaggedTensorToTensor'] as const;

const announced = new Set<string>();

export function cpuFallbackKernel(kernelName: string, log: (message: string) => void): KernelConfig {
  const kernelFunc = ({ inputs, backend, attrs }: { inputs: NamedTensorInfoMap; backend: KernelBackend; attrs?: NamedAttrMap }) => {
    const wasm = backend as BackendWasm;
    const cpu = findBackend('cpu');
    const cpuKernel = getKernel(kernelName, 'cpu');
    if (cpu == null || cpuKernel == null) {
      throw new Error(`@lumen/runtime: '${kernelName}' has no wasm kernel and the cpu backend to run it on is not registered`);
    }
    if (!announced.has(kernelName)) {
      announced.add(kernelName);
      log(`@lumen/runtime: wasm has no '${kernelName}' kernel; running it on the cpu backend (inputs copied)`);
    }
    // Some kernels (Einsum, AddN, Concat, ...) take their inputs as an array: keep the shape.
    const cpuInputs = (Array.isArray(inputs) ? [] : {}) as NamedTensorInfoMap;
    const created: TensorInfo[] = [];
    for (const [name, info] of Object.entries(inputs)) {
      if (info == null) continue;
      const values = wasm.readSync(info.dataId);
      const copy = { dataId: cpu.write(values, info.shape, info.dtype), shape: info.shape, dtype: info.dtype };
      cpuInputs[name] = copy;
      created.push(copy);
    }
    try {
      const result = cpuKernel.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs });
      const outputs = Array.isArray(result) ? result : [result];
      const copied = outputs.map((o) => {
        const values = cpu.readSync(o.dataId);
        cpu.disposeData(o.dataId);
        return wasm.makeOutput(o.shape, o.dtype, undefined, values);
      });
      return Array.isArray(result) ? copied : copied[0];
    } finally {
      for (const info of created) cpu.disposeData(info.dataId);
    }
  };
  return { kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}
