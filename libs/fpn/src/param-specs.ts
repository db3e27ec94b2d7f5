import { resolveFpnOptions, type FpnOptions, type ResolvedFpnOptions } from './options';

/**
 * How a parameter is stored: the same strings as @lumen/backbone's ParamKind, so its
 * `fromTorchLayout` / `torchShape` convert these too (conv: Lumen HWIO, torch OIHW).
 */
export type FpnParamKind = 'conv' | 'bias' | 'bn-weight' | 'bn-bias' | 'bn-mean' | 'bn-var';

/** torchvision's initial values: kaiming_uniform_(a=1) is U(-√(3/fan_in), √(3/fan_in)); the rest constants. */
export type FpnParamInit = { type: 'uniform'; bound: number } | { type: 'constant'; value: number };

/** One parameter of the FPN: its Lumen name, layout and init, and the torchvision tensor it comes from. */
export interface FpnParamSpec {
  /** Lumen's dotted name within the FPN (the checkpoint name under the detector's prefix): `inner_blocks.0.kernel`. */
  name: string;
  /** Shape in Lumen's layout: conv kernels HWIO [kh, kw, in, out]. */
  shape: number[];
  kind: FpnParamKind;
  /** torchvision ≥ 0.13's state-dict name (`FeaturePyramidNetwork` version 2): `inner_blocks.0.0.weight`. */
  torchName: string;
  /**
   * The name in files written before torchvision 0.13 (version 1, e.g. the v1 COCO
   * fasterrcnn_resnet50_fpn_coco-258fb6c6.pth): `inner_blocks.0.weight`. null for the
   * BatchNorm variant, which has no such files.
   */
  legacyTorchName: string | null;
  /** false for running statistics and for frozen BN's affine. */
  trainable: boolean;
  init: FpnParamInit;
}

/** Kernel size of each block group: `inner_blocks` are 1x1 (in -> out), `layer_blocks` 3x3 (out -> out). */
export const BLOCK_KERNEL_SIZES = { inner_blocks: 1, layer_blocks: 3 } as const;
export type BlockGroup = keyof typeof BLOCK_KERNEL_SIZES;

/** One block's specs: its conv kernel, then its bias (norm 'none') or its BN (norm 'batch'). */
function blockSpecs(group: BlockGroup, level: number, inC: number, o: ResolvedFpnOptions): FpnParamSpec[] {
  const k = BLOCK_KERNEL_SIZES[group];
  const outC = o.outChannels;
  const path = `${group}.${level}`;
  // Conv2dNormActivation is a Sequential: the conv is child 0, the BN child 1.
  const conv = `${path}.0`;
  const kernel: FpnParamSpec = {
    name: o.norm === 'batch' ? `${path}.conv.kernel` : `${path}.kernel`,
    shape: [k, k, inC, outC],
    kind: 'conv',
    torchName: `${conv}.weight`,
    legacyTorchName: o.norm === 'batch' ? null : `${path}.weight`,
    trainable: true,
    init: { type: 'uniform', bound: Math.sqrt(3 / (inC * k * k)) },
  };
  if (o.norm === 'none') {
    const bias: FpnParamSpec = {
      name: `${path}.bias`,
      shape: [outC],
      kind: 'bias',
      torchName: `${conv}.bias`,
      legacyTorchName: `${path}.bias`,
      trainable: true,
      init: { type: 'constant', value: 0 },
    };
    return [kernel, bias];
  }
  const affineTrainable = o.batchNorm === 'trainable';
  const bn = (field: string, kind: FpnParamKind, value: number, trainable: boolean): FpnParamSpec => ({
    name: `${path}.bn.${field}`,
    shape: [outC],
    kind,
    torchName: `${path}.1.${field}`,
    legacyTorchName: null,
    trainable,
    init: { type: 'constant', value },
  });
  return [
    kernel,
    bn('weight', 'bn-weight', 1, affineTrainable),
    bn('bias', 'bn-bias', 0, affineTrainable),
    bn('running_mean', 'bn-mean', 0, false),
    bn('running_var', 'bn-var', 1, false),
  ];
}

/**
 * Every parameter of torchvision's FeaturePyramidNetwork for `options`, in its state-dict
 * order (also the order `initFpn` draws in and `flattenParams` lists). Lumen names:
 * - norm 'none': `inner_blocks.<i>.kernel` / `.bias`, `layer_blocks.<i>.kernel` / `.bias`;
 * - norm 'batch': `<group>.<i>.conv.kernel` and `<group>.<i>.bn.weight|bias|running_mean|running_var`.
 * torchvision's BatchNorm `num_batches_tracked` counters have no Lumen parameter.
 */
export function fpnParamSpecs(options: FpnOptions): FpnParamSpec[] {
  const o = resolveFpnOptions('fpnParamSpecs', options);
  return resolvedParamSpecs(o);
}

/** torchvision registers every inner block before every layer block, so its state dict lists them so. */
export function resolvedParamSpecs(o: ResolvedFpnOptions): FpnParamSpec[] {
  const inner = o.inChannels.flatMap((inC, level) => blockSpecs('inner_blocks', level, inC, o));
  const layer = o.inChannels.flatMap((_, level) => blockSpecs('layer_blocks', level, o.outChannels, o));
  return [...inner, ...layer];
}
