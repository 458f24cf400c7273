// Reading the `model:` section stored in a .nemo archive's model_config.yaml as a validated NEST model config.
import { parse } from 'yaml';
import { validateNestConfig, type NestModelConfig } from '../config/index.js';

export function nestModelConfigFromYaml(modelYaml: string, file: string): { model: NestModelConfig; warnings: string[] } {
  const model = parse(modelYaml) as Record<string, unknown>;
  if (model === null || typeof model !== 'object') throw new Error(`${file}: model_config.yaml is not a mapping`);
  const { config, warnings } = validateNestConfig({ name: String(model.name ?? 'model'), model, trainer: {}, exp_manager: {} } as never, {
    file,
    training: false,
  }); // a stored model: refused training-only values are warnings
  return { model: config.model, warnings };
}
