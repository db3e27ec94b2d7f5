import { seededRandom } from '@lumen/core';
import { loadConfig, type Config } from '@lumen/config';
import { roiAlign } from '@lumen/roi-pool';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { saveCheckpoint } from './checkpoint';
import { detectBatch, trainingLosses } from './forward';
import { loadDetector } from './load';
import { buildDetector, initDetector, type Detector, type DetectorParams } from './model';
import { createOptimizer, disposeOptimizer } from './optimizer';
import { disposeParams, flattenParams } from './params';
import { registerTfjsGradients } from './testing/gradients';
import { trainStep } from './train-step';
import { batchImages } from './transform';

// Faster R-CNN with a feature pyramid (model.backbone.fpn), on tiny models: resnet18 at width
// 0.125 with an FPN over layer2..layer4 (maps 8x12, 4x6, 2x3 and the 1x2 'pool' map of a
// 64x96 input), and mobilenet_v3_large at width 0.25 with v2's parts (FPN with BatchNorm, two
// RPN convs, the conv-fc head) over its two stride-32 levels. Training runs on 64x32 images
// with torchvision's frozen leading stages and few RoIs: the cpu backend's filter gradient is
// a scalar loop, most of a step's time.
registerTfjsGradients();

const CONFIG = resolve(__dirname, '../../../configs/digits.yaml');
const TINY = [
  'model.backbone.width=0.125',
  'model.rcnn.hidden=16',
  'data.image.minSize=64',
  'data.image.maxSize=96',
  'model.rpn.batchSizePerImage=64',
  'model.rcnn.batchSizePerImage=32',
];
const RESNET_FPN = ['model.backbone.fpn={levels: [layer2, layer3, layer4], outChannels: 16}', 'model.anchors.sizes=[[16], [32], [64], [128]]', 'model.anchors.ratios=[0.5, 1, 2]'];
const MOBILENET_FPN = [
  'model.backbone.name=mobilenet_v3_large',
  'model.backbone.width=0.25',
  'model.backbone.bnEps=0.00001',
  "model.backbone.fpn={levels: ['features.13', 'features.16'], outChannels: 16, norm: batch}",
  'model.anchors.sizes=[16, 32, 64]',
  'model.anchors.ratios=[1]',
  'model.rpn.convDepth=2',
  'model.rcnn.head=conv-fc',
  'model.rcnn.convChannels=8',
];
const TRAIN = ['train.schedule.type=constant', 'train.schedule.warmupSteps=0', 'train.optimizer.lr=0.01'];
const TRAIN_RESNET = [...RESNET_FPN, ...TRAIN, 'model.backbone.freezeAt=2'];
const TRAIN_MOBILENET = [...MOBILENET_FPN, ...TRAIN, 'model.backbone.freezeAt=3', 'model.rcnn.batchSizePerImage=8', 'model.roiPool.size=4'];
const tiny = (...extra: string[]): Config => loadConfig(CONFIG, { overrides: [...TINY, ...extra] }).config;

/** Two images (`scale` 1: 96x64 and 80x64; 0.5: 48x32 and 40x32) with two boxes each, fixed by the seed. */
function examples(seed = 11, scale = 1) {
  const rng = seededRandom(seed);
  return [0, 1].map((i) => {
    const width = scale * (96 - 16 * i);
    const height = scale * 64;
    return {
      pixels: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rng() * 256)),
      width,
      height,
      boxes: Float32Array.from([4 + i, 6, 40, 50, 30, 10, 70 - 16 * i, 60].map((v) => scale * v)),
      labels: Int32Array.from([1, 2]),
    };
  });
}

function build(config: Config, seed = 1): { detector: Detector; params: DetectorParams } {
  const detector = buildDetector(config, ['a', 'b']);
  return { detector, params: initDetector(detector, seededRandom(seed)) };
}

