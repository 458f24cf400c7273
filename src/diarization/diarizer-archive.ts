// A diarizer as a .nemo: model_config.yaml in NeMo's SortformerEncLabelModel layout (preprocessor, encoder,
// sortformer_modules, max_num_of_spks, ats_weight / pil_weight) and model_weights.ckpt with NeMo's key names.
// Provenance: nemo.collections.asr.models.sortformer_diar_models.SortformerEncLabelModel config
// (examples/speaker_tasks/diarization/conf/neural_diarizer/streaming_sortformer_diarizer_4spk-v2.yaml).
// NeMo cannot restore these archives as they are: its class always builds the Transformer encoder
// (transformer_encoder section), which this diarizer leaves out to stay causal; `transformer_encoder: null` says so.
// NeMo's own Sortformer archives are refused for the same reason (a non-causal Transformer streamnest does not run).
import { parse, stringify } from 'yaml';
import { AudioToMelSpectrogramPreprocessor } from '../audio/index.js';
import { readEncoderSections } from '../checkpoint/model-config.js';
import { readNemoArchive, writeNemoArchive } from '../checkpoint/nemo-archive.js';
import { ConfigError, SORTFORMER_TARGET, checkTransformerEncoder, readSortformerModules, sortformerModelSection, type ConfigMap } from '../config/index.js';
import { isConfigMap } from '../config/config-tree.js';
import { SectionReader, newValidationContext } from '../config/section-reader.js';
import { conformerEncoderArgs } from '../model/encoder-config.js';
import { ConformerEncoder } from '../model/index.js';
import { Diarizer } from './diarizer.js';
import type { SortformerHeadConfig } from './sortformer-head.js';

export { SORTFORMER_TARGET };

/**
 * model_config.yaml of a diarizer: the encoder and preprocessor sections as given, the head's keys, the loss weights
 * (src/config/schema/sortformer.ts sortformerModelSection, the layout its validateDiarizerConfig reads); `rest`: the
 * training sections (train_ds, validation_ds, optim, ...) as validated.
 */
export function diarizerConfigYaml(o: {
  encoder: ConfigMap;
  preprocessor: ConfigMap;
  head: SortformerHeadConfig;
  atsWeight: number;
  pilWeight: number;
  rest?: ConfigMap;
}): string {
  return stringify(sortformerModelSection(o));
}

export function saveDiarizer(path: string, model: Diarizer, configYaml: string): void {
  writeNemoArchive(path, { configYaml, stateDict: model.stateDict() });
}

/** Loads a diarizer .nemo (eval mode); config problems throw a ConfigError naming each key, bad weights name the archive. */
export function loadDiarizer(path: string): { model: Diarizer; warnings: string[] } {
  const a = readNemoArchive(path, { extra: 'none' });
  try {
    const cfg = parse(a.configYaml) as ConfigMap;
    const file = `${path}: model_config.yaml`;
    const cls = typeof cfg?.target === 'string' ? cfg.target.slice(cfg.target.lastIndexOf('.') + 1) : null;
    if (!isConfigMap(cfg) || cls !== 'SortformerEncLabelModel')
      throw new ConfigError(file, [{ path: 'target', message: `expected a SortformerEncLabelModel (a diarizer), got ${JSON.stringify(cfg?.target ?? null)}` }]);
    const ctx = newValidationContext(file);
    checkTransformerEncoder(SectionReader.open(ctx, [], cfg, true));
    if (ctx.issues.length > 0) throw new ConfigError(file, ctx.issues);
    const sections = readEncoderSections(cfg, path);
    const maxSpk = typeof cfg.max_num_of_spks === 'number' ? cfg.max_num_of_spks : 4;
    const head = readSortformerModules(SectionReader.open(ctx, ['sortformer_modules'], cfg.sortformer_modules, true), maxSpk);
    if (ctx.issues.length > 0) throw new ConfigError(file, ctx.issues);
    const model = new Diarizer({
      preprocessor: new AudioToMelSpectrogramPreprocessor({ ...sections.preprocessor }),
      encoder: new ConformerEncoder(conformerEncoderArgs(sections.encoder)),
      head,
      seed: 0,
    });
    try {
      model.loadStateDict(a.stateDict);
    } catch (e) {
      model.dispose();
      throw new Error(`${path}: the weights do not fit the diarizer its config describes: ${(e as Error).message}`, { cause: e });
    }
    return { model: model.eval(), warnings: [...sections.warnings, ...ctx.warnings] };
  } finally {
    for (const x of a.stateDict.values()) x.dispose();
  }
}
