export { initBackend, BACKEND_NAMES } from './init-backend';
export type { BackendChoice, BackendName, InitBackendOptions } from './init-backend';
export { registerTrainingGradients, registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './register-training-kernels';
export { CPU_FALLBACK_KERNELS } from './kernels/cpu-fallback';
export { cropAndResizeImageGradient } from './gradients/crop-and-resize-grad';
export { withThreadedWasm } from './wasm-threads';
