// Configuration: NeMo-layout YAML, OmegaConf interpolation, Hydra overrides, typed validation, presets.

export { ConfigError } from './config-error.js';
export type { ConfigIssue } from './config-error.js';
export { MISSING, formatPath, getAt, isConfigMap, parsePath } from './config-tree.js';
export type { ConfigMap, ConfigScalar, ConfigValue, KeyPath } from './config-tree.js';
export { editDistance, closestMatch, suggestPath } from './edit-distance.js';
export { resolveInterpolations } from './interpolation.js';
export type { InterpolationOptions } from './interpolation.js';
export { applyOverrides, parseOverride, parseOverrideValue } from './overrides.js';
export type { ConfigOverride, OverrideKind } from './overrides.js';
export { CONFIGS_DIR, PRESET_ALIASES, listPresets, loadConfig, loadConfigTree, resolveConfigSource } from './presets.js';
export type { LoadedConfig } from './presets.js';
export * from './schema.js';
export { ConfigSourceMap } from './source-map.js';
export { parseYamlConfig, readYamlConfigFile } from './yaml-config.js';
export type { ConfigDocument } from './yaml-config.js';
export { checkStreamingSafety, formatSafetyReport, type SafetyProblem } from './streaming-safety.js';
export { formatKeyReasons, keyStatus, noEffectEntry, refusedEntry, tableKeys } from './key-status.js';
export type { KeyStatus, KeyTable, NoEffectKey, RefusedKey } from './key-status.js';
