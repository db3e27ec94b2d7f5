// `lumen checkpoint info`: what a checkpoint folder holds — architecture, classes, step,
// metrics and evaluations, its config's differences from the defaults, the weights' sha256
// (checked), the files and their sizes — read without loading the tensors.
import { DEFAULTS, describeBackbone, loadConfig, type Config } from '@lumen/config';
import { UserError } from '@lumen/core';
import { CONFIG_FILE, readCheckpointMeta, sha256OfFile, WEIGHTS_FILE, type CheckpointMeta } from '@lumen/detector';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes, formatDate, loggedEvaluations } from './checkpoint-summary';

/** How the weights compare with the sha256 meta.json records. */
export type WeightsCheck = { status: 'verified'; sha256: string } | { status: 'mismatch'; sha256: string; expected: string } | { status: 'unrecorded'; sha256: string };

export interface CheckpointInfo {
  dir: string;
  meta: CheckpointMeta;
  config: Config;
  weights: WeightsCheck;
  /** Tensors and numbers in weights.safetensors (from its header). */
  tensors: number;
  parameters: number;
  files: Array<{ name: string; bytes: number }>;
}

/** A changed config value: its dotted key, the checkpoint's value and the default. */
export interface ConfigDifference {
  key: string;
  value: unknown;
  default: unknown;
}

const isTree = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The leaves where `config` differs from `base` (lists, and a subtree against null, compared whole), in `config`'s key order. */
export function configDifferences(config: unknown, base: unknown = DEFAULTS): ConfigDifference[] {
  const walk = (value: unknown, reference: unknown, key: string): ConfigDifference[] => {
    if (isTree(value) && isTree(reference)) {
      const keys = [...Object.keys(value), ...Object.keys(reference).filter((k) => !(k in value))];
      return keys.flatMap((k) => walk(value[k], reference[k], key ? `${key}.${k}` : k));
    }
    return JSON.stringify(value) === JSON.stringify(reference) ? [] : [{ key, value, default: reference }];
  };
  return walk(config, base, '');
}

/** The tensor count and number count of a safetensors file, from its header alone. */
function countTensors(path: string): { tensors: number; parameters: number } {
  const fd = openSync(path, 'r');
  try {
    const size = Buffer.alloc(8);
    if (readSync(fd, size, 0, 8, 0) !== 8) throw new UserError(`${path}: not a safetensors file (shorter than 8 bytes)`);
    const length = Number(size.readBigUInt64LE(0));
    if (length > 100_000_000 || length > lstatSync(path).size - 8) throw new UserError(`${path}: not a safetensors file, or truncated (header of ${length} bytes)`);
    const text = Buffer.alloc(length);
    readSync(fd, text, 0, length, 8);
    let header: Record<string, { shape?: number[] }>;
    try {
      header = JSON.parse(text.toString('utf8'));
    } catch (error) {
      throw new UserError(`${path}: its header is not valid JSON: ${(error as Error).message}`);
    }
    const entries = Object.entries(header).filter(([name]) => name !== '__metadata__');
    return { tensors: entries.length, parameters: entries.reduce((sum, [, t]) => sum + (t.shape ?? []).reduce((a, b) => a * b, 1), 0) };
  } finally {
    closeSync(fd);
  }
}

/** Reads what `lumen checkpoint info` shows; the weights are hashed (streamed), not loaded. */
export async function readCheckpointInfo(dir: string): Promise<CheckpointInfo> {
  const meta = readCheckpointMeta(dir);
  for (const file of [CONFIG_FILE, WEIGHTS_FILE]) if (!existsSync(join(dir, file))) throw new UserError(`${dir} is not a Lumen checkpoint: ${file} is missing`);
  const config = loadConfig(join(dir, CONFIG_FILE)).config;
  const weightsPath = join(dir, WEIGHTS_FILE);
  const sha256 = await sha256OfFile(weightsPath);
  const expected = meta.weightsSha256;
  const weights: WeightsCheck = expected === undefined ? { status: 'unrecorded', sha256 } : expected === sha256 ? { status: 'verified', sha256 } : { status: 'mismatch', sha256, expected };
  const files = readdirSync(dir)
    .sort()
    .map((name) => ({ name, stat: lstatSync(join(dir, name)) }))
    .filter(({ stat }) => stat.isFile())
    .map(({ name, stat }) => ({ name, bytes: stat.size }));
  return { dir, meta, config, weights, ...countTensors(weightsPath), files };
}

