export { gridAnchors, referenceAnchors } from './anchors';
export { levelStrides, pyramidAnchors } from './pyramid';
export type { PyramidAnchors } from './pyramid';
