import { mobilenetV2 } from './mobilenet-v2';
import { mobilenetV3Large } from './mobilenet-v3';
import { resnet101, resnet18, resnet34, resnet50 } from './resnet';
import type { Backbone } from './types';
import { fail } from '@lumen/core';
import { describe } from './validate';
import { vgg16 } from './vgg';

// One line per backbone: a new architecture is one file defining a Backbone, and a line here.
const REGISTRY: Readonly<Record<string, Backbone>> = {
  resnet18,
  resnet34,
  resnet50,
  resnet101,
  vgg16,
  mobilenet_v2: mobilenetV2,
  mobilenet_v3_large: mobilenetV3Large,
};

export const BACKBONE_NAMES: readonly string[] = Object.freeze(Object.keys(REGISTRY));

/** The backbone called `name` (a config's `backbone.name`); an unknown name lists the known ones. */
export function getBackbone(name: string): Backbone {
  if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(REGISTRY, name)) {
    fail('getBackbone', `'name' must be one of ${BACKBONE_NAMES.join(', ')}, but got ${describe(name)}.`);
  }
  return REGISTRY[name];
}
