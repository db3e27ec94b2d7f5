import { seededRandom, UserError } from '@lumen/core';
import { loadConfig } from '@lumen/config';
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from './checkpoint';
import { sha256OfFile } from './checkpoint-integrity';
import { buildDetector, initDetector } from './model';
import { createOptimizer, disposeOptimizer, optimizerSlots } from './optimizer';
import { disposeParams, flattenParams } from './params';
import { loadDetector } from './load';
import { batchImages } from './transform';

const CONFIG = resolve(__dirname, '../../../configs/digits-c4.yaml');
const tiny = (...extra: string[]) =>
  loadConfig(CONFIG, { overrides: ['model.backbone.width=0.125', 'model.rcnn.hidden=16', 'data.image.minSize=64', 'data.image.maxSize=96', ...extra] }).config;

describe('batchImages', () => {
  it('normalises with mean/std and pads bottom/right with zeros to a multiple of sizeDivisible', () => {
    const transform = { mean: [0.5, 0.25, 0] as [number, number, number], std: [0.5, 0.25, 1] as [number, number, number], sizeDivisible: 32, localContrast: null };
    const a = { pixels: new Uint8Array(3 * 2 * 3).fill(255), width: 3, height: 2 };
    const b = { pixels: new Uint8Array(40 * 33 * 3), width: 40, height: 33 };
    const { images, sizes } = batchImages([a, b], transform);
    expect(images.shape).toEqual([2, 64, 64, 3]);
    expect(sizes).toEqual([[2, 3], [33, 40]]);
    const v = images.arraySync();
    expect(v[0][0][0]).toEqual([1, 3, 1]);
    expect(v[0][1][2][1]).toBeCloseTo(3, 6);
    expect(v[0][2][0]).toEqual([0, 0, 0]); // padding
    expect(v[0][0][3]).toEqual([0, 0, 0]);
    expect(v[1][0][0]).toEqual([-1, -1, 0]); // a black pixel
    images.dispose();
  });

  it('rejects pixels that do not match the size', () => {
    expect(() => batchImages([{ pixels: new Uint8Array(5), width: 2, height: 2 }], tiny().model.transform)).toThrow(/image 0 has 5 bytes, but 2x2 RGB needs 12/);
  });
});

