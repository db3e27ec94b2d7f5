import { importWeights } from '@lumen/backbone';
import { flattenParams, fromWorkspace, UserError } from '@lumen/core';
import { backboneOptions } from './backbone-options';
import type { Detector, DetectorParams } from './model';
import { assignParams, type NamedArray } from './params';

/**
 * Replaces the backbone's initial weights by those of the config's `model.backbone.weights`
 * file (safetensors; torchvision, timm or Lumen names; a relative path is under the workspace
 * root). The tail is taken too when the box head runs it or a feature pyramid reads it; with
 * a head of its own on the C4 map the file's tail is read and left out. Returns whether a
 * file was loaded (false when the config names none).
 */
export async function loadPretrainedBackbone(detector: Detector, params: DetectorParams, onNotice: (message: string) => void): Promise<boolean> {
  const named = detector.config.model.backbone.weights;
  if (!named) return false;
  const path = fromWorkspace(named);
  let imported;
  try {
    imported = await importWeights(detector.backbone, path, { ...backboneOptions(detector.config), onNotice });
  } catch (error) {
    throw new UserError(`model.backbone.weights: ${path}: ${(error as Error).message.replace(/^Error in \w+: /, '')}`);
  }
  const values: Record<string, NamedArray> = {};
  for (const [name, variable] of flattenParams(imported)) {
    values[name] = { dtype: 'float32', shape: [...variable.shape], data: variable.dataSync() as Float32Array };
    variable.dispose();
  }
  assignParams(params.backbone, values, path);
  return true;
}
