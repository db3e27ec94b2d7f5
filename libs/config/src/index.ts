// Lumen's configuration: commented defaults (defaults.ts), a strict schema (schema.ts), named
// YAML configs holding only their differences, and `--set a.b=c` overrides.
export { DEFAULTS, FPN_DEFAULTS } from './defaults';
export {
  BACKBONE_BATCH_NORM,
  BACKBONES,
  BOX_HEADS,
  configSchema,
  DATASET_TYPES,
  FPN_EXTRA_BLOCKS,
  FPN_NORMS,
  METRICS,
  OBJECTNESS_MODES,
  OPTIMIZERS,
  ROI_POOL_MODES,
  SCHEDULES,
  SPLIT_NAMES,
} from './schema';
export type { BackboneConfig, Config, DataConfig, EvalConfig, FpnConfig, ModelConfig, TrainConfig } from './schema';
export {
  ConfigError,
  configToYaml,
  defaultConfigDir,
  listConfigs,
  loadConfig,
  mergeConfig,
  parseOverride,
  validateConfig,
} from './load';
export type { LoadConfigOptions, LoadedConfig } from './load';
export { describeBackbone } from './describe';
