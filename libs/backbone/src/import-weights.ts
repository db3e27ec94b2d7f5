import { fail, flattenParams } from '@lumen/core';
import { buildParams, resolveOptions } from './params';
import { writeSafetensors, type SafeTensor } from './safetensors';
import type { Backbone, BackboneOptionsInput, BackboneParams, ParamSpec } from './types';
import { describe, shapeString } from './validate';
import { readWeightsFile } from './weights-file';

const FN = 'importWeights';

export interface ImportWeightsOptions extends BackboneOptionsInput {
  /**
   * What precedes the backbone's names in the file (`'backbone.body.'`, `'module.'`). By
   * default it is detected: none when the first parameter is found as is, else the one
   * prefix under which every parameter is found (a notice says so).
   */
  prefix?: string;
  /** Receives the one notice about unused tensors (and a detected prefix). Default console.warn. */
  onNotice?: (message: string) => void;
}

export type WeightsSource = Uint8Array | Record<string, SafeTensor>;

/**
 * torchvision's shape of a parameter whose Lumen shape is `spec.shape`. The layout fields are
 * all it reads, so the FPN's, RPN's and heads' specs fit too.
 */
export function torchShape(spec: Pick<ParamSpec, 'kind' | 'shape' | 'flattenFrom'>): number[] {
  const s = spec.shape;
  if (spec.kind === 'conv') return [s[3], s[2], s[0], s[1]];
  if (spec.kind === 'depthwise') return [s[2], 1, s[0], s[1]];
  if (spec.kind === 'linear') return [s[1], s[0]];
  return [...s];
}

/**
 * out[r·cols + o] = data[o·rows + column[r]] for r < rows, o < cols: a transpose whose source
 * columns are permuted. Walks the source in order in 64x64 tiles, so reads are sequential
 * and writes stay within 64 rows (a direct loop strides through memory on every access;
 * VGG-16's fc6 alone is 102M numbers).
 */
function transposeColumns(data: Float32Array, rows: number, cols: number, column: Int32Array): Float32Array {
  const out = new Float32Array(rows * cols);
  const rowOf = new Int32Array(rows);
  for (let r = 0; r < rows; r++) rowOf[column[r]] = r;
  const TILE = 64;
  for (let o0 = 0; o0 < cols; o0 += TILE) {
    const o1 = Math.min(cols, o0 + TILE);
    for (let j0 = 0; j0 < rows; j0 += TILE) {
      const j1 = Math.min(rows, j0 + TILE);
      for (let o = o0; o < o1; o++) {
        const src = o * rows;
        for (let j = j0; j < j1; j++) out[rowOf[j] * cols + o] = data[src + j];
      }
    }
  }
  return out;
}

/** torchvision layout -> Lumen layout (OIHW -> HWIO, [C,1,kh,kw] -> [kh,kw,C,1], [out,in] -> [in,out] with NCHW -> NHWC rows). */
export function fromTorchLayout(spec: Pick<ParamSpec, 'kind' | 'shape' | 'flattenFrom'>, data: Float32Array): Float32Array {
  const s = spec.shape;
  if (spec.kind === 'conv') {
    // torch [O, I·kh·kw] with column (i·kh + y)·kw + x; Lumen [kh·kw·I, O] with row (y·kw + x)·I + i.
    const [kh, kw, inC, outC] = s;
    const column = new Int32Array(kh * kw * inC);
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < inC; i++) column[(y * kw + x) * inC + i] = (i * kh + y) * kw + x;
    return transposeColumns(data, kh * kw * inC, outC, column);
  }
  if (spec.kind === 'depthwise') {
    // torch [C, kh·kw]; Lumen [kh·kw, C]: a plain transpose.
    const [kh, kw, channels] = s;
    return transposeColumns(data, kh * kw, channels, Int32Array.from({ length: kh * kw }, (_, r) => r));
  }
  if (spec.kind === 'linear') {
    const [inC, outC] = s;
    // Row r of Lumen's kernel is input feature r of an NHWC flatten; torch's column for it:
    // the same (h, w, c) in an NCHW flatten. Without a map, the identity.
    const column = new Int32Array(inC);
    if (spec.flattenFrom != null) {
      const [channels, height, width] = spec.flattenFrom;
      for (let h = 0; h < height; h++) {
        for (let w = 0; w < width; w++) for (let c = 0; c < channels; c++) column[(h * width + w) * channels + c] = (c * height + h) * width + w;
      }
    } else {
      for (let r = 0; r < inC; r++) column[r] = r;
    }
    return transposeColumns(data, inC, outC, column);
  }
  return data;
}

