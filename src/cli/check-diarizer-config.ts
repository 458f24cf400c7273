// check-config for diarizer configs (NeMo's SortformerEncLabelModel layout, configs/diar_*.yaml): every key through the
// diarizer's schema route, then the streaming safety of its encoder and preprocessor (taken from init_from_nemo_model
// when the config leaves them null, as finetune-diar does).
import { ArgError } from './args.js';
import type { ConfigMap, NestConfig } from '../config/index.js';

/** A config tree in the diarizer's layout: SortformerEncLabelModel target or a sortformer_modules section. */
export function isDiarizerTree(tree: ConfigMap): boolean {
  const model = tree.model as ConfigMap | undefined;
  const target = [tree.target, tree._target_, model?.target, model?._target_].find((x) => typeof x === 'string') as string | undefined;
  return target?.endsWith('SortformerEncLabelModel') === true || (typeof model === 'object' && model !== null && 'sortformer_modules' in model);
}

/** Validates and checks a diarizer config; returns the exit status (1 when the encoder can see the future). */
export async function checkDiarizerConfig(source: string, overrides: readonly string[], o: { json: boolean; maxLookahead?: number }): Promise<number> {
  const { loadDiarizerTrainingConfig } = await import('../train/diarization-training.js');
  const { checkStreamingSafety, formatSafetyReport } = await import('../config/streaming-safety.js');
  const { ConfigError } = await import('../config/index.js');
  let loaded: ReturnType<typeof loadDiarizerTrainingConfig>;
  try {
    loaded = loadDiarizerTrainingConfig(source, [...overrides, 'model.train_ds.manifest_filepath=MANIFEST_NOT_SET']);
  } catch (e) {
    const noInit = e instanceof ConfigError && e.issues.some((i) => i.path === 'init_from_nemo_model' && i.message.startsWith('mandatory value is missing'));
    if (noInit)
      throw new ArgError(
        `check-config: ${source} is a diarizer config whose encoder and preprocessor come from init_from_nemo_model; name the pretrained model to check them: streamnest check-config ${source} init_from_nemo_model=MODEL.nemo`,
      );
    throw e;
  }
  const m = loaded.config.model;
  const asNest = {
    name: 'diarizer',
    streaming: true,
    model: { encoder: m.encoder, preprocessor: m.preprocessor, masking: { causal: true, left_context_size: -1 } },
  };
  const problems = checkStreamingSafety(asNest as unknown as NestConfig, o.maxLookahead === undefined ? {} : { maxLookahead: o.maxLookahead });
  const errors = problems.filter((p) => p.severity === 'error').length;
  const what = `diarizer (SortformerEncLabelModel layout): ${m.max_num_of_spks} speakers, ats_weight ${m.ats_weight}, pil_weight ${m.pil_weight}, head width ${m.sortformer_modules.tf_d_model}, ${m.optim.sched?.name ?? 'constant'} lr ${m.optim.lr}`;
  if (o.json) {
    const report = {
      file: loaded.file,
      kind: 'diarizer',
      safe: errors === 0,
      errors,
      warnings: problems.length - errors,
      config_warnings: loaded.warnings,
      problems,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = [formatSafetyReport(loaded.file, problems), `  ${what}`];
    for (const w of loaded.warnings) lines.push(`  config: ${w}`);
    lines.push(
      `  encoder and preprocessor ${loaded.config.init_from_nemo_model ? `from ${loaded.config.init_from_nemo_model}` : 'as given in the config'}; block masking does not apply (no pretraining)`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return errors > 0 ? 1 : 0;
}
