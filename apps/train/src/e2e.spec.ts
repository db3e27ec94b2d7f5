import { seededRandom } from '@lumen/core';
import { loadConfig } from '@lumen/config';
import {
  batchImages,
  buildDetector,
  createOptimizer,
  disposeOptimizer,
  disposeParams,
  initDetector,
  loadCheckpoint,
  LOSS_NAMES,
  trainingLosses,
  trainStep,
  type TrainingExample,
} from '@lumen/detector';
import { initBackend } from '@lumen/runtime';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runEvaluation } from './run-eval';
import { checkpointOf, QUIET, tinyOverrides } from './testing/tiny-run';
import { runTraining } from './train';

const CONFIG = resolve(__dirname, '../../../configs/digits-c4.yaml');
const CLASSES = ['square', 'bar'];

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => undefined });
});

/** Two small images with a bright square and a dark bar on noise: a batch that can be fitted. */
function fixedBatch(): TrainingExample[] {
  const random = seededRandom(11);
  const make = (w: number, h: number, square: number[], bar: number[]): TrainingExample => {
    const pixels = new Uint8Array(w * h * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = 90 + Math.floor(random() * 60);
    const paint = ([x1, y1, x2, y2]: number[], value: number) => {
      for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) pixels.fill(value, (y * w + x) * 3, (y * w + x) * 3 + 3);
    };
    paint(square, 250);
    paint(bar, 10);
    return { pixels, width: w, height: h, boxes: new Float32Array([...square, ...bar]), labels: new Int32Array([1, 2]) };
  };
  return [make(80, 64, [8, 8, 40, 40], [50, 10, 60, 58]), make(80, 64, [40, 24, 72, 56], [6, 4, 16, 50])];
}

function tinyConfig(backbone: string, head: string, extra: string[] = []) {
  const tail = head !== 'mlp';
  return loadConfig(CONFIG, {
    overrides: [
      `model.backbone.name=${backbone}`,
      `model.backbone.width=${backbone === 'mobilenet_v2' ? 0.25 : 0.125}`,
      `model.rcnn.head=${head}`,
      // C4 tails see 14x14 RoIs; VGG's fc6 was built for 7x7; MobileNet's tail is heavy on wasm.
      `model.roiPool.size=${tail && backbone.startsWith('resnet') ? 14 : 7}`,
      'model.rcnn.hidden=64',
      'model.anchors.sizes=[16,32]',
      'model.anchors.ratios=[0.5,1,2]',
      'model.rcnn.batchSizePerImage=16',
      'model.rpn.batchSizePerImage=64',
      // VGG has no batch norm: a smaller step keeps its first updates stable.
      `train.optimizer.lr=${backbone === 'vgg16' ? 0.0005 : 0.003}`,
      'train.schedule.type=constant',
      'train.schedule.warmupSteps=0',
      ...extra,
    ],
  }).config;
}

