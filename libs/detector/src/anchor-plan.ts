import { ConfigError, type ModelConfig } from '@lumen/config';

/** Anchor sizes and ratios on each map the RPN reads, finest first. */
export interface AnchorPlan {
  sizes: number[][];
  ratios: number[][];
  /** Anchors per location, the same on every map (one RPN head serves them all). */
  perLocation: number;
}

const isFlat = (list: number[] | number[][]): list is number[] => list.every((v) => typeof v === 'number');

/**
 * `model.anchors` laid out over `maps` feature maps: a flat list is used on every map
 * (torchvision's MobileNetV3-FPN: the same five sizes on its three maps), a list of lists
 * gives one per map (R50-FPN: one size per level). `mapsDescribed` says what the maps are,
 * for the error.
 */
export function anchorsPerMap(anchors: ModelConfig['anchors'], maps: number, mapsDescribed: string): AnchorPlan {
  const perMap = (key: 'sizes' | 'ratios'): number[][] => {
    const list = anchors[key];
    if (isFlat(list)) return Array.from({ length: maps }, () => [...list]);
    if (list.length !== maps) {
      throw new ConfigError(
        `model.anchors.${key}: ${list.length} lists for the ${maps} feature map(s) the RPN reads (${mapsDescribed}): give one list per map, or one flat list for all`,
      );
    }
    return list.map((l) => [...l]);
  };
  const sizes = perMap('sizes');
  const ratios = perMap('ratios');
  const counts = sizes.map((s, l) => s.length * ratios[l].length);
  const differs = counts.findIndex((c) => c !== counts[0]);
  if (differs > 0) {
    throw new ConfigError(
      `model.anchors: every feature map needs as many anchors per location (one RPN head serves them all), but map 0 has ${counts[0]} ` +
        `(sizes [${sizes[0]}] x ratios [${ratios[0]}]) and map ${differs} has ${counts[differs]} (sizes [${sizes[differs]}] x ratios [${ratios[differs]}])`,
    );
  }
  return { sizes, ratios, perLocation: counts[0] };
}
