import type { Backbone, BackboneOptionsInput, FeatureLevel } from '@lumen/backbone';
import { ConfigError, type Config } from '@lumen/config';
import type { FpnOptions } from '@lumen/fpn';

/** A feature pyramid over backbone levels, as the config asks for it (`model.backbone.fpn`). */
export interface PyramidPlan {
  /** The backbone levels the FPN reads, finest first. */
  levels: FeatureLevel[];
  fpn: FpnOptions;
  /** The FPN's output maps, all read by the RPN: one per level, then 'pool' with extra 'maxpool'. */
  maps: number;
  /** Spatial scales (1 / stride) of the leading maps RoIs are pooled from. */
  poolScales: number[];
}

/**
 * torchvision's MultiScaleRoIAlign sends a box to level k in [k_min, k_max] (log2 of the first
 * and the last map's stride) and pools it from map k - k_min: it reads the first
 * k_max - k_min + 1 maps, whose strides must double from map to map. MobileNetV3-FPN's two
 * stride-32 maps: the first alone.
 */
function poolScales(levels: readonly FeatureLevel[]): number[] {
  const strides = levels.map((l) => l.stride);
  const kMin = Math.log2(strides[0]);
  const count = Math.log2(strides[strides.length - 1]) - kMin + 1;
  const doubling = strides.slice(0, count).every((s, i) => s === strides[0] * 2 ** i);
  if (!Number.isInteger(kMin) || !Number.isInteger(count) || count > strides.length || !doubling) {
    const listed = levels.map((l) => `${l.name} (stride ${l.stride})`).join(', ');
    throw new ConfigError(
      `model.backbone.fpn.levels: multi-scale RoIAlign pools a box from the level of its size, log2(stride) counted from the first level, so the strides must double from level to level; ${listed} do not`,
    );
  }
  return strides.slice(0, count).map((s) => 1 / s);
}

/** The backbone's levels named by `model.backbone.fpn.levels`, checked: each one it has, in forward order. */
function namedLevels(levels: readonly string[], tailStride: number, backbone: Backbone, options: BackboneOptionsInput): FeatureLevel[] {
  const available = backbone.featureLevels(options);
  if (available.length === 0) {
    throw new ConfigError(`model.backbone.fpn: ${backbone.name} has no feature levels (its one map is the body's); set model.backbone.fpn to null`);
  }
  const known = available.map((l) => l.name);
  const unknown = levels.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    const why = tailStride === 1 ? ' (levels past the stride-16 body need model.backbone.tailStride 2)' : '';
    throw new ConfigError(`model.backbone.fpn.levels: ${backbone.name} has no level ${unknown.map((n) => `'${n}'`).join(', ')}${why}: it has ${known.join(', ')}`);
  }
  const order = levels.map((name) => known.indexOf(name));
  if (order.some((index, i) => i > 0 && index < order[i - 1])) {
    throw new ConfigError(`model.backbone.fpn.levels: must be in forward order, finest first: [${[...levels].sort((a, b) => known.indexOf(a) - known.indexOf(b)).join(', ')}]`);
  }
  return order.map((index) => available[index]);
}

/** The config's feature pyramid over `backbone`, or null for one stride-16 map (C4). Errors name the config key. */
export function resolvePyramid(config: Config, backbone: Backbone, options: BackboneOptionsInput): PyramidPlan | null {
  const spec = config.model.backbone.fpn;
  if (spec === null) return null;
  const levels = namedLevels(spec.levels, config.model.backbone.tailStride, backbone, options);
  return {
    levels,
    fpn: { inChannels: levels.map((l) => l.channels), outChannels: spec.outChannels, norm: spec.norm, extra: spec.extra },
    maps: levels.length + (spec.extra === 'maxpool' ? 1 : 0),
    poolScales: poolScales(levels),
  };
}

/** The maps of a pyramid for messages: `layer2, layer3, layer4 + pool`. */
export function describeMaps(plan: PyramidPlan | null): string {
  if (plan === null) return 'one stride-16 map';
  return `${plan.levels.map((l) => l.name).join(', ')}${plan.maps > plan.levels.length ? ' + pool' : ''}`;
}
