// @lumen/train: what `lumen train`, `lumen eval`, `lumen dataset check` and `lumen checkpoint
// list | info | export | import | delete` are made of, for programs that embed them, and the
// commands themselves (apps/cli assembles them into `lumen`).
export { trainCommands } from './cli';
export { checkpointCommands } from './checkpoint-cli';
export { runCheckpointImport } from './checkpoint-import';
export type { CheckpointImport, CheckpointImportOptions } from './checkpoint-import';
export { exportCheckpoint, importCheckpointArchive, isTarArchive } from './checkpoint-archive';
export type { ArchiveImport, ExportOptions, ExportResult } from './checkpoint-archive';
export { formatCheckpointList, listCheckpointsUnder } from './checkpoint-list';
export type { CheckpointListing, ListedCheckpoint } from './checkpoint-list';
export { configDifferences, formatCheckpointInfo, readCheckpointInfo } from './checkpoint-info';
export type { CheckpointInfo, ConfigDifference, WeightsCheck } from './checkpoint-info';
export { deleteCheckpoint } from './checkpoint-delete';
export { runTraining } from './train';
export type { TrainOptions, TrainResult } from './train';
export { TrainingDiverged } from './divergence';
export { signalExitCode, StopRequest } from './stop';
export type { StopSignal } from './stop';
export { runEvaluation } from './run-eval';
export type { EvalOptions } from './run-eval';
