import { readSafetensors } from '@lumen/backbone';
import { UserError } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, WEIGHTS_FILE } from '../checkpoint';
import { TORCHVISION_FIXTURES, torchvisionCase } from '../testing/torchvision-fixtures';
import { architectureConfig } from './architectures';
import { COCO_CLASSES } from './coco-classes';
import { importTorchvision } from './import-torchvision';

// importTorchvision end to end on torchvision's files (tools/fixtures/detector_parity_fixtures.py):
// the checkpoint it writes, and what it says when the file, the architecture, the sizes or
// the classes do not fit. Whether the imported model detects as torchvision's does is
// apps/train's checkpoint-parity.spec.ts.

const V1 = torchvisionCase('fasterrcnn_resnet50_fpn');
const V2 = torchvisionCase('fasterrcnn_resnet50_fpn_v2');
const CLASSES_FILE = join(TORCHVISION_FIXTURES, 'classes.txt');

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'lumen-import-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

async function rejection(run: Promise<unknown>): Promise<UserError> {
  const error = await run.then(
    () => null,
    (e: unknown) => e,
  );
  if (error instanceof UserError) return error;
  throw error ?? new Error('expected a UserError');
}

describe('importTorchvision', () => {
  it("writes a checkpoint: the builder's config with the overrides, COCO's classes for 91 outputs, the weights by Lumen's names", async () => {
    const out = join(work, 'v1');
    const before = tf.memory().numTensors;
    const imported = await importTorchvision({ file: V1.path, arch: V1.arch, out, overrides: V1.set });
    expect(tf.memory().numTensors).toBe(before);
    expect(imported).toMatchObject({ dir: out, arch: 'fasterrcnn_resnet50_fpn', layout: 'torchvision < 0.13', ignored: 0 });
    expect(imported.classes).toEqual(COCO_CLASSES);
    const checkpoint = loadCheckpoint(out);
    expect(checkpoint.config).toEqual(architectureConfig(V1.arch, V1.set));
    expect(checkpoint.meta).toMatchObject({ format: 'lumen-checkpoint', step: 0, classes: [...COCO_CLASSES] });
    expect(checkpoint.meta.classes.filter((c) => c === 'N/A')).toHaveLength(10);
    expect(checkpoint.optimizer).toBeNull();
    const weights = readSafetensors(new Uint8Array(readFileSync(join(out, WEIGHTS_FILE))));
    expect(Object.keys(weights)).toEqual(expect.arrayContaining(['backbone.conv1.kernel', 'fpn.inner_blocks.3.kernel', 'rpn.head.conv.kernel', 'roi_heads.box_predictor.cls_score.kernel']));
    expect(weights['roi_heads.box_predictor.cls_score.kernel'].shape).toEqual([32, 91]);
    expect(imported.params).toBe(Object.values(weights).reduce((n, t) => n + t.data.length, 0));
  });

  it('takes the class names from a text file, counting num_batches_tracked as ignored', async () => {
    const imported = await importTorchvision({ file: V2.path, arch: V2.arch, out: join(work, 'v2'), classes: CLASSES_FILE, overrides: V2.set });
    expect(imported.classes).toEqual(readFileSync(CLASSES_FILE, 'utf8').trim().split('\n'));
    expect(imported.layout).toBe('torchvision >= 0.13');
    expect(imported.ignored).toBeGreaterThan(0);
  });

  it('says a narrower model needs its sizes given with --set', async () => {
    const { message } = await rejection(importTorchvision({ file: V1.path, arch: V1.arch, out: join(work, 'x') }));
    expect(message).toMatch(/^\S+fasterrcnn_resnet50_fpn\.pth does not hold the model torchvision's fasterrcnn_resnet50_fpn builds: \d+ of another shape: backbone\.body\.conv1\.weight is \[8, 3, 7, 7\] in the file, \[64, 3, 7, 7\] in the model/);
    expect(message).toMatch(/Its names are those of this model but not all its shapes: a model of other sizes\? Give them with --set \(model\.backbone\.width, /);
  });

  it('names the architecture whose names the file has', async () => {
    // Before the classes: with the wrong model, their count says nothing.
    const { message } = await rejection(importTorchvision({ file: V2.path, arch: V1.arch, out: join(work, 'x'), overrides: V1.set }));
    expect(message).toMatch(/tensor\(s\) missing: .*unexpected: .*\. Its names are those of fasterrcnn_resnet50_fpn_v2: --arch fasterrcnn_resnet50_fpn_v2\?$/);
  });

  it('asks for class names when the classifier is not COCO-sized, and checks their count', async () => {
    const out = join(work, 'x');
    expect((await rejection(importTorchvision({ file: V2.path, arch: V2.arch, out, overrides: V2.set }))).message).toBe(
      `${V2.path}'s classifier has 6 outputs (background + 5 classes): name them with --classes FILE.txt (one name per line, in label order)`,
    );
    expect((await rejection(importTorchvision({ file: V2.path, arch: V2.arch, out, classes: 'coco', overrides: V2.set }))).message).toBe(
      `${V2.path}'s classifier has 6 outputs (background + 5 classes), but torchvision's COCO list has 90`,
    );
    expect((await rejection(importTorchvision({ file: V1.path, arch: V1.arch, out, classes: CLASSES_FILE, overrides: V1.set }))).message).toBe(
      `${V1.path}'s classifier has 91 outputs (background + 90 classes), but --classes ${CLASSES_FILE} lists 5`,
    );
  });

  it('names what is wrong with the arguments: the architecture, an existing --out, a file that is not a detector', async () => {
    const out = join(work, 'x');
    await expect(importTorchvision({ file: V1.path, arch: 'fasterrcnn_resnet18_fpn', out })).rejects.toThrow(/^unknown architecture 'fasterrcnn_resnet18_fpn': expected one of/);
    mkdirSync(out);
    await expect(importTorchvision({ file: V1.path, arch: V1.arch, out })).rejects.toThrow(`--out ${out} already exists: give a new folder for the checkpoint`);
    const fresh = join(work, 'y');
    await expect(importTorchvision({ file: join(work, 'none.pth'), arch: V1.arch, out: fresh })).rejects.toThrow(new RegExp(`^${join(work, 'none.pth')}: cannot read it: ENOENT`));
    await expect(importTorchvision({ file: CLASSES_FILE, arch: V1.arch, out: fresh })).rejects.toThrow(new RegExp(`^${CLASSES_FILE}: not a readable state dict: `));
    const backbone = join(__dirname, '..', '..', '..', 'backbone', 'src', 'fixtures', 'pth', 'state_dict.pth');
    await expect(importTorchvision({ file: backbone, arch: V1.arch, out: fresh })).rejects.toThrow(
      /state_dict\.pth is not a torchvision Faster R-CNN state dict: it has no roi_heads\.box_predictor\.cls_score\.weight \[classes \+ 1, hidden\] for 1 class or more \(\d+ tensors, first /,
    );
  });
});