function floats(name: string, t: SafeTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof Float64Array) return Float32Array.from(t.data);
  return fail(FN, `'${name}' is a ${t.dtype} tensor; a float tensor (F32, F16, BF16, F64) is needed.`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The prefix the file puts before the backbone's names ('' when they are found as is). */
function detectPrefix(tensors: Record<string, SafeTensor>, specs: readonly ParamSpec[]): string | null {
  const [first] = specs;
  if (first.name in tensors || first.torchName in tensors) return '';
  const candidates = new Set<string>();
  for (const key of Object.keys(tensors)) {
    for (const suffix of [first.name, first.torchName]) {
      if (key.endsWith(`.${suffix}`)) candidates.add(key.slice(0, key.length - suffix.length));
    }
  }
  // A prefix under which every parameter is found ('layer1.0.' would hold conv1 and bn1 but
  // not the rest); ambiguity means no guess.
  const confirmed = [...candidates].filter((p) => specs.every((s) => `${p}${s.name}` in tensors || `${p}${s.torchName}` in tensors));
  return confirmed.length === 1 ? confirmed[0] : null;
}

function describeMissing(spec: ParamSpec, prefix: string): string {
  if (spec.name === spec.torchName) return `'${prefix}${spec.name}' ${shapeString(spec.shape)}`;
  return `'${prefix}${spec.torchName}' (torchvision ${shapeString(torchShape(spec))}; or Lumen's '${prefix}${spec.name}' ${shapeString(spec.shape)})`;
}

function unusedNotice(bb: Backbone, unused: string[], prefix: string, detected: boolean): string | null {
  const counters = unused.filter((n) => n.endsWith('num_batches_tracked'));
  const others = unused.filter((n) => !n.endsWith('num_batches_tracked'));
  const parts: string[] = [];
  if (detected && prefix !== '') parts.push(`${FN}: ${bb.name} parameters found under the prefix '${prefix}'.`);
  if (unused.length > 0) {
    const listed = others.length > 12 ? [...others.slice(0, 12), `… ${others.length - 12} more`] : others;
    const extra = counters.length > 0 ? `${others.length > 0 ? '; and ' : ''}${counters.length} BatchNorm num_batches_tracked counter(s)` : '';
    parts.push(`${FN}: ${bb.name} does not use ${unused.length} tensor(s) of the file: ${listed.join(', ')}${extra}.`);
  }
  return parts.length > 0 ? parts.join(' ') : null;
}

/**
 * Params of `bb` from safetensors or PyTorch .pth bytes (or an already read record): each
 * parameter is taken under Lumen's name in Lumen's layout (a checkpoint written by
 * `exportWeights`), else under torchvision's / timm's name in torch's layout and converted.
 * A missing or wrongly shaped tensor is an error naming it; tensors the backbone does not use
 * (an ImageNet classifier, BatchNorm counters) are listed in one notice.
 */
export function importWeightsSync(bb: Backbone, source: WeightsSource, options: ImportWeightsOptions = {}): BackboneParams {
  if (bb == null || typeof bb.paramSpecs !== 'function') fail(FN, `'bb' must be a backbone of getBackbone(name), but got ${describe(bb)}.`);
  const { prefix: prefixOption, onNotice = (m: string) => console.warn(m), ...backboneOptions } = options;
  const resolved = resolveOptions(FN, backboneOptions, bb.stages.length);
  if (prefixOption != null && typeof prefixOption !== 'string') fail(FN, `'prefix' must be a string, but got ${describe(prefixOption)}.`);
  const tensors = source instanceof Uint8Array ? readWeightsFile(source) : source;
  if (tensors === null || typeof tensors !== 'object') fail(FN, `'source' must be safetensors or .pth bytes or a record of tensors, but got ${describe(source)}.`);
  const specs = bb.paramSpecs(resolved);
  const detected = prefixOption ?? detectPrefix(tensors, specs);
  const prefix = detected ?? '';

  const used = new Set<string>();
  const missing: ParamSpec[] = [];
  const found = new Map<string, Float32Array>();
  const widthHint = `: the file's widths must match the options (${bb.name}, width ${resolved.width})`;
  for (const spec of specs) {
    const own = `${prefix}${spec.name}`;
    const torch = `${prefix}${spec.torchName}`;
    if (own in tensors && (own !== torch || sameShape(tensors[own].shape, spec.shape))) {
      const t = tensors[own];
      if (!sameShape(t.shape, spec.shape)) fail(FN, `'${own}' has shape ${shapeString(t.shape)}, but ${bb.name} needs ${shapeString(spec.shape)}${widthHint}.`);
      found.set(spec.name, floats(own, t));
      used.add(own);
    } else if (torch in tensors) {
      const t = tensors[torch];
      const expected = torchShape(spec);
      if (!sameShape(t.shape, expected)) fail(FN, `'${torch}' has shape ${shapeString(t.shape)}, but ${bb.name} needs ${shapeString(expected)}${widthHint}.`);
      found.set(spec.name, fromTorchLayout(spec, floats(torch, t)));
      used.add(torch);
    } else {
      missing.push(spec);
    }
  }
  if (missing.length > 0) {
    const listed = missing.slice(0, 5).map((s) => describeMissing(s, prefix));
    const more = missing.length > 5 ? `, and ${missing.length - 5} more` : '';
    fail(FN, `the file lacks ${missing.length} tensor(s) ${bb.name} needs: ${listed.join(', ')}${more}.`);
  }
  const unused = Object.keys(tensors).filter((n) => !used.has(n));
  const notice = unusedNotice(bb, unused, prefix, prefixOption == null && detected !== '');
  if (notice != null) onNotice(notice);
  return buildParams(specs, resolved, (spec) => found.get(spec.name) as Float32Array);
}

/**
 * `importWeightsSync` from a file path (read with node:fs; browsers pass bytes) or bytes.
 *
 *     const params = await importWeights(getBackbone('resnet50'), 'resnet50.safetensors', { batchNorm: 'frozen', freezeAt: 2 });
 *     const params = await importWeights(getBackbone('resnet50'), 'fasterrcnn_resnet50_fpn_coco-258fb6c6.pth'); // prefix 'backbone.body.' detected
 */
export async function importWeights(bb: Backbone, source: string | WeightsSource, options: ImportWeightsOptions = {}): Promise<BackboneParams> {
  if (typeof source === 'string') {
    const { readFile } = await import('node:fs/promises');
    let bytes: Uint8Array;
    try {
      bytes = await readFile(source);
    } catch (e) {
      fail(FN, `cannot read '${source}': ${(e as Error).message}`);
    }
    return importWeightsSync(bb, bytes, options);
  }
  return importWeightsSync(bb, source, options);
}

/**
 * A safetensors file of the params under Lumen's names and layouts (the checkpoint form of
 * docs/architecture.md §6; `importWeights` reads it back).
 */
export function exportWeights(params: BackboneParams, metadata?: Record<string, string>): Uint8Array {
  return writeSafetensors(Object.fromEntries(flattenParams(params)), metadata);
}
