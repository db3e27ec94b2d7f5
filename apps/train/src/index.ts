// @lumen/train: what `lumen train`, `lumen eval`, `lumen dataset check` and `lumen checkpoint
// import` are made of, for programs that embed them, and the commands themselves (apps/cli
// assembles them into `lumen`).
export { trainCommands } from './cli';
export { checkpointCommands } from './checkpoint-cli';
export { runCheckpointImport } from './checkpoint-import';
export type { CheckpointImportOptions } from './checkpoint-import';
export { runTraining } from './train';
export type { TrainOptions, TrainResult } from './train';
export { TrainingDiverged } from './divergence';
export { signalExitCode, StopRequest } from './stop';
export type { StopSignal } from './stop';
export { runEvaluation } from './run-eval';
export type { EvalOptions } from './run-eval';
