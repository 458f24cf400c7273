// Reading the `model:` section stored in a .nemo archive's model_config.yaml as a validated NEST model config
// (streamnest's masking keys are stored under streamnest_masking, where NeMo ignores them: nemoMaskingSplit).
import { parse } from 'yaml';
import { validateNestConfig, withMaskingExtensions, type ConfigMap, type NestModelConfig } from '../config/index.js';

export function nestModelConfigFromYaml(modelYaml: string, file: string): { model: NestModelConfig; warnings: string[] } {
  const stored = parse(modelYaml) as ConfigMap;
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) throw new Error(`${file}: model_config.yaml is not a mapping`);
  const model = withMaskingExtensions(stored, file); // streamnest's masking keys, kept apart for NeMo's sake
  const { config, warnings } = validateNestConfig({ name: String(model.name ?? 'model'), model, trainer: {}, exp_manager: {} } as never, {
    file,
    training: false,
  }); // a stored model: refused training-only values are warnings
  return { model: config.model, warnings };
}
