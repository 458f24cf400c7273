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
import { ConfigError, type ConfigMap } from '../config/index.js';
import { isConfigMap } from '../config/config-tree.js';
import type { KeyTable } from '../config/key-status.js';
import { SectionReader, newValidationContext } from '../config/section-reader.js';
import { conformerEncoderArgs } from '../model/encoder-config.js';
import { ConformerEncoder } from '../model/index.js';
import { Diarizer } from './diarizer.js';
import type { SortformerHeadConfig } from './sortformer-head.js';

export const SORTFORMER_TARGET = 'nemo.collections.asr.models.sortformer_diar_models.SortformerEncLabelModel';

const STREAMING_CACHE = "streaming Sortformer's speaker cache / FIFO for its Transformer; this frame-wise head keeps no cache";
const SORTFORMER_MODULES_KEYS: KeyTable = {
  paths: ['sortformer_modules'],
  trainingOnly: false,
  honoured: ['_target_', 'num_spks', 'fc_d_model', 'tf_d_model', 'dropout_rate'],
  refused: {},
  noEffect: Object.fromEntries(
    [
      'subsampling_factor',
      'spkcache_len',
      'fifo_len',
      'chunk_len',
      'spkcache_update_period',
      'chunk_left_context',
      'chunk_right_context',
      'spkcache_sil_frames_per_spk',
      'scores_add_rnd',
      'pred_score_threshold',
      'max_index',
      'scores_boost_latest',
      'sil_threshold',
      'strong_boost_rate',
      'weak_boost_rate',
      'min_pos_scores_rate',
      'causal_attn_rate',
      'causal_attn_rc',
    ].map((k) => [k, { reason: k === 'subsampling_factor' ? "the encoder's subsampling_factor is used" : STREAMING_CACHE }]),
  ),
};

/** Reads model.sortformer_modules (NeMo defaults for absent keys); problems go to the reader's context. */
function readHead(r: SectionReader, maxSpeakers: number): SortformerHeadConfig {
  r.classify(SORTFORMER_MODULES_KEYS);
  r.target('SortformerModules');
  const head = {
    num_spks: r.int('num_spks', maxSpeakers, { min: 1, max: 6 }),
    fc_d_model: r.int('fc_d_model', 512, { min: 1 }),
    tf_d_model: r.int('tf_d_model', 192, { min: 1 }),
    dropout_rate: r.number('dropout_rate', 0.5, { min: 0, max: 1, maxExclusive: true }),
  };
  r.finish();
  return head;
}

/** model_config.yaml of a diarizer: the encoder and preprocessor sections as given, the head's keys, the loss weights. */
export function diarizerConfigYaml(o: {
  encoder: ConfigMap;
  preprocessor: ConfigMap;
  head: SortformerHeadConfig;
  atsWeight: number;
  pilWeight: number;
}): string {
  return stringify({
    target: SORTFORMER_TARGET,
    sample_rate: o.preprocessor.sample_rate ?? 16000,
    max_num_of_spks: o.head.num_spks,
    ats_weight: o.atsWeight,
    pil_weight: o.pilWeight,
    streaming_mode: true,
    model_defaults: { fc_d_model: o.head.fc_d_model, tf_d_model: o.head.tf_d_model },
    preprocessor: o.preprocessor,
    encoder: o.encoder,
    sortformer_modules: { _target_: 'nemo.collections.asr.modules.sortformer_modules.SortformerModules', ...o.head },
    transformer_encoder: null,
  });
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
    const tf = cfg.transformer_encoder;
    if (isConfigMap(tf) && tf.num_layers !== 0)
      throw new ConfigError(file, [
        {
          path: 'transformer_encoder',
          message:
            "NeMo's Sortformer Transformer encoder (full self-attention, not causal) is not implemented; streamnest's diarizer has a frame-wise head (transformer_encoder: null)",
        },
      ]);
    const sections = readEncoderSections(cfg, path);
    const ctx = newValidationContext(file);
    const maxSpk = typeof cfg.max_num_of_spks === 'number' ? cfg.max_num_of_spks : 4;
    const head = readHead(SectionReader.open(ctx, ['sortformer_modules'], cfg.sortformer_modules, true), maxSpk);
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
