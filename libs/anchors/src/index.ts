export { gridAnchors, referenceAnchors } from './anchors';
