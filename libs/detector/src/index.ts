// Faster R-CNN composed from a Lumen config: backbone (-> FPN) -> RPN -> RoI pooling -> box
// head, with the training step, inference, optimizers and checkpoints (docs/architecture.md
// §2, §6), and the torchvision name of every parameter.
export { backboneOptions } from './backbone-options';
export { buildDetector, initDetector } from './model';
export type { Detector, DetectorParams, DetectorSettings, FeatureMaps, Mode, RpnOutputs } from './model';
export { checkModelConfig, resolveComponents } from './components';
export type { MapPooler, ModelComponents, RoiPooler } from './components';
export type { AnchorPlan } from './anchor-plan';
export type { PyramidPlan } from './pyramid-plan';
export { torchParamMap, torchToLumen } from './torch-names';
export type { TorchParam } from './torch-names';
export { loadPretrainedBackbone } from './pretrained';
export { detectBatch, LOSS_NAMES, trainingLosses } from './forward';
export type { Detection, ImageScale, LossName, Losses } from './forward';
export { NonFiniteLossError, stepRng, trainStep } from './train-step';
export type { StepResult } from './train-step';
export {
  applyGradients,
  createOptimizer,
  disposeOptimizer,
  globalNorm,
  learningRate,
  optimizerSlots,
  restoreOptimizer,
} from './optimizer';
export type { OptimizerState } from './optimizer';
export { assignParams, countParams, disposeParams, flattenParams, trainableParams } from './params';
export type { NamedArray, ParamTree } from './params';
export { batchImages, resizeBoxes } from './transform';
export type { ImageBatch, ImageInput } from './transform';
export type { ImageTargets, TrainingExample } from './targets';
export { CONFIG_FILE, loadCheckpoint, META_FILE, OPTIMIZER_FILE, readCheckpointMeta, saveCheckpoint, WEIGHTS_FILE } from './checkpoint';
export { checkpointIdentity, imageSizeRule } from './checkpoint-identity';
export type { CheckpointIdentity, ImageSizeRule } from './checkpoint-identity';
export { isSha256, sha256Hex, sha256OfFile, weightsMismatch } from './checkpoint-integrity';
export type { CheckpointMeta, LoadCheckpointOptions, LoadedCheckpoint, SaveCheckpointOptions } from './checkpoint';
export { loadDetector } from './load';
export type { DetectorInput, LoadedDetector } from './load';
export { architectureConfig, COCO_CLASSES, importedClasses, importTorchvision, isTorchvisionArchitecture, mapTorchvisionState, TORCHVISION_ARCHITECTURES, TORCHVISION_COCO_CATEGORIES, type ImportedCheckpoint, type ImportTorchvisionOptions, type TorchvisionArchitecture } from './torchvision';
