// The whole NEST training configuration (NeMo's nest_fast-conformer.yaml layout) and its validation.

import { ConfigError } from '../config-error.js';
import type { ConfigMap } from '../config-tree.js';
import { resolveInterpolations } from '../interpolation.js';
import type { KeyTable } from '../key-status.js';
import { isEmpty, isOneOf, noEffect, noEffectAll, refuseUnlessEmpty, refuseWhen } from '../key-status.js';
import { SectionReader, newValidationContext } from '../section-reader.js';
import type { ConfigSourceMap } from '../source-map.js';
import { BATCH_AUGMENTOR_KEYS, DATASET_KEYS, readDatasetConfig } from './dataset.js';
import type { DatasetConfig } from './dataset.js';
import { DECODER_KEYS, readDecoderConfig } from './decoder.js';
import type { DecoderConfig } from './decoder.js';
import { ENCODER_KEYS, readEncoderConfig } from './encoder.js';
import type { EncoderConfig } from './encoder.js';
import { CHECKPOINT_CALLBACK_KEYS, EXP_MANAGER_KEYS, readExpManagerConfig } from './exp-manager.js';
import type { ExpManagerConfig } from './exp-manager.js';
import { LOSS_KEYS, readLossConfig } from './loss.js';
import type { LossConfig } from './loss.js';
import { MASKING_KEYS, readMaskingConfig } from './masking.js';
import type { MaskingConfig } from './masking.js';
import { OPTIM_KEYS, SCHED_KEYS, readOptimConfig } from './optim.js';
import type { OptimConfig } from './optim.js';
import { PREPROCESSOR_KEYS, readPreprocessorConfig } from './preprocessor.js';
import type { PreprocessorConfig } from './preprocessor.js';
import { QUANTIZER_KEYS, readQuantizerConfig } from './quantizer.js';
import type { QuantizerConfig } from './quantizer.js';
import { TRAINER_KEYS, readTrainerConfig } from './trainer.js';
import type { TrainerConfig } from './trainer.js';

/** model.target_normalize (streamnest): how the quantizer's input is normalised; 'none' is NeMo's behaviour. */
export const TARGET_NORMALIZATIONS = ['none', 'per_utterance', 'per_frame'] as const;
export type TargetNormalize = (typeof TARGET_NORMALIZATIONS)[number];

/** model.target_alignment (streamnest): with causal downsampling, which encoder frame is scored for token group k. */
export const TARGET_ALIGNMENTS = ['first_frames', 'whole_group'] as const;
export type TargetAlignmentName = (typeof TARGET_ALIGNMENTS)[number];

/** model keys (EncDecDenoiseMaskedTokenPredModel's configuration). */
export const MODEL_KEYS: KeyTable = {
  paths: ['model'],
  trainingOnly: false,
  honoured: [
    'sample_rate',
    'num_classes',
    'num_books',
    'code_dim',
    'squeeze_single',
    'mask_position',
    'target_normalize',
    'target_alignment',
    'train_ds',
    'validation_ds',
    'preprocessor',
    'masking',
    'quantizer',
    'encoder',
    'decoder',
    'loss',
    'optim',
  ],
  refused: {},
  noEffect: {
    spec_augment: noEffect('NEST never applies it; NeMo builds it without calling it'),
    test_ds: noEffect('streamnest runs no test pass'),
    ...noEffectAll(['target', 'nemo_version'], 'written by NeMo into a stored model; streamnest writes its own'),
    ...noEffectAll(['labels', 'tokenizer', 'compute_eval_loss', 'log_prediction'], 'speech-recognition settings: NEST pretraining reads no text'),
  },
};

const INIT_FROM =
  'initialising pretraining from another model is not implemented (pretraining starts from random weights; streamnest finetune --init starts CTC fine-tuning from a .nemo)';

/** Top-level keys (NeMo's training scripts: name, model, trainer, exp_manager, Hydra's and the init_from_* keys). */
export const TOP_KEYS: KeyTable = {
  paths: [''],
  trainingOnly: true,
  honoured: ['name', 'streaming', 'model', 'trainer', 'exp_manager'],
  refused: {
    defaults: refuseWhen(
      "Hydra's defaults list (composing the configuration from other files) is not supported; merge them into one YAML file",
      "null, empty or ['_self_']",
      (v) => isEmpty(v) || (Array.isArray(v) && v.every((x) => x === '_self_')),
    ),
    init_from_nemo_model: refuseUnlessEmpty(INIT_FROM),
    init_from_pretrained_model: refuseUnlessEmpty(INIT_FROM),
    init_from_ptl_ckpt: refuseUnlessEmpty(INIT_FROM),
  },
  noEffect: {
    hydra: noEffect("Hydra's own settings, its run folder and job logging: streamnest does not run under Hydra"),
    init_strict: noEffect('only with init_from_*, which is not implemented', isOneOf([true])),
  },
};