describe('every backbone and both head families train on a fixed batch', () => {
  const combos: Array<[string, string]> = [
    ['resnet18', 'mlp'],
    ['resnet18', 'resnet-tail'],
    ['resnet50', 'mlp'],
    ['resnet50', 'resnet-tail'],
    ['vgg16', 'mlp'],
    ['vgg16', 'vgg-fc'],
    ['mobilenet_v2', 'mlp'],
    ['mobilenet_v2', 'resnet-tail'],
  ];
  it.each(combos)('%s + %s: the loss on the batch falls, no tensor leaks', (backbone, head) => {
    const config = tinyConfig(backbone, head);
    const detector = buildDetector(config, CLASSES);
    const params = initDetector(detector, seededRandom(3));
    const optimizer = createOptimizer(config.train.optimizer, params);
    const batch = fixedBatch();
    // The loss under one fixed sampling of anchors and proposals, before and after training
    // (each step samples afresh, so step losses alone are noisy).
    const lossOnBatch = () =>
      tf.tidy(() => {
        const losses = trainingLosses(detector, params, batchImages(batch, config.model.transform), batch, seededRandom(5));
        return LOSS_NAMES.reduce((sum, name) => sum + losses[name].dataSync()[0], 0);
      });
    const before = lossOnBatch();
    let tensorsAfterFirst = 0;
    for (let step = 0; step < 8; step++) {
      const loss = trainStep(detector, params, optimizer, batch, config).loss;
      expect(Number.isFinite(loss)).toBe(true);
      if (step === 0) tensorsAfterFirst = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    const after = lossOnBatch();
    if (process.env.LUMEN_TEST_VERBOSE) console.log(backbone, head, before, after);
    expect(after).toBeLessThan(0.97 * before);
    disposeOptimizer(optimizer);
    disposeParams(params);
  });
});

describe('lumen train', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-train-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const overrides = () => tinyOverrides(join(dir, 'digits'));
  const quiet = QUIET;
  /** The last checkpoint of the first run. */
  let lastCheckpoint = '';

  it('resumes to the same parameters as an uninterrupted run', async () => {
    const straight = await runTraining({ ...quiet, config: CONFIG, overrides: [...overrides(), 'train.steps=4'], jobDir: join(dir, 'straight') });
    expect(straight.step).toBe(4);
    lastCheckpoint = checkpointOf(straight);
    const first = await runTraining({ ...quiet, config: CONFIG, overrides: [...overrides(), 'train.steps=2'], jobDir: join(dir, 'split') });
    expect(first.step).toBe(2);
    const resumed = await runTraining({ ...quiet, config: CONFIG, overrides: ['train.steps=4'], jobDir: join(dir, 'split'), resume: true });
    expect(resumed.step).toBe(4);
    const a = loadCheckpoint(checkpointOf(straight));
    const b = loadCheckpoint(checkpointOf(resumed));
    expect(Object.keys(b.weights).sort()).toEqual(Object.keys(a.weights).sort());
    for (const name of Object.keys(a.weights)) {
      expect({ name, values: Array.from(b.weights[name].data) }).toEqual({ name, values: Array.from(a.weights[name].data) });
    }
    expect(b.meta.step).toBe(4);
    // metrics.jsonl has a line per step and the final evaluation.
    const lines = readFileSync(join(dir, 'straight', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'train').map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(lines.some((l) => l.type === 'eval' && l.step === 4 && l.split === 'val')).toBe(true);
    // digits ends with the whole test and shift splits scored on the last checkpoint, as `lumen eval` would.
    expect(straight.finalEvaluations.map((e) => [e.split, e.images])).toEqual([
      ['test', 2],
      ['shift', 2],
    ]);
    const written = JSON.parse(readFileSync(join(checkpointOf(straight), 'eval-test.json'), 'utf8'));
    expect(written).toMatchObject({ split: 'test', images: 2, metric: 'voc', mAP: straight.finalEvaluations[0].map });
    const shift = JSON.parse(readFileSync(join(checkpointOf(straight), 'eval-shift.json'), 'utf8'));
    expect(shift).toMatchObject({ split: 'shift', images: 2, metric: 'voc', mAP: straight.finalEvaluations[1].map });
    expect(lines.filter((l) => l.type === 'eval' && l.final === true).map((l) => [l.split, l.step])).toEqual([
      ['test', 4],
      ['shift', 4],
    ]);
  });

  it('lumen eval --split takes any split the config names (digits: shift), printing its table; another is refused with the list', async () => {
    const checkpoint = lastCheckpoint;
    const printed: string[] = [];
    const logged: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => printed.push(String(chunk)) > 0);
    try {
      const result = await runEvaluation({ checkpoint, split: 'shift', log: (m) => logged.push(m) });
      expect(result).toMatchObject({ split: 'shift', images: 2, path: join(checkpoint, 'eval-shift.json') });
    } finally {
      write.mockRestore();
    }
    expect(printed.join('')).toMatch(/AP/);
    expect(logged.at(-1)).toMatch(/^voc mAP \S+ on 2 shift images; wrote .*eval-shift\.json$/);
    await expect(runEvaluation({ checkpoint, split: 'holdout', log: () => undefined })).rejects.toThrow(
      '--split holdout: the config names the splits train, val, test, shift (data.dataset.splits)',
    );
  });

  it('lumen eval --set takes the inference settings (detections per image, thresholds) but not the rest of the model', async () => {
    const checkpoint = lastCheckpoint;
    const quietly = async (overrides: string[]) => {
      const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        return await runEvaluation({ checkpoint, split: 'test', overrides, log: () => undefined });
      } finally {
        write.mockRestore();
      }
    };
    const detections = (result: { summary: { numDetections: Record<string, number> } }) => Object.values(result.summary.numDetections).reduce((a, b) => a + b, 0);
    const all = await quietly(['model.rcnn.scoreThresh=0']);
    expect(detections(all)).toBeGreaterThan(2);
    const one = await quietly(['model.rcnn.scoreThresh=0', 'model.rcnn.detectionsPerImage=1']);
    expect(detections(one)).toBe(2);
    await expect(quietly(['model.rcnn.hidden=64'])).rejects.toThrow(/--set model.rcnn.hidden=64: eval scores the checkpoint's own model; .*model.rcnn.detectionsPerImage/);
  });

  it('refuses a job dir with checkpoints unless resuming, and names what is missing', async () => {
    await expect(runTraining({ ...quiet, config: CONFIG, overrides: overrides(), jobDir: join(dir, 'straight') })).rejects.toThrow(/already holds checkpoints: pass --resume/);
    await expect(runTraining({ ...quiet, config: CONFIG, overrides: ['model.backbone.weights=/nowhere/r18.safetensors'], jobDir: join(dir, 'w') })).rejects.toThrow(
      /pretrained resnet18 weights at \/nowhere\/r18.safetensors, which do not exist/,
    );
    const voc = resolve(__dirname, '../../../configs/voc.yaml');
    await expect(runTraining({ ...quiet, config: voc, overrides: ['data.dataset.dir=/nowhere/VOC2007'], jobDir: join(dir, 'v') })).rejects.toThrow(/reads its dataset from \/nowhere\/VOC2007, which does not exist/);
  });
});
