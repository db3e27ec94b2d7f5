import { fail, formatValues } from '@lumen/core';
import type { Detections, GroundTruth, ImageEntry } from './types';

// Input checks for Evaluator.add. A metric computed over bad input is silently wrong, so
// every message names the image and the field (`detections.boxes[3]`) to find it by.

/** What came: a box by its values (NaN shown as NaN), an image id in quotes. */
function show(value: unknown): string {
  if (Array.isArray(value)) return formatValues(value);
  if (typeof value === 'string') return `'${value}'`;
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}

/** Checks one image against `numClasses`; returns its detections and ground truth, defaults filled in. */
export function validateEntry(
  fn: string,
  entry: ImageEntry,
  numClasses: number,
): { imageId: string | number; detections: Detections; groundTruth: Required<GroundTruth> } {
  if (entry === null || typeof entry !== 'object') fail(fn, `expected an image entry object, but got ${show(entry)}.`);
  const { imageId } = entry;
  if (!(typeof imageId === 'string' || (typeof imageId === 'number' && Number.isFinite(imageId)))) {
    fail(fn, `'imageId' must be a string or a finite number, but got ${show(imageId)}.`);
  }
  const where = `image ${show(imageId)}`;
  const bad = (field: string, message: string): never => fail(fn, `${where}: '${field}' ${message}`);

  const arrayOf = (field: string, value: unknown): unknown[] => {
    if (!Array.isArray(value)) bad(field, `must be an array, but got ${show(value)}.`);
    return value as unknown[];
  };
  const checkBoxes = (field: string, value: unknown): void => {
    arrayOf(field, value).forEach((box, i) => {
      const ok = Array.isArray(box) && box.length === 4 && box.every((c) => typeof c === 'number' && Number.isFinite(c));
      if (!ok) bad(`${field}[${i}]`, `must be 4 finite numbers [x1, y1, x2, y2], but got ${show(box)}.`);
      const [x1, y1, x2, y2] = box as number[];
      if (x2 < x1 || y2 < y1) bad(`${field}[${i}]`, `must have x2 >= x1 and y2 >= y1, but got ${show(box)}.`);
    });
  };
  const checkLabels = (field: string, value: unknown): void => {
    arrayOf(field, value).forEach((label, i) => {
      if (typeof label !== 'number' || !Number.isInteger(label) || label < 1 || label > numClasses) {
        bad(`${field}[${i}]`, `must be a class label in 1..${numClasses} (0 is background), but got ${show(label)}.`);
      }
    });
  };
  const checkLength = (field: string, value: unknown[], length: number, of: string): void => {
    if (value.length !== length) bad(field, `has length ${value.length}, but '${of}' has ${length}.`);
  };

  const det = entry.detections ?? { boxes: [], scores: [], labels: [] };
  if (det === null || typeof det !== 'object') bad('detections', `must be an object, but got ${show(det)}.`);
  checkBoxes('detections.boxes', det.boxes);
  const scores = arrayOf('detections.scores', det.scores);
  scores.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isFinite(s)) bad(`detections.scores[${i}]`, `must be a finite number, but got ${show(s)}.`);
  });
  checkLabels('detections.labels', det.labels);
  checkLength('detections.scores', scores, det.boxes.length, 'detections.boxes');
  checkLength('detections.labels', det.labels as unknown[], det.boxes.length, 'detections.boxes');

  const gt = entry.groundTruth ?? { boxes: [], labels: [] };
  if (gt === null || typeof gt !== 'object') bad('groundTruth', `must be an object, but got ${show(gt)}.`);
  checkBoxes('groundTruth.boxes', gt.boxes);
  checkLabels('groundTruth.labels', gt.labels);
  checkLength('groundTruth.labels', gt.labels as unknown[], gt.boxes.length, 'groundTruth.boxes');
  const flags = (field: 'difficult' | 'iscrowd'): boolean[] => {
    const value = gt[field];
    if (value === undefined) return gt.boxes.map(() => false);
    const list = arrayOf(`groundTruth.${field}`, value);
    checkLength(`groundTruth.${field}`, list, gt.boxes.length, 'groundTruth.boxes');
    list.forEach((f, i) => {
      if (typeof f !== 'boolean' && f !== 0 && f !== 1) bad(`groundTruth.${field}[${i}]`, `must be a boolean, but got ${show(f)}.`);
    });
    return list.map((f) => Boolean(f));
  };
  return {
    imageId,
    detections: det,
    groundTruth: { boxes: gt.boxes, labels: gt.labels, difficult: flags('difficult'), iscrowd: flags('iscrowd') },
  };
}
