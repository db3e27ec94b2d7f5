import { UserError } from '@lumen/core';
import { readFileSync } from 'node:fs';
import { COCO_CLASSES } from './coco-classes';

/** torchvision's name for label 0 in its category lists; a class file may start with it. */
const BACKGROUND = '__background__';

/** The names in a text file, one per line (blank lines skipped, a leading '__background__' dropped). */
function readNames(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserError(`--classes ${path}: cannot read it: ${(error as Error).message}`);
  }
  const names = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (names[0] === BACKGROUND) names.shift();
  if (names.length === 0) throw new UserError(`--classes ${path}: no class names in it (expected one per line)`);
  return names;
}

/**
 * The class names of an imported model, labels 1..N in this order: `coco` (torchvision's COCO
 * list, 'N/A' entries kept so label k is category k), a text file with one name per line, or,
 * when `spec` is undefined, COCO's for a classifier with its 91 outputs. `outputs` is the
 * classifier's (background + N); a list of another length is a UserError naming both.
 */
export function importedClasses(spec: string | undefined, outputs: number, file: string): string[] {
  const what = `${file}'s classifier has ${outputs} outputs (background + ${outputs - 1} classes)`;
  if (spec === undefined && outputs !== COCO_CLASSES.length + 1) {
    throw new UserError(`${what}: name them with --classes FILE.txt (one name per line, in label order)`);
  }
  const classes = spec === undefined || spec === 'coco' ? [...COCO_CLASSES] : readNames(spec);
  if (classes.length !== outputs - 1) {
    const named = spec === undefined || spec === 'coco' ? "torchvision's COCO list has" : `--classes ${spec} lists`;
    throw new UserError(`${what}, but ${named} ${classes.length}`);
  }
  return classes;
}
