// The optimizers (torch.optim's SGD and Adam) and the learning-rate schedule: the state and
// its checkpoint slots, the schedule, and the update, which applyGradients runs as one of
// three strategies (fused kernels, JS loops, tensor ops) by backend.
export { applyGradients } from './apply-gradients';
export { globalNorm } from './clip';
export { learningRate } from './schedule';
export type { ScheduleConfig } from './schedule';
export { createOptimizer, disposeOptimizer, optimizerSlots, restoreOptimizer } from './state';
export type { OptimizerConfig, OptimizerState } from './state';
