import { fromTorchLayout, torchShape, type ParamKind } from '@lumen/backbone';
import { ConfigError, type Config } from '@lumen/config';
import { fpnParamSpecs } from '@lumen/fpn';
import { BOX_HEAD_PREFIX, convFcHeadParamSpecs } from '@lumen/rcnn-head';
import { rpnHeadParamSpecs } from '@lumen/rpn';
import { resolveModel } from './model';

/** One parameter of a detector and the tensor of a torchvision Faster R-CNN state dict it comes from. */
export interface TorchParam {
  /** Lumen's dotted name, the checkpoint name: `backbone.layer1.0.conv1.kernel`. */
  name: string;
  /** torchvision's state-dict names: the current one (≥ 0.13) first, then an older spelling where one exists. */
  torchNames: string[];
  /** Shape in Lumen's layout. */
  shape: number[];
  /** torch's shape of it. */
  torchShape: number[];
  /** How torch's tensor converts (@lumen/backbone's ParamKind; `torchToLumen` does it). */
  kind: ParamKind;
  /** A linear layer fed by a flattened map: torch flattens it as [C, H, W], Lumen as [H, W, C]. */
  flattenFrom?: [channels: number, height: number, width: number];
}

function entry(name: string, torchNames: Array<string | null>, shape: number[], kind: ParamKind, flattenFrom?: TorchParam['flattenFrom']): TorchParam {
  const names = [...new Set(torchNames.filter((n): n is string => n !== null))];
  const layout = { kind, shape, ...(flattenFrom && { flattenFrom }) };
  return { name, torchNames: names, ...layout, torchShape: torchShape(layout) };
}

/**
 * torchvision's BackboneWithFPN holds the trunk as `backbone.body`: ResNet's own modules
 * (`_resnet_fpn_extractor`), MobileNet's `features` children (`_mobilenet_extractor`), so
 * `features.13.block.0.0.weight` is `backbone.body.13.block.0.0.weight`.
 */
const bodyName = (torchName: string) => `backbone.body.${torchName.replace(/^features\./, '')}`;

/** A linear layer's kernel and bias: torch's `<path>.weight` [out, in] and `<path>.bias`. */
function linear(name: string, inFeatures: number, outFeatures: number, flattenFrom?: TorchParam['flattenFrom']): TorchParam[] {
  return [entry(`${name}.kernel`, [`${name}.weight`], [inFeatures, outFeatures], 'linear', flattenFrom), entry(`${name}.bias`, [`${name}.bias`], [outFeatures], 'bias')];
}

/**
 * Every parameter of the detector `buildDetector(config, classes)` makes, in its params'
 * order, with the torchvision state-dict name(s) of the same tensor in the model torchvision
 * builds for it: `fasterrcnn_resnet50_fpn` (and its pre-0.13 files), `…_fpn_v2`,
 * `fasterrcnn_mobilenet_v3_large_fpn`. Lumen's `fpn.*` is torchvision's `backbone.fpn.*`, the
 * backbone's `backbone.body.*`; `rpn.head.*` and `roi_heads.*` keep their paths. A weight
 * importer renames by this and converts each tensor with `torchToLumen`. Checks the config
 * as `buildDetector` does; a model without a feature pyramid has no torchvision counterpart
 * (a ConfigError).
 */
export function torchParamMap(config: Config, classes: readonly string[]): TorchParam[] {
  const { backbone, pyramid, options, channels, rpnOptions, headOptions } = resolveModel(config);
  if (pyramid === null) throw new ConfigError("model.backbone.fpn: torchvision's Faster R-CNN models have a feature pyramid; a single-map (C4) model has no torchvision names");
  if (classes.length === 0) throw new Error('torchParamMap: the dataset has no classes');
  const head = config.model.rcnn;
  const [size] = headOptions.poolSize;
  const boxHead =
    head.head === 'conv-fc'
      ? convFcHeadParamSpecs(headOptions).map((s) => entry(s.name, [s.torchName], s.shape, s.kind, s.flattenFrom))
      : [...linear(`${BOX_HEAD_PREFIX}.fc6`, channels * size * size, head.hidden, [channels, size, size]), ...linear(`${BOX_HEAD_PREFIX}.fc7`, head.hidden, head.hidden)];
  const predictor = 'roi_heads.box_predictor';
  const k = classes.length + 1;
  return [
    ...backbone.paramSpecs(options).map((s) => entry(`backbone.${s.name}`, [bodyName(s.torchName)], s.shape, s.kind, s.flattenFrom)),
    ...fpnParamSpecs(pyramid.fpn).map((s) => entry(`fpn.${s.name}`, [`backbone.fpn.${s.torchName}`, s.legacyTorchName && `backbone.fpn.${s.legacyTorchName}`], s.shape, s.kind)),
    ...rpnHeadParamSpecs(rpnOptions, channels).map((s) => entry(`rpn.head.${s.name}`, [`rpn.head.${s.torchName}`, s.legacyTorchName && `rpn.head.${s.legacyTorchName}`], s.shape, s.kind)),
    ...boxHead,
    ...linear(`${predictor}.cls_score`, head.hidden, k),
    ...linear(`${predictor}.bbox_pred`, head.hidden, 4 * k),
  ];
}

/** A torchvision tensor's values (row-major in `param.torchShape`) in Lumen's layout for `param`. */
export function torchToLumen(param: TorchParam, data: Float32Array): Float32Array {
  return fromTorchLayout(param, data);
}
