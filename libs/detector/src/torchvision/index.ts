// Importing torchvision's Faster R-CNN files (fasterrcnn_resnet50_fpn, …_v2,
// fasterrcnn_mobilenet_v3_large_fpn, …_320_fpn) as Lumen checkpoints: `lumen checkpoint import`.
export { architectureConfig, isTorchvisionArchitecture, TORCHVISION_ARCHITECTURES } from './architectures';
export type { TorchvisionArchitecture } from './architectures';
export { COCO_CLASSES, TORCHVISION_COCO_CATEGORIES } from './coco-classes';
export { importedClasses } from './class-list';
export { importTorchvision } from './import-torchvision';
export type { ImportedCheckpoint, ImportTorchvisionOptions } from './import-torchvision';
export { mapTorchvisionState } from './state-dict';
export type { MappedWeights, TorchLayout } from './state-dict';