describe('a detector with a feature pyramid', () => {
  it('runs the FPN over the named levels: maps, RPN outputs per level and their anchors, pooled RoIs', () => {
    const { detector, params } = build(tiny(...RESNET_FPN));
    const batch = batchImages(examples(), detector.config.model.transform);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const maps = detector.features(params, batch.images, { training: false });
      expect(maps.map((m) => m.shape)).toEqual([
        [2, 8, 12, 16],
        [2, 4, 6, 16],
        [2, 2, 3, 16],
        [2, 1, 2, 16],
      ]);
      const rpn = detector.rpn(params, maps, [64, 96]);
      expect(rpn.objectness.map((o) => o.shape)).toEqual(maps.map(({ shape: [n, h, w] }) => [n, h, w, 3]));
      expect(rpn.deltas.map((d) => d.shape)).toEqual(maps.map(({ shape: [n, h, w] }) => [n, h, w, 12]));
      expect(rpn.anchors.length).toBe(4 * 3 * (96 + 24 + 6 + 2));
      // The 'pool' map's anchors: size 16·2^3 = 128, ratio 1 is [-64, -64, 64, 64] around (0, 0),
      // then the next cell at torchvision's stride 96 // 2 = 48 (64 // 1 = 64 down).
      const pool = rpn.anchors.subarray(4 * 3 * (96 + 24 + 6));
      expect(Array.from(pool.subarray(4, 8))).toEqual([-64, -64, 64, 64]);
      expect(Array.from(pool.subarray(16, 20))).toEqual([-16, -64, 112, 64]);
      // A box goes to level floor(4 + log2(side / 224)) of strides 8, 16, 32 (never 'pool'):
      // 90x60 to the first map, 240x240 to the second, 480x480 to the third.
      const boxes = [tf.tensor2d([[0, 0, 90, 60], [0, 0, 240, 240]]), tf.tensor2d([[8, 8, 488, 488]])];
      const pooled = detector.pool(maps, boxes);
      expect(pooled.shape).toEqual([3, 7, 7, 16]);
      const alone = (map: number, image: number, box: number[]) => roiAlign(maps[map], tf.tensor2d([box]), tf.tensor1d([image], 'int32'), [7, 7], 1 / 2 ** (3 + map), 2, false);
      const expected = tf.concat([alone(0, 0, [0, 0, 90, 60]), alone(1, 0, [0, 0, 240, 240]), alone(2, 1, [8, 8, 488, 488])]);
      expect(tf.max(tf.abs(tf.sub(pooled, expected))).dataSync()[0]).toBe(0);
      expect(tf.max(tf.abs(expected)).dataSync()[0]).toBeGreaterThan(0);
      expect(detector.boxFeatures(params, pooled, { training: false }).shape).toEqual([3, 16]);
    });
    expect(tf.memory().numTensors).toBe(before);
    batch.images.dispose();
    disposeParams(params);
  });

  it("names its params by torchvision's module paths: fpn.*, rpn.head.*, roi_heads.* (v2's parts too)", () => {
    const { params } = build(tiny(...RESNET_FPN));
    const names = flattenParams(params).map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining(['backbone.layer4.1.conv2.kernel', 'fpn.inner_blocks.0.kernel', 'fpn.layer_blocks.2.bias', 'rpn.head.conv.kernel', 'roi_heads.box_head.fc6.kernel']));
    // Every backbone param: the trunk runs to layer4. Order: backbone, fpn, rpn, roi_heads.
    const groups = [...new Set(names.map((n) => n.split('.')[0]))];
    expect(groups).toEqual(['backbone', 'fpn', 'rpn', 'roi_heads']);
    disposeParams(params);

    const v2 = build(tiny(...MOBILENET_FPN)).params;
    const v2Names = flattenParams(v2).map(([n]) => n);
    expect(v2Names).toEqual(
      expect.arrayContaining(['backbone.features.16.0.kernel', 'fpn.inner_blocks.1.bn.running_var', 'rpn.head.conv.1.kernel', 'roi_heads.box_head.conv4.bn.weight', 'roi_heads.box_head.fc.kernel']),
    );
    disposeParams(v2);
  });

  it('draws its initial values from the seed alone', () => {
    const a = build(tiny(...RESNET_FPN), 5).params;
    const b = build(tiny(...RESNET_FPN), 5).params;
    const c = build(tiny(...RESNET_FPN), 6).params;
    const values = (p: DetectorParams) => flattenParams(p).map(([, v]) => Array.from(v.dataSync()));
    expect(values(a)).toEqual(values(b));
    expect(values(a)).not.toEqual(values(c));
    [a, b, c].forEach(disposeParams);
  });

  it.each([
    ['resnet18 + FPN', TRAIN_RESNET],
    ['mobilenet_v3_large + FPN (BN), convDepth 2, conv-fc', TRAIN_MOBILENET],
  ])('%s: training steps on a fixed batch lower the loss and leak no tensor', (_, overrides) => {
    const config = tiny(...overrides);
    const { detector, params } = build(config);
    const optimizer = createOptimizer(config.train.optimizer, params);
    const batch = examples(11, 0.5);
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    for (let step = 0; step < 4; step++) {
      losses.push(trainStep(detector, params, optimizer, batch).loss);
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[3]).toBeLessThan(0.95 * losses[0]);
    disposeOptimizer(optimizer);
    disposeParams(params);
  });

  it("updates the FPN's and the conv-fc head's batch-norm statistics, and puts them back when a step fails", () => {
    const config = tiny(...TRAIN_MOBILENET);
    const { detector, params } = build(config);
    const optimizer = createOptimizer(config.train.optimizer, params);
    const stat = (name: string) => (flattenParams(params).find(([n]) => n === name) as [string, tf.Variable])[1];
    const statistics = [stat('fpn.layer_blocks.0.bn.running_mean'), stat('roi_heads.box_head.conv1.bn.running_var')];
    const values = () => statistics.map((v) => Array.from(v.dataSync()));
    const initial = values();
    trainStep(detector, params, optimizer, examples(11, 0.5));
    const trained = values();
    trained.forEach((v, i) => expect(v).not.toEqual(initial[i]));
    const before = tf.memory().numTensors;
    const bad = examples(11, 0.5).map((e, i) => (i === 1 ? { ...e, labels: Int32Array.from([1, 9]) } : e));
    expect(() => trainStep(detector, params, optimizer, bad)).toThrow(/class ids in \[0, 2\]/);
    expect(values()).toEqual(trained);
    expect(tf.memory().numTensors).toBe(before);
    disposeOptimizer(optimizer);
    disposeParams(params);
  });

  it('differentiates every trainable param the losses reach: backbone, FPN, RPN and heads', () => {
    const { detector, params } = build(tiny(...TRAIN_RESNET));
    const images = examples(11, 0.5);
    const batch = batchImages(images, detector.config.model.transform);
    const trainable = flattenParams(params).filter(([, v]) => v.trainable);
    expect(trainable.some(([n]) => n.startsWith('backbone.layer1'))).toBe(false);
    const { value, grads } = tf.variableGrads(() => {
      const l = trainingLosses(detector, params, batch, images, seededRandom(3));
      return tf.addN(Object.values(l)) as tf.Scalar;
    });
    const byName = new Map(trainable.map(([n, v]) => [n, grads[v.name]]));
    for (const name of ['backbone.layer2.0.conv1.kernel', 'fpn.inner_blocks.2.kernel', 'fpn.layer_blocks.0.kernel', 'rpn.head.bbox_pred.kernel', 'roi_heads.box_head.fc6.kernel']) {
      expect(byName.get(name)).toBeDefined();
      expect(tf.tidy(() => tf.max(tf.abs(byName.get(name) as tf.Tensor)).dataSync()[0])).toBeGreaterThan(0);
    }
    tf.dispose([value, ...Object.values(grads), batch.images]);
    disposeParams(params);
  });
});