describe('buildDetector', () => {
  it('names the config key of a bad combination', () => {
    // The schema rejects the name in a config file; a config object built in code meets the registry.
    const config = tiny();
    const unknown = { ...config, model: { ...config.model, backbone: { ...config.model.backbone, name: 'resnet7' } } } as unknown as typeof config;
    expect(() => buildDetector(unknown, ['a'])).toThrow(/model\.backbone\.name: unknown backbone 'resnet7': expected one of .*resnet18/);
    expect(() => buildDetector(tiny('model.rcnn.head=vgg-fc'), ['a'])).toThrow(/model\.rcnn\.head: 'vgg-fc' is VGG's fc6\/fc7 and needs a VGG backbone/);
    expect(() => buildDetector(tiny('model.backbone.name=vgg16', 'model.rcnn.head=vgg-fc', 'model.roiPool.size=14'), ['a'])).toThrow(/model\.roiPool\.size: VGG's fc6 takes 7x7 RoIs/);
  });

  it("uses torchvision's module paths and drops the unused tail with the mlp head", () => {
    const detector = buildDetector(tiny(), ['a', 'b']);
    const params = initDetector(detector, seededRandom(1));
    const names = flattenParams(params).map(([n]) => n);
    expect(names).toContain('backbone.layer3.1.conv2.kernel');
    expect(names).toContain('rpn.head.conv.kernel');
    expect(names).toContain('roi_heads.box_head.fc6.kernel');
    expect(names).toContain('roi_heads.box_predictor.cls_score.kernel');
    expect(names.some((n) => n.startsWith('backbone.layer4'))).toBe(false);
    const tail = initDetector(buildDetector(tiny('model.rcnn.head=resnet-tail', 'model.roiPool.size=14'), ['a', 'b']), seededRandom(1));
    expect(flattenParams(tail).some(([n]) => n.startsWith('backbone.layer4'))).toBe(true);
    disposeParams(params);
    disposeParams(tail);
  });
});

describe('checkpoints', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumen-ckpt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trip params, optimizer slots, config and meta; loadDetector restores the weights', async () => {
    const config = tiny();
    const detector = buildDetector(config, ['cat', 'dog']);
    const params = initDetector(detector, seededRandom(7));
    const optimizer = createOptimizer(config.train.optimizer, params);
    const before = tf.memory().numTensors;
    await saveCheckpoint(join(dir, 'ckpt'), { params, config, classes: ['cat', 'dog'], step: 12, optimizer, metrics: { mAP: 0.5 }, resume: { epoch: 1, offset: 4, optimizerStep: 12 } });
    expect(tf.memory().numTensors).toBe(before);
    const loaded = loadCheckpoint(join(dir, 'ckpt'));
    expect(loaded.config).toEqual(config);
    expect(loaded.meta).toMatchObject({ format: 'lumen-checkpoint', classes: ['cat', 'dog'], step: 12, metrics: { mAP: 0.5 }, resume: { epoch: 1, offset: 4, optimizerStep: 12 } });
    for (const [name, v] of flattenParams(params)) expect(Array.from(loaded.weights[name].data)).toEqual(Array.from(v.dataSync()));
    expect(Object.keys(loaded.optimizer ?? {}).sort()).toEqual(optimizerSlots(optimizer).map(([n]) => n).sort());

    const restored = loadDetector(join(dir, 'ckpt'));
    expect(restored.classes).toEqual(['cat', 'dog']);
    expect(restored.imageSize).toEqual({ minSize: 64, maxSize: 96, resize: 'sharp' });
    const [name, original] = flattenParams(params)[5];
    expect(Array.from((flattenParams(restored.params).find(([n]) => n === name) as [string, tf.Variable])[1].dataSync())).toEqual(Array.from(original.dataSync()));
    const random = seededRandom(3);
    const image = { pixels: Uint8Array.from({ length: 64 * 80 * 3 }, () => Math.floor(random() * 256)), width: 80, height: 64, scale: 0.5, originalWidth: 160, originalHeight: 128 };
    const [found] = await restored.detect([image]);
    for (const box of found.boxes) {
      expect(box[0]).toBeGreaterThanOrEqual(0);
      expect(box[2]).toBeLessThanOrEqual(160);
      expect(box[3]).toBeLessThanOrEqual(128);
    }
    expect(found.labels.every((l) => l >= 1 && l <= 2)).toBe(true);
    restored.dispose();
    disposeOptimizer(optimizer);
    disposeParams(params);
  });

  it('name the file that is missing or wrong', () => {
    expect(() => loadCheckpoint(join(dir, 'nothing'))).toThrow(/does not exist/);
    writeFileSync(join(dir, 'meta.json'), '{}');
    expect(() => loadCheckpoint(dir)).toThrow(/not a Lumen checkpoint: weights.safetensors is missing/);
  });

  it('name the damaged file and what is wrong with it; prediction never reads the optimizer state', async () => {
    const config = tiny();
    const params = initDetector(buildDetector(config, ['x']), seededRandom(1));
    const optimizer = createOptimizer(config.train.optimizer, params);
    const ckpt = join(dir, 'checkpoint-0000002');
    await saveCheckpoint(ckpt, { params, config, classes: ['x'], step: 2, optimizer });
    disposeOptimizer(optimizer);
    disposeParams(params);
    const before = tf.memory().numTensors;

    writeFileSync(join(ckpt, 'optimizer.safetensors'), 'damaged');
    expect(() => loadCheckpoint(ckpt)).toThrow(new RegExp(`^${join(ckpt, 'optimizer.safetensors')}: .*not a safetensors file`));
    expect(loadCheckpoint(ckpt, { optimizer: false }).optimizer).toBeNull();
    loadDetector(ckpt).dispose();

    const weights = readFileSync(join(ckpt, 'weights.safetensors'));
    writeFileSync(join(ckpt, 'weights.safetensors'), weights.subarray(0, weights.length - 100));
    expect(() => loadDetector(ckpt)).toThrow(new RegExp(`^${join(ckpt, 'weights.safetensors')}: .*truncated`));
    expect(() => loadDetector(ckpt)).toThrow(UserError);

    writeFileSync(join(ckpt, 'meta.json'), '{"format": "lumen-checkpoint", "classes": [], "step": 2}');
    expect(() => loadCheckpoint(ckpt)).toThrow(`${join(ckpt, 'meta.json')}: 'classes' must be a non-empty list of class names`);
    writeFileSync(join(ckpt, 'meta.json'), '{"format": ');
    expect(() => loadCheckpoint(ckpt)).toThrow(new RegExp(`^${join(ckpt, 'meta.json')}: not valid JSON`));
    expect(() => loadCheckpoint(join(ckpt, 'meta.json'))).toThrow(/is a file: give the checkpoint folder/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("record the weights' sha256 in meta.json and check it at load: one flipped byte is named; checkpoints without it still load", async () => {
    const config = tiny();
    const params = initDetector(buildDetector(config, ['x']), seededRandom(1));
    const ckpt = join(dir, 'checkpoint-0000003');
    await saveCheckpoint(ckpt, { params, config, classes: ['x'], step: 3 });
    disposeParams(params);
    const weightsPath = join(ckpt, 'weights.safetensors');
    const weights = readFileSync(weightsPath);
    const meta = JSON.parse(readFileSync(join(ckpt, 'meta.json'), 'utf8'));
    expect(meta.weightsSha256).toBe(createHash('sha256').update(weights).digest('hex'));
    expect(await sha256OfFile(weightsPath)).toBe(meta.weightsSha256);
    expect(readCheckpointMeta(ckpt)).toEqual(meta);
    const before = tf.memory().numTensors;

    // The last byte is tensor data: the file still parses, only the hash tells.
    const flipped = Buffer.from(weights);
    flipped[flipped.length - 1] ^= 0x01;
    writeFileSync(weightsPath, flipped);
    const mismatch = `${weightsPath} does not match the sha256 in meta.json: the file is damaged or was changed; copy the checkpoint again from its source`;
    expect(() => loadCheckpoint(ckpt)).toThrow(mismatch);
    expect(() => loadDetector(ckpt)).toThrow(UserError);
    expect(() => loadDetector(ckpt)).toThrow(mismatch);

    // Written before the hash was recorded: loads as it is.
    const { weightsSha256: _recorded, ...older } = meta;
    writeFileSync(join(ckpt, 'meta.json'), JSON.stringify(older));
    expect(loadCheckpoint(ckpt).meta.weightsSha256).toBeUndefined();
    writeFileSync(join(ckpt, 'meta.json'), JSON.stringify({ ...meta, weightsSha256: 'abc' }));
    expect(() => loadCheckpoint(ckpt)).toThrow(`${join(ckpt, 'meta.json')}: 'weightsSha256' must be 64 lowercase hex digits, but got "abc"`);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a save that cannot be written is an error naming the folder, and leaves no partial folder', async () => {
    const config = tiny();
    const params = initDetector(buildDetector(config, ['x']), seededRandom(1));
    writeFileSync(join(dir, 'a-file'), '');
    const target = join(dir, 'a-file', 'checkpoint-0000001');
    await expect(saveCheckpoint(target, { params, config, classes: ['x'], step: 1 })).rejects.toThrow(
      new RegExp(`^cannot write checkpoint ${target}: ENOTDIR.*; the earlier checkpoints are intact$`),
    );
    expect(readdirSync(dir)).toEqual(['a-file']);
    disposeParams(params);
  });

  it('reject weights of another model, naming the tensor', async () => {
    const a = tiny();
    const params = initDetector(buildDetector(a, ['x']), seededRandom(1));
    await saveCheckpoint(join(dir, 'a'), { params, config: a, classes: ['x'], step: 0 });
    // A checkpoint whose config says two classes but whose weights are for one.
    const meta = JSON.parse(readFileSync(join(dir, 'a', 'meta.json'), 'utf8'));
    writeFileSync(join(dir, 'a', 'meta.json'), JSON.stringify({ ...meta, classes: ['x', 'y'] }));
    const before = tf.memory().numTensors;
    expect(() => loadDetector(join(dir, 'a'))).toThrow(/roi_heads\.box_predictor\.cls_score\.(kernel|bias)' has shape/);
    expect(tf.memory().numTensors).toBe(before);
    disposeParams(params);
  });
});