/** The model in words: backbone, feature maps, RPN, RoI pooling, box head. */
function architectureLines(config: Config): string[] {
  const { backbone, anchors, rpn, roiPool, rcnn } = config.model;
  const bn = `batch norm ${backbone.batchNorm}`;
  const maps = backbone.fpn
    ? `FPN over ${backbone.fpn.levels.join(', ')} (${backbone.fpn.outChannels} channels${backbone.fpn.norm === 'batch' ? ', batch norm' : ''}${backbone.fpn.extra === 'maxpool' ? ', + pool level' : ''})`
    : 'no FPN: one stride-16 map (C4)';
  const head =
    rcnn.head === 'mlp' ? `mlp (two fc of ${rcnn.hidden})` : rcnn.head === 'conv-fc' ? `conv-fc (4 conv of ${rcnn.convChannels}, fc of ${rcnn.hidden})` : rcnn.head;
  return [
    `backbone ${describeBackbone(config)} (${bn}, first ${backbone.freezeAt} stage(s) frozen); ${maps}`,
    `RPN: ${rpn.objectness} objectness, anchors sizes ${JSON.stringify(anchors.sizes)} ratios ${JSON.stringify(anchors.ratios)}`,
    `RoI pooling ${roiPool.mode} ${roiPool.size}x${roiPool.size}; box head ${head}`,
  ];
}

/** `head` then the items comma-separated, in lines of at most `width` characters. */
function wrapList(head: string, items: readonly string[], width = 90): string[] {
  const lines = [head];
  items.forEach((item, i) => {
    const piece = i < items.length - 1 ? `${item}, ` : item;
    if (lines[lines.length - 1].length + piece.trimEnd().length > width && lines[lines.length - 1].trim() !== '') lines.push('');
    lines[lines.length - 1] += piece;
  });
  return lines.map((line) => line.trimEnd());
}

/** "val: voc mAP 0.8410 on 300 images (eval-val.json)". */
function evaluationLine(split: string, metric: string | undefined, map: number | null, images: number | undefined, source: string): string {
  const score = `${metric ? `${metric} ` : ''}mAP ${typeof map === 'number' ? map.toFixed(4) : '-'}`;
  return `${split}: ${score}${images != null ? ` on ${images} images` : ''} (${source})`;
}

const show = (value: unknown) => (value === undefined ? 'none' : typeof value === 'string' ? value : JSON.stringify(value));

/** The text of `lumen checkpoint info`: labelled blocks, continuation lines indented. */
export function formatCheckpointInfo(info: CheckpointInfo): string {
  const { dir, meta, config, weights } = info;
  const blocks: Array<[string, string[]]> = [];
  blocks.push(['checkpoint', [dir]]);
  blocks.push(['architecture', architectureLines(config)]);
  blocks.push(['classes', wrapList(`${meta.classes.length}: `, meta.classes)]);
  const resume = meta.resume ? ` (epoch ${meta.resume.epoch})` : '';
  blocks.push(['step', [`${meta.step}${resume}, saved ${formatDate(meta.createdAt)}`]]);
  const metrics = Object.entries(meta.metrics ?? {}).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(4)}`);
  blocks.push(['metrics', [metrics.length > 0 ? metrics.join(', ') : 'none recorded']]);
  const evaluations = [
    ...loggedEvaluations(dir, meta.step)
      .filter((e) => !e.final)
      .map((e) => evaluationLine(e.split, e.metric, e.mAP, e.images, 'periodic, metrics.jsonl')),
    ...info.files
      .filter((f) => /^eval-.+\.json$/.test(f.name))
      .map((f) => {
        try {
          const e = JSON.parse(readFileSync(join(dir, f.name), 'utf8')) as { split?: string; metric?: string; mAP?: number | null; images?: number };
          return evaluationLine(e.split ?? f.name, e.metric, e.mAP ?? null, e.images, f.name);
        } catch {
          return `${f.name}: not valid JSON`;
        }
      }),
  ];
  if (evaluations.length > 0) blocks.push(['evaluations', evaluations]);
  const differences = configDifferences(config);
  blocks.push([
    'config',
    differences.length === 0
      ? ['the defaults (libs/config/src/defaults.ts)']
      : [`${differences.length} difference(s) from the defaults (libs/config/src/defaults.ts):`, ...differences.map((d) => `  ${d.key}: ${show(d.value)} (default ${show(d.default)})`)],
  ]);
  const verdict =
    weights.status === 'verified'
      ? 'verified (matches meta.json)'
      : weights.status === 'unrecorded'
        ? 'not recorded in meta.json (an older checkpoint): not verified'
        : `DOES NOT MATCH meta.json (${weights.expected}): the file is damaged or was changed`;
  const weightsFile = info.files.find((f) => f.name === WEIGHTS_FILE);
  blocks.push([
    'weights',
    [`${WEIGHTS_FILE}: ${(info.parameters / 1e6).toFixed(2)}M parameters in ${info.tensors} tensors, ${formatBytes(weightsFile?.bytes ?? 0)}`, `sha256 ${weights.sha256} ${verdict}`],
  ]);
  const total = info.files.reduce((sum, f) => sum + f.bytes, 0);
  blocks.push(['files', [...info.files.map((f) => `${f.name} ${formatBytes(f.bytes)}`), `total ${formatBytes(total)}`]]);
  const versions = Object.entries(meta.versions ?? {}).map(([k, v]) => `${k} ${v}`);
  if (versions.length > 0) blocks.push(['written by', [versions.join(', ')]]);
  const width = Math.max(...blocks.map(([label]) => label.length)) + 2;
  return blocks.flatMap(([label, lines]) => lines.map((line, i) => `${(i === 0 ? label : '').padEnd(width)}${line}`)).join('\n');
}