describe('a feature-pyramid checkpoint', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-fpn-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['resnet18 + FPN', RESNET_FPN],
    ['mobilenet_v3_large + FPN (BN), conv-fc', MOBILENET_FPN],
  ])('%s: loadDetector restores it and detects as the params it was saved from', async (_, overrides) => {
    const config = tiny(...overrides, 'model.rpn.scoreThresh=0', 'model.rcnn.scoreThresh=0');
    const { detector, params } = build(config, 4);
    await saveCheckpoint(join(dir, 'ckpt'), { params, config, classes: ['a', 'b'], step: 3 });
    const images = examples(21).map(({ pixels, width, height }) => ({ pixels, width, height, originalWidth: 2 * width, originalHeight: 2 * height }));
    const batch = batchImages(images, config.model.transform);
    const expected = await detectBatch(detector, params, batch, images);
    batch.images.dispose();
    disposeParams(params);

    const before = tf.memory().numTensors;
    const loaded = loadDetector(join(dir, 'ckpt'));
    expect(loaded.detector.pyramid?.levels.map((l) => l.name)).toEqual(config.model.backbone.fpn?.levels);
    const found = await loaded.detect(images);
    expect(found).toEqual(expected);
    expect(found[0].boxes.length).toBeGreaterThan(0);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