/** Every section's key table (the sections of a NEST training configuration). */
export const KEY_TABLES: readonly KeyTable[] = [
  TOP_KEYS,
  MODEL_KEYS,
  DATASET_KEYS,
  BATCH_AUGMENTOR_KEYS,
  PREPROCESSOR_KEYS,
  MASKING_KEYS,
  QUANTIZER_KEYS,
  ENCODER_KEYS,
  DECODER_KEYS,
  LOSS_KEYS,
  OPTIM_KEYS,
  SCHED_KEYS,
  TRAINER_KEYS,
  EXP_MANAGER_KEYS,
  CHECKPOINT_CALLBACK_KEYS,
];

export interface NestModelConfig {
  readonly sample_rate: number;
  /** Shared values the sections interpolate (`${model.num_classes}`, ...); null when absent. */
  readonly num_classes: number | null;
  readonly num_books: number | null;
  readonly code_dim: number | null;
  readonly squeeze_single: boolean;
  readonly mask_position: 'pre_conv' | 'post_conv';
  /**
   * streamnest: normalisation of the clean features before the quantizer turns them into targets (training only, so
   * it may see the whole utterance). Absent: 'none', NeMo's behaviour. NeMo ignores the key when it loads the config.
   */
  readonly target_normalize: TargetNormalize;
  /**
   * streamnest: with causal_downsampling the encoder emits G + 1 frames for G token groups. 'first_frames' (absent
   * key; the golden fixtures' pairing): frame k scores group k, the last frame is dropped. 'whole_group': frame k + 1
   * scores group k, so every scored frame has seen its whole group. No effect without causal downsampling.
   */
  readonly target_alignment: TargetAlignmentName;
  readonly train_ds: DatasetConfig;
  /** null when the configuration has no validation set. */
  readonly validation_ds: DatasetConfig | null;
  readonly preprocessor: PreprocessorConfig;
  readonly masking: MaskingConfig;
  readonly quantizer: QuantizerConfig;
  readonly encoder: EncoderConfig;
  readonly decoder: DecoderConfig;
  readonly loss: LossConfig;
  readonly optim: OptimConfig;
}

export interface NestConfig {
  readonly name: string;
  /**
   * streamnest: the configuration declares itself streaming (`streaming: true`) or not (`false`);
   * null when it does not say. Streaming safety is checked elsewhere.
   */
  readonly streaming: boolean | null;
  readonly model: NestModelConfig;
  readonly trainer: TrainerConfig;
  readonly exp_manager: ExpManagerConfig;
}

export interface ValidateOptions {
  /** File named in messages. */
  readonly file: string;
  /** Where each key came from (YAML lines, overrides). */
  readonly sources?: ConfigSourceMap;
  /**
   * True (loadConfig) when the configuration is to train: training settings streamnest refuses are errors. False
   * (default): the configuration stored with a model, where they are only reported as warnings.
   */
  readonly training?: boolean;
}

export interface ValidatedConfig {
  readonly config: NestConfig;
  /** Keys with no effect in streamnest (one line per section) and other non-fatal remarks. */
  readonly warnings: string[];
  /** The configuration tree with every interpolation resolved (what NeMo dumps to model_config.yaml). */
  readonly resolved: ConfigMap;
}

