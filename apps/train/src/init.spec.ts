import { loadConfig } from '@lumen/config';
import { seededRandom } from '@lumen/core';
import { ensureDigits } from '@lumen/data';
import { buildDetector, disposeParams, flattenParams, initDetector, loadCheckpoint } from '@lumen/detector';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCheckpointImport } from './checkpoint-import';
import { assignInitWeights, readInitCheckpoint } from './init-from';
import { checkpointOf, DIGITS_CONFIG, readMetrics } from './testing/tiny-run';
import { runTraining } from './train';

// `lumen train --init`: fine-tuning a torchvision model imported by `lumen checkpoint import`
// (the narrow fasterrcnn_mobilenet_v3_large_320_fpn fixture, 5 classes) on two digit classes.

const FIXTURES = resolve(__dirname, '../../../libs/detector/src/fixtures/torchvision-detectors');
const ARCH = 'fasterrcnn_mobilenet_v3_large_320_fpn';
const PREDICTOR = ['cls_score.kernel', 'cls_score.bias', 'bbox_pred.kernel', 'bbox_pred.bias'].map((n) => `roi_heads.box_predictor.${n}`);

/** Imports the narrow torchvision fixture of `arch` into `out`, with its class list. */
async function importFixture(arch: string, out: string): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { cases: Array<{ arch: string; file: string; classes: string; set: string[] }> };
  const fixture = manifest.cases.find((c) => c.arch === arch);
  if (!fixture) throw new Error(`no ${arch} fixture`);
  await runCheckpointImport({ file: join(FIXTURES, fixture.file), arch, out, classes: fixture.classes === 'coco' ? 'coco' : join(FIXTURES, fixture.classes), overrides: fixture.set });
}

let work: string;
let imported: string;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lumen-init-'));
  imported = join(work, 'imported');
  await importFixture(ARCH, imported);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Data and training settings only: the model is the checkpoint's (two sampling sizes set on top). */
const overrides = () => [
  `data.dataset.dir=${join(work, 'digits')}`,
  'data.dataset.digits.train=8',
  'data.dataset.digits.val=2',
  'data.dataset.digits.test=2',
  'data.dataset.digits.shift=0',
  "data.dataset.classes=['1', '7']",
  'data.image.minSize=96',
  'data.image.maxSize=128',
  // Without digits.yaml's augmentations the 8 images repeat as they are, so the loss falls for a
  // reason the test controls (learning from the imported weights), not by the draws of 16 steps.
  ...['scaleJitter', 'photometric', 'rotate', 'grayscale', 'channelShuffle', 'invert', 'blur', 'noise', 'jpeg'].map((key) => `data.augment.${key}.prob=0`),
  'model.rpn.batchSizePerImage=32',
  'model.rcnn.batchSizePerImage=16',
  'train.steps=16',
  'train.optimizer.lr=0.001',
  'train.schedule.type=constant',
  'train.schedule.warmupSteps=0',
  'train.checkpointEvery=100',
  'train.evalEvery=0',
  'train.logEvery=1',
  'eval.maxImages=2',
  'eval.finalSplits=[]',
];

