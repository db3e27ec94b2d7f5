// RoI pooling for Faster R-CNN on TensorFlow.js, NHWC, differentiable w.r.t. the feature
// map. Both poolings are separable bilinear resamplings (sampling.ts) computed row by row
// in WebAssembly SIMD (JavaScript where it is unavailable); see README.md "Speed".
// multiScaleRoiAlign is roiAlign over an FPN pyramid, each box on the level of its size.
export { roiAlign } from './roi-align';
export { cropPool } from './crop-pool';
export { inferScales, levelsOfBoxes, multiScaleRoiAlign } from './multi-scale-roi-align';
export type { LevelOptions, MultiScaleRoiAlignOptions } from './multi-scale-roi-align';