function checkConsistency(m: NestModelConfig, r: SectionReader): void {
  const features = m.preprocessor.features;
  const width = m.encoder.feat_out > 0 ? m.encoder.feat_out : m.encoder.d_model;
  const must = (ok: boolean, section: string, key: string, message: string): void => {
    if (!ok) r.problem(['model', section, key], message);
  };
  must(
    m.encoder.feat_in === features * m.preprocessor.frame_splicing,
    'encoder',
    'feat_in',
    `must equal preprocessor.features (${features}); got ${m.encoder.feat_in}`,
  );
  if (m.mask_position === 'pre_conv') {
    // post_conv: NeMo rewrites these at construction (spec 00 §1.1), so they are not checked then.
    must(m.masking.feat_in === features, 'masking', 'feat_in', `must equal preprocessor.features (${features}) for pre_conv masking; got ${m.masking.feat_in}`);
    must(m.quantizer.feat_in === features, 'quantizer', 'feat_in', `must equal preprocessor.features (${features}) for pre_conv; got ${m.quantizer.feat_in}`);
    const s = m.encoder.subsampling_factor;
    must(
      m.quantizer.combine_time_steps === s,
      'quantizer',
      'combine_time_steps',
      `must equal encoder.subsampling_factor (${s}) for pre_conv; got ${m.quantizer.combine_time_steps}`,
    );
    must(
      m.loss.combine_time_steps === s,
      'loss',
      'combine_time_steps',
      `must equal encoder.subsampling_factor (${s}) for pre_conv; got ${m.loss.combine_time_steps}`,
    );
  }
  must(m.decoder.feat_in === width, 'decoder', 'feat_in', `must equal the encoder output width (${width}); got ${m.decoder.feat_in}`);
  must(
    m.decoder.num_classes === m.quantizer.num_classes,
    'decoder',
    'num_classes',
    `must equal quantizer.num_classes (${m.quantizer.num_classes}); got ${m.decoder.num_classes}`,
  );
  must(
    m.decoder.num_decoders === m.quantizer.num_books,
    'decoder',
    'num_decoders',
    `must equal quantizer.num_books (${m.quantizer.num_books}); got ${m.decoder.num_decoders}`,
  );
  must(
    m.loss.num_decoders === m.quantizer.num_books,
    'loss',
    'num_decoders',
    `must equal quantizer.num_books (${m.quantizer.num_books}); got ${m.loss.num_decoders}`,
  );
  if (!m.masking.causal && m.masking.left_context_size !== -1) {
    r.ctx.warnings.push('model.masking.left_context_size only applies with model.masking.causal: true; it is ignored');
  }
}

function readModel(r: SectionReader): NestModelConfig {
  r.classify(MODEL_KEYS);
  const sample_rate = r.int('sample_rate', 16000, { min: 1 });
  const valRaw = r.value('validation_ds');
  const m: NestModelConfig = {
    sample_rate,
    num_classes: r.nullableInt('num_classes', null, { min: 2 }),
    num_books: r.nullableInt('num_books', null, { min: 1 }),
    code_dim: r.nullableInt('code_dim', null, { min: 1 }),
    squeeze_single: r.bool('squeeze_single', false),
    mask_position: r.oneOf('mask_position', ['pre_conv', 'post_conv'] as const, 'pre_conv'),
    target_normalize: r.oneOf('target_normalize', TARGET_NORMALIZATIONS, 'none'),
    target_alignment: r.oneOf('target_alignment', TARGET_ALIGNMENTS, 'first_frames'),
    train_ds: readDatasetConfig(r.section('train_ds', true), sample_rate),
    validation_ds: valRaw === undefined || valRaw === null ? null : readDatasetConfig(r.section('validation_ds', false), sample_rate),
    preprocessor: readPreprocessorConfig(r.section('preprocessor', true)),
    masking: readMaskingConfig(r.section('masking', true)),
    quantizer: readQuantizerConfig(r.section('quantizer', true)),
    encoder: readEncoderConfig(r.section('encoder', true)),
    decoder: readDecoderConfig(r.section('decoder', true)),
    loss: readLossConfig(r.section('loss', true)),
    optim: readOptimConfig(r.section('optim', true)),
  };
  r.finish();
  return m;
}

/**
 * Resolves interpolations in `raw` and validates it as a NEST configuration. Throws a `ConfigError`
 * listing every problem (each with its key path, and line or override when known).
 */
export function validateNestConfig(raw: ConfigMap, opts: ValidateOptions): ValidatedConfig {
  const resolved = resolveInterpolations(raw, opts);
  const ctx = newValidationContext(opts.file, opts.sources, opts.training ?? false);
  const top = SectionReader.open(ctx, [], resolved, true);
  top.classify(TOP_KEYS);
  const name = top.string('name', 'streamnest');
  const s = top.value('streaming');
  let streaming: boolean | null = null;
  if (typeof s === 'boolean') streaming = s;
  else if (s !== undefined && s !== null) top.problem('streaming', `expected true or false; got ${JSON.stringify(s)}`);
  const modelReader = top.section('model', true);
  const model = readModel(modelReader);
  const config: NestConfig = {
    name,
    streaming,
    model,
    trainer: readTrainerConfig(top.section('trainer', false)),
    exp_manager: readExpManagerConfig(top.section('exp_manager', false)),
  };
  top.finish();
  if (ctx.issues.length === 0) checkConsistency(model, top);
  if (ctx.issues.length > 0) throw new ConfigError(opts.file, ctx.issues);
  return { config, warnings: ctx.warnings, resolved };
}
