import type { Config } from './schema';

/** "resnet50+fpn", "resnet18 x0.125": the backbone, whether a pyramid is on it, its width. */
export function describeBackbone(config: Config): string {
  const { name, fpn, width } = config.model.backbone;
  return `${name}${fpn ? '+fpn' : ''}${width !== 1 ? ` x${width}` : ''}`;
}
