import type { BackboneOptionsInput } from '@lumen/backbone';
import type { Config } from '@lumen/config';

/** The config's `model.backbone` as @lumen/backbone options (`bnEps` null: the backbone's own). */
export function backboneOptions(config: Config): BackboneOptionsInput {
  const b = config.model.backbone;
  const options: BackboneOptionsInput = { batchNorm: b.batchNorm, freezeAt: b.freezeAt, tailStride: b.tailStride, width: b.width, dropout: b.dropout };
  if (b.bnEps !== null) options.bnEps = b.bnEps;
  return options;
}
