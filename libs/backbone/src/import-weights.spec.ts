import { disposeParams, flattenParams } from '@lumen/core';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  backboneOptionsOf,
  exportWeights,
  fromTorchLayout,
  getBackbone,
  importWeights,
  importWeightsSync,
  readSafetensors,
  writeSafetensors,
  type ParamSpec,
  type SafeTensor,
} from './index';
import { findCase, readBytes } from './testing/fixtures';

const c = findCase('resnet18_w1_16');
const bb = getBackbone('resnet18');
const width = c.width;

function notices(): { list: string[]; onNotice: (m: string) => void } {
  const list: string[] = [];
  return { list, onNotice: (m) => list.push(m) };
}

function without(tensors: Record<string, SafeTensor>, ...names: string[]): Record<string, SafeTensor> {
  return Object.fromEntries(Object.entries(tensors).filter(([n]) => !names.includes(n)));
}

let before: number;
beforeEach(() => (before = tf.memory().numTensors));
afterEach(() => expect(tf.memory().numTensors).toBe(before));

describe('importWeights', () => {
  it('converts a torchvision state dict and lists what it does not use in one notice', () => {
    const n = notices();
    const params = importWeightsSync(bb, readBytes(c.weights), { width, onNotice: n.onNotice });
    expect(n.list).toEqual(['importWeights: resnet18 does not use 22 tensor(s) of the file: fc.bias, fc.weight; and 20 BatchNorm num_batches_tracked counter(s).']);
    const file = readSafetensors(readBytes(c.weights));
    const flat = Object.fromEntries(flattenParams(params));
    // OIHW -> HWIO: kernel[y, x, i, o] = weight[o, i, y, x].
    const w = file['layer2.0.conv1.weight'];
    const [o, i, kh, kw] = w.shape;
    const k = flat['layer2.0.conv1.kernel'].arraySync() as number[][][][];
    expect(k[1][2][i - 1][o - 1]).toBe((w.data as Float32Array)[(((o - 1) * i + (i - 1)) * kh + 1) * kw + 2]);
    expect(Array.from(flat['bn1.running_var'].dataSync())).toEqual(Array.from(file['bn1.running_var'].data as Float32Array));
    disposeParams(params);
  });

  it('sets trainable from the options and attaches them', () => {
    const params = importWeightsSync(bb, readBytes(c.weights), { width, batchNorm: 'trainable', freezeAt: 2, tailStride: 1, onNotice: () => undefined });
    const flat = Object.fromEntries(flattenParams(params));
    expect(flat['layer1.0.conv1.kernel'].trainable).toBe(false);
    expect(flat['layer1.0.bn1.weight'].trainable).toBe(false);
    expect(flat['layer2.0.bn1.weight'].trainable).toBe(true);
    expect(flat['layer2.0.bn1.running_mean'].trainable).toBe(false);
    expect(backboneOptionsOf(params)).toEqual({ batchNorm: 'trainable', freezeAt: 2, tailStride: 1, width, dropout: 0 });
    disposeParams(params);
  });

  it('names a missing tensor, in both namings', () => {
    const file = without(readSafetensors(readBytes(c.weights)), 'layer3.1.conv2.weight', 'layer3.1.bn2.running_var');
    expect(() => importWeightsSync(bb, file, { width })).toThrow(
      "Error in importWeights: the file lacks 2 tensor(s) resnet18 needs: 'layer3.1.conv2.weight' (torchvision [16,16,3,3]; or Lumen's 'layer3.1.conv2.kernel' [3,3,16,16]), 'layer3.1.bn2.running_var' [16].",
    );
  });

  it('names a wrongly shaped tensor and points at the width', () => {
    expect(() => importWeightsSync(bb, readBytes(c.weights), { width: 0.25 })).toThrow(
      "Error in importWeights: 'conv1.weight' has shape [8,3,7,7], but resnet18 needs [16,3,7,7]: the file's widths must match the options (resnet18, width 0.25).",
    );
    const file = readSafetensors(readBytes(c.weights));
    file['layer1.0.bn1.bias'] = { dtype: 'F32', shape: [9], data: new Float32Array(9) };
    expect(() => importWeightsSync(bb, file, { width })).toThrow("Error in importWeights: 'layer1.0.bn1.bias' has shape [9], but resnet18 needs [8]");
  });

  it('rejects integer tensors where floats are needed', () => {
    const file = readSafetensors(readBytes(c.weights));
    file['bn1.weight'] = { dtype: 'I32', shape: [8], data: new Int32Array(8) };
    expect(() => importWeightsSync(bb, file, { width })).toThrow("Error in importWeights: 'bn1.weight' is a I32 tensor; a float tensor (F32, F16, BF16, F64) is needed.");
  });

  it("reads back its own checkpoints (Lumen's names and layouts) exactly, with nothing unused", () => {
    const params = importWeightsSync(bb, readBytes(c.weights), { width, onNotice: () => undefined });
    const bytes = exportWeights(params, { format: 'lumen' });
    expect(Object.keys(readSafetensors(bytes))).toContain('layer1.0.conv1.kernel');
    const n = notices();
    const again = importWeightsSync(bb, bytes, { width, onNotice: n.onNotice });
    expect(n.list).toEqual([]);
    const a = Object.fromEntries(flattenParams(params));
    const b = Object.fromEntries(flattenParams(again));
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const name of Object.keys(a)) expect([name, Array.from(b[name].dataSync())]).toEqual([name, Array.from(a[name].dataSync())]);
    disposeParams(params);
    disposeParams(again);
  });

  it('finds the backbone under a prefix (a detector checkpoint) and says so', () => {
    const file = readSafetensors(readBytes(c.weights));
    const prefixed = Object.fromEntries(Object.entries(file).map(([n, t]) => [`backbone.body.${n}`, t]));
    prefixed['rpn.head.conv.weight'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    const n = notices();
    const params = importWeightsSync(bb, prefixed, { width, onNotice: n.onNotice });
    expect(n.list).toHaveLength(1);
    expect(n.list[0]).toMatch(/^importWeights: resnet18 parameters found under the prefix 'backbone\.body\.'\. importWeights: resnet18 does not use 23 tensor\(s\) of the file: backbone\.body\.fc\.bias, backbone\.body\.fc\.weight, rpn\.head\.conv\.weight; and 20 /);
    disposeParams(params);
    // An explicit prefix is used as given (no notice about it).
    const m = notices();
    const explicit = importWeightsSync(bb, prefixed, { width, prefix: 'backbone.body.', onNotice: m.onNotice });
    expect(m.list[0]).toMatch(/^importWeights: resnet18 does not use/);
    disposeParams(explicit);
    expect(() => importWeightsSync(bb, prefixed, { width, prefix: 'body.' })).toThrow("the file lacks 100 tensor(s) resnet18 needs: 'body.conv1.weight'");
  });

  it('reads a file path asynchronously, and says when it cannot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lumen-backbone-'));
    try {
      const path = join(dir, 'weights.safetensors');
      writeFileSync(path, readBytes(c.weights));
      const params = await importWeights(bb, path, { width, onNotice: () => undefined });
      expect(Object.fromEntries(flattenParams(params))['conv1.kernel'].shape).toEqual([7, 7, 3, 8]);
      disposeParams(params);
      await expect(importWeights(bb, join(dir, 'missing.safetensors'), { width })).rejects.toThrow(/^Error in importWeights: cannot read '.*missing\.safetensors': ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the same params from float16 and float32 files', () => {
    const file = readSafetensors(readBytes(c.weights));
    const f32 = writeSafetensors(Object.fromEntries(Object.entries(file).map(([n, t]) => [n, t.dtype === 'F16' ? { ...t, dtype: 'F32' as const } : t])));
    const a = importWeightsSync(bb, readBytes(c.weights), { width, onNotice: () => undefined });
    const b = importWeightsSync(bb, f32, { width, onNotice: () => undefined });
    expect(Object.fromEntries(flattenParams(b))['layer4.1.conv2.kernel'].dataSync()).toEqual(Object.fromEntries(flattenParams(a))['layer4.1.conv2.kernel'].dataSync());
    disposeParams(a);
    disposeParams(b);
  });

  it('names bad arguments', () => {
    expect(() => importWeightsSync({} as typeof bb, new Uint8Array(0))).toThrow("Error in importWeights: 'bb' must be a backbone of getBackbone(name), but got object.");
    expect(() => importWeightsSync(bb, readBytes(c.weights), { width, freezeAt: 9 })).toThrow("Error in importWeights: 'freezeAt' must be an integer from 0 to 5, but got 9.");
    expect(() => importWeightsSync(bb, new Uint8Array(3))).toThrow('Error in readSafetensors:');
  });
});