describe('lumen train --init', () => {
  it("starts from an imported torchvision model: its weights and settings, a new box predictor for the dataset's classes; the loss falls", async () => {
    const lines: string[] = [];
    const result = await runTraining({ config: DIGITS_CONFIG, overrides: overrides(), init: imported, jobDir: join(work, 'job'), log: (m) => lines.push(m), plain: true });
    expect(lines).toContain(`initialised from ${imported}; the dataset's 2 classes are not its 5, so roi_heads.box_predictor starts afresh`);
    const before = loadCheckpoint(imported);
    const after = loadCheckpoint(checkpointOf(result));
    expect(after.meta.classes).toEqual(['1', '7']);
    // The checkpoint's model, the run's --set on top; image sizes from --set, resize still torchvision's.
    expect(after.config.model).toEqual({ ...before.config.model, init: imported, rpn: { ...before.config.model.rpn, batchSizePerImage: 32 }, rcnn: { ...before.config.model.rcnn, batchSizePerImage: 16 } });
    expect(after.config.data.image).toEqual({ minSize: 96, maxSize: 128, resize: 'torchvision' });
    // Every tensor kept its shape but the predictor's (3 outputs: background + 2 classes).
    expect(Object.keys(after.weights).sort()).toEqual(Object.keys(before.weights).sort());
    const reshaped = Object.keys(after.weights).filter((n) => after.weights[n].shape.join() !== before.weights[n].shape.join());
    expect(reshaped.sort()).toEqual([...PREDICTOR].sort());
    expect(after.weights['roi_heads.box_predictor.cls_score.kernel'].shape).toEqual([32, 3]);
    // The frozen stem (freezeAt 3) is the imported one, value for value: the weights were loaded.
    for (const name of ['backbone.features.0.0.kernel', 'backbone.features.1.block.0.0.kernel']) {
      expect(Array.from(after.weights[name].data)).toEqual(Array.from(before.weights[name].data));
    }
    // The new predictor learns the two classes; the total loss falls too (spiky: the RPN's objectness is the random model's).
    const train = readMetrics(result.jobDir).filter((r) => r.type === 'train');
    expect(train).toHaveLength(16);
    const mean = (key: string, records: typeof train) => records.reduce((sum, r) => sum + (r[key] as number), 0) / records.length;
    expect(mean('loss_classifier', train.slice(-4))).toBeLessThan(0.8 * mean('loss_classifier', train.slice(0, 4)));
    expect(mean('loss', train.slice(-4))).toBeLessThan(mean('loss', train.slice(0, 4)));
  });

  it('model.init in a config starts a run as --init does; a missing checkpoint is named with the key', async () => {
    const lines: string[] = [];
    const steps = overrides().map((o) => (o.startsWith('train.steps=') ? 'train.steps=1' : o));
    const result = await runTraining({ config: DIGITS_CONFIG, overrides: [...steps, `model.init=${imported}`], jobDir: join(work, 'by-config'), log: (m) => lines.push(m), plain: true });
    expect(lines).toContain(`initialised from ${imported}; the dataset's 2 classes are not its 5, so roi_heads.box_predictor starts afresh`);
    const after = loadCheckpoint(checkpointOf(result));
    expect(after.config.model.init).toBe(imported);
    expect(after.config.model.backbone.name).toBe('mobilenet_v3_large');
    const missing = join(work, 'no-such-checkpoint');
    await expect(runTraining({ config: DIGITS_CONFIG, overrides: [...steps, `model.init=${missing}`], jobDir: join(work, 'missing'), log: () => undefined, plain: true })).rejects.toThrow(
      new RegExp(`^model\\.init: .*${missing}`),
    );
  });

  it('configs/voc-fpn.yaml fine-tunes an imported fasterrcnn_resnet50_fpn on a VOC-layout dataset', async () => {
    const r50 = join(work, 'r50-fpn');
    await importFixture('fasterrcnn_resnet50_fpn', r50);
    // Digits are written in VOC's layout; one step at a small size.
    const data = ['data.dataset.dir', 'data.dataset.classes', 'data.image.minSize', 'data.image.maxSize', 'eval.', 'train.checkpointEvery', 'train.logEvery', 'model.'];
    const set = [
      ...overrides().filter((o) => data.some((key) => o.startsWith(key))),
      'data.dataset.splits={train: train, val: val, test: test}',
      'train.steps=1',
      'train.schedule.warmupSteps=0',
      `model.init=${r50}`,
    ];
    await ensureDigits(loadConfig(DIGITS_CONFIG, { overrides: overrides() }).config.data);
    const lines: string[] = [];
    const result = await runTraining({ config: 'voc-fpn', overrides: set, jobDir: join(work, 'voc-fpn'), log: (m) => lines.push(m), plain: true });
    expect(lines).toContain(`initialised from ${r50}; the dataset's 2 classes are not its 90, so roi_heads.box_predictor starts afresh`);
    const after = loadCheckpoint(checkpointOf(result));
    expect(after.config.model.backbone.fpn?.levels).toEqual(['layer1', 'layer2', 'layer3', 'layer4']);
    expect(after.config.model.backbone.freezeAt).toBe(2);
    expect(after.config.data.dataset.type).toBe('voc');
    expect(after.config.eval.metric).toBe('voc07');
  });

  it("takes every tensor, the predictor's too, when the classes are the checkpoint's", () => {
    const checkpoint = readInitCheckpoint(imported);
    const detector = buildDetector(checkpoint.config, checkpoint.meta.classes);
    const params = initDetector(detector, seededRandom(1));
    try {
      expect(assignInitWeights(checkpoint, params, checkpoint.meta.classes)).toEqual([]);
      const kernel = new Map(flattenParams(params)).get(PREDICTOR[0]);
      expect(Array.from(kernel?.dataSync() ?? [])).toEqual(Array.from(checkpoint.weights[PREDICTOR[0]].data));
      // Other classes: the predictor keeps its fresh values, the rest is the checkpoint's.
      const other = initDetector(buildDetector(checkpoint.config, ['a', 'b']), seededRandom(1));
      expect(assignInitWeights(checkpoint, other, ['a', 'b']).sort()).toEqual([...PREDICTOR].sort());
      disposeParams(other);
    } finally {
      disposeParams(params);
    }
  });

  it('names what does not fit: --init with --resume, a checkpoint with a tensor the model lacks', async () => {
    await expect(runTraining({ config: DIGITS_CONFIG, overrides: overrides(), init: imported, jobDir: join(work, 'both'), resume: true, log: () => undefined, plain: true })).rejects.toThrow(
      '--init starts a new run from a checkpoint, --resume continues one: give one of them',
    );
    const checkpoint = readInitCheckpoint(imported);
    checkpoint.weights['roi_heads.mask_head.kernel'] = { dtype: 'float32', shape: [1], data: new Float32Array(1) };
    const params = initDetector(buildDetector(checkpoint.config, ['a']), seededRandom(1));
    try {
      expect(() => assignInitWeights(checkpoint, params, ['a'])).toThrow(`${join(imported, 'weights.safetensors')}: 1 tensor(s) the model does not have: roi_heads.mask_head.kernel`);
    } finally {
      disposeParams(params);
    }
  });
});
