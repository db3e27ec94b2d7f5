import { UserError } from '@lumen/core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importedClasses } from './class-list';
import { COCO_CLASSES, TORCHVISION_COCO_CATEGORIES } from './coco-classes';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'lumen-classes-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

describe('importedClasses', () => {
  it("is torchvision's COCO list without background for 'coco', or by default for 91 outputs: 'N/A' kept, so label k is category k", () => {
    expect(TORCHVISION_COCO_CATEGORIES).toHaveLength(91);
    expect(importedClasses('coco', 91, 'f.pth')).toEqual(COCO_CLASSES);
    expect(importedClasses(undefined, 91, 'f.pth')).toEqual(COCO_CLASSES);
    const classes = importedClasses('coco', 91, 'f.pth');
    expect([classes[0], classes[11], classes[12], classes[89]]).toEqual(['person', 'N/A', 'stop sign', 'toothbrush']);
  });

  it('reads one name per line: blank lines and a leading __background__ skipped, CRLF and spaces trimmed', () => {
    expect(importedClasses(file('a.txt', 'cat\r\n\r\n dog \n'), 3, 'f.pth')).toEqual(['cat', 'dog']);
    expect(importedClasses(file('b.txt', '__background__\ncat\ndog\n'), 3, 'f.pth')).toEqual(['cat', 'dog']);
  });

  it('names the file and the counts when they do not fit', () => {
    expect(() => importedClasses(file('c.txt', 'cat\n'), 3, 'f.pth')).toThrow(new UserError(`f.pth's classifier has 3 outputs (background + 2 classes), but --classes ${join(work, 'c.txt')} lists 1`));
    expect(() => importedClasses(file('d.txt', '\n\n'), 3, 'f.pth')).toThrow(`--classes ${join(work, 'd.txt')}: no class names in it (expected one per line)`);
    expect(() => importedClasses(join(work, 'none.txt'), 3, 'f.pth')).toThrow(new RegExp(`^--classes ${join(work, 'none.txt')}: cannot read it: ENOENT`));
  });
});