describe('fromTorchLayout', () => {
  const spec = (kind: ParamSpec['kind'], shape: number[], flattenFrom?: [number, number, number]): ParamSpec => ({
    name: 'x',
    torchName: 'x',
    kind,
    shape,
    stage: 1,
    init: { type: 'constant', value: 0 },
    ...(flattenFrom != null ? { flattenFrom } : {}),
  });
  const iota = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

  it('conv: OIHW -> HWIO', () => {
    // torch weight [O=2, I=3, 1, 2]: value = ((o·3 + i)·1 + y)·2 + x.
    const out = fromTorchLayout(spec('conv', [1, 2, 3, 2]), iota(12));
    const at = (y: number, x: number, i: number, o: number) => out[((y * 2 + x) * 3 + i) * 2 + o];
    expect(at(0, 1, 2, 1)).toBe((1 * 3 + 2) * 2 + 1);
    expect(at(0, 0, 1, 0)).toBe(1 * 2);
  });

  it('depthwise: [C, 1, kh, kw] -> [kh, kw, C, 1]', () => {
    const out = fromTorchLayout(spec('depthwise', [2, 2, 3, 1]), iota(12));
    // torch [c, 0, y, x] = (c·2 + y)·2 + x; Lumen [y, x, c, 0] at (y·2 + x)·3 + c.
    expect(out[(1 * 2 + 0) * 3 + 2]).toBe((2 * 2 + 1) * 2 + 0);
  });

  it('linear: [out, in] -> [in, out], rows in NHWC order after a map', () => {
    expect(Array.from(fromTorchLayout(spec('linear', [3, 2]), iota(6)))).toEqual([0, 3, 1, 4, 2, 5]);
    // A [C=2, H=1, W=2] map: torch column c·2 + w; Lumen row w·2 + c.
    const out = fromTorchLayout(spec('linear', [4, 1], [2, 1, 2]), Float32Array.from([10, 11, 12, 13]));
    expect(Array.from(out)).toEqual([10, 12, 11, 13]);
  });
});
