import type { SafeTensor } from '@lumen/backbone';
import { UserError } from '@lumen/core';
import type { NamedArray } from '../params';
import { torchToLumen, type TorchParam } from '../torch-names';

/** Which of torchvision's key layouts a file used: 0.13's, or the older one of the v1 COCO files. */
export type TorchLayout = 'torchvision >= 0.13' | 'torchvision < 0.13';

export interface MappedWeights {
  /** Every detector param by Lumen's name, in Lumen's layout. */
  weights: Record<string, NamedArray>;
  layout: TorchLayout;
  /** Tensors read past on purpose: BatchNorm2d's `num_batches_tracked` counters. */
  ignored: string[];
}

/** BatchNorm2d's step counter: torch saves it, no forward reads it, Lumen has no such tensor. */
const isCounter = (name: string) => name.endsWith('.num_batches_tracked');

const shape = (dims: readonly number[]) => `[${dims.join(', ')}]`;

/** At most `limit` items, then how many more. */
function listed(items: readonly string[], limit = 6): string {
  const shown = items.slice(0, limit).join(', ');
  return items.length > limit ? `${shown} and ${items.length - limit} more` : shown;
}

function asFloat32(tensor: SafeTensor): Float32Array | null {
  if (tensor.data instanceof Float32Array) return tensor.data;
  if (tensor.dtype === 'F64') return Float32Array.from(tensor.data as Float64Array);
  return null;
}

/** What a file's state dict lacks or has too much of, for one message. */
interface Problems {
  missing: string[];
  unexpected: string[];
  misshapen: string[];
  notFloat: string[];
}

function describeProblems(source: string, p: Problems, hint: string): string {
  const parts: string[] = [];
  if (p.missing.length > 0) parts.push(`${p.missing.length} tensor(s) missing: ${listed(p.missing)}`);
  if (p.misshapen.length > 0) parts.push(`${p.misshapen.length} of another shape: ${listed(p.misshapen, 4)}`);
  if (p.notFloat.length > 0) parts.push(`${p.notFloat.length} not floating point: ${listed(p.notFloat)}`);
  if (p.unexpected.length > 0) parts.push(`${p.unexpected.length} unexpected: ${listed(p.unexpected)}`);
  return `${source} does not hold the model ${hint}: ${parts.join('; ')}`;
}

/**
 * A torchvision state dict as a detector's weights: each param of `params` (torchParamMap)
 * taken from the first of its torchvision names the file has, checked against torch's shape
 * and converted to Lumen's layout. Anything wrong is one UserError naming `source` and every
 * tensor missing, of another shape, not floating point, or unexpected (a name no param reads,
 * or a second spelling of one already read); `num_batches_tracked` counters are ignored.
 * `hint` says what the model is ("fasterrcnn_resnet50_fpn builds").
 */
export function mapTorchvisionState(tensors: Record<string, SafeTensor>, params: readonly TorchParam[], source: string, hint: string): MappedWeights {
  const problems: Problems = { missing: [], unexpected: [], misshapen: [], notFloat: [] };
  const used = new Set<string>();
  const weights: Record<string, NamedArray> = {};
  let legacy = 0;
  for (const param of params) {
    const index = param.torchNames.findIndex((name) => Object.prototype.hasOwnProperty.call(tensors, name));
    if (index < 0) {
      problems.missing.push(param.torchNames.join(' (or ') + (param.torchNames.length > 1 ? ')' : ''));
      continue;
    }
    const name = param.torchNames[index];
    const tensor = tensors[name];
    used.add(name);
    if (index > 0) legacy++;
    const dims = tensor.shape;
    if (dims.length !== param.torchShape.length || dims.some((d, i) => d !== param.torchShape[i])) {
      problems.misshapen.push(`${name} is ${shape(dims)} in the file, ${shape(param.torchShape)} in the model`);
      continue;
    }
    const data = asFloat32(tensor);
    if (data === null) {
      problems.notFloat.push(`${name} (${tensor.dtype})`);
      continue;
    }
    weights[param.name] = { dtype: 'float32', shape: param.shape, data: torchToLumen(param, data) };
  }
  const ignored = Object.keys(tensors).filter(isCounter);
  problems.unexpected = Object.keys(tensors).filter((name) => !used.has(name) && !isCounter(name));
  if (Object.values(problems).some((list) => list.length > 0)) throw new UserError(describeProblems(source, problems, hint));
  return { weights, layout: legacy > 0 ? 'torchvision < 0.13' : 'torchvision >= 0.13', ignored };
}
