// The streaming diarizer's configuration: NeMo's SortformerEncLabelModel layout
// (examples/speaker_tasks/diarization/conf/neural_diarizer/streaming_sortformer_diarizer_4spk-v2.yaml, trained by
// streaming_sortformer_diar_train.py with maybe_init_from_pretrained_checkpoint) and its validation, for
// `streamnest finetune-diar --config` and for the model_config.yaml a diarizer .nemo carries.
// Provenance: SortformerEncLabelModel.__init__ / _init_loss_weights / __setup_dataloader_from_config and
// AudioToSpeechE2ESpkDiarDataset's arguments. streamnest's diarizer is NeMo's speaker head without the Transformer
// encoder (full self-attention is not causal), so transformer_encoder must be null (or num_layers: 0).
// The defaults of absent keys (and of finetune-diar's flags, through configs/diar_streaming_tiny.yaml) live here.

import { ConfigError } from '../config-error.js';
import type { ConfigMap, ConfigValue } from '../config-tree.js';
import { isConfigMap } from '../config-tree.js';
import { resolveInterpolations } from '../interpolation.js';
import type { KeyTable } from '../key-status.js';
import { isEmpty, isOneOf, noEffect, noEffectAll, refuseUnless, refuseUnlessEmpty, refuseWhen } from '../key-status.js';
import { SectionReader, newValidationContext } from '../section-reader.js';
import { ENCODER_KEYS, readEncoderConfig } from './encoder.js';
import type { EncoderConfig } from './encoder.js';
import { CHECKPOINT_CALLBACK_KEYS, EXP_MANAGER_KEYS, readExpManagerConfig } from './exp-manager.js';
import type { ExpManagerConfig } from './exp-manager.js';
import type { ValidateOptions } from './nest.js';
import { OPTIM_KEYS, SCHED_KEYS, readOptimConfig } from './optim.js';
import type { OptimConfig } from './optim.js';
import { PREPROCESSOR_KEYS, readPreprocessorConfig } from './preprocessor.js';
import type { PreprocessorConfig } from './preprocessor.js';
import { TRAINER_KEYS, readTrainerConfig } from './trainer.js';
import type { TrainerConfig } from './trainer.js';

export const SORTFORMER_TARGET = 'nemo.collections.asr.models.sortformer_diar_models.SortformerEncLabelModel';
export const SORTFORMER_MODULES_TARGET = 'nemo.collections.asr.modules.sortformer_modules.SortformerModules';

/** Defaults of absent keys (NeMo's streaming Sortformer recipe where it has one). */
export const SORTFORMER_DEFAULTS = {
  max_num_of_spks: 4,
  ats_weight: 0.5,
  pil_weight: 0.5,
  fc_d_model: 512,
  tf_d_model: 192,
  dropout_rate: 0.5,
  /** -1: whole sessions (AudioToSpeechE2ESpkDiarDataset crops each session to its first session_len_sec seconds). */
  session_len_sec: -1,
  soft_label_thres: 0.5,
  soft_targets: false,
  seed: 1234,
} as const;

/** The speaker head's arguments (SortformerModules; the diarizer's SortformerHeadConfig). */
export interface SortformerModulesConfig {
  readonly num_spks: number;
  /** The encoder's output width (model_defaults.fc_d_model). */
  readonly fc_d_model: number;
  /** The head's width (model_defaults.tf_d_model). */
  readonly tf_d_model: number;
  readonly dropout_rate: number;
}

export interface DiarizationDatasetConfig {
  readonly manifest_filepath: string;
  readonly batch_size: number;
  /** Seconds each session is cropped to; -1: whole sessions. */
  readonly session_len_sec: number;
  readonly soft_targets: boolean;
  readonly soft_label_thres: number;
}

export interface DiarizerModelConfig {
  readonly sample_rate: number;
  readonly max_num_of_spks: number;
  /** As written (the loss normalises them to sum to 1, as NeMo's _init_loss_weights). */
  readonly ats_weight: number;
  readonly pil_weight: number;
  /** streamnest key: optimizer steps during which the encoder is frozen (eval mode, no gradients). */
  readonly freeze_encoder_steps: number;
  readonly train_ds: DiarizationDatasetConfig;
  /** null: no validation (validation_ds absent, null, or its manifest_filepath null). */
  readonly validation_ds: DiarizationDatasetConfig | null;
  readonly preprocessor: PreprocessorConfig;
  readonly encoder: EncoderConfig;
  readonly sortformer_modules: SortformerModulesConfig;
  readonly optim: OptimConfig;
}

export interface DiarizerConfig {
  readonly name: string;
  /** streamnest key: seed of the head initialisation, data order and dropout (NeMo's script seeds 42 in code). */
  readonly seed: number;
  /** The pretrained .nemo whose preprocessor and encoder start the model; null: from scratch, sections as given. */
  readonly init_from_nemo_model: string | null;
  /** streamnest key: take only the architecture of init_from_nemo_model, not its weights (no-pretraining baseline). */
  readonly from_scratch: boolean;
  readonly model: DiarizerModelConfig;
  readonly trainer: TrainerConfig;
  readonly exp_manager: ExpManagerConfig;
}

export interface ValidatedDiarizerConfig {
  readonly config: DiarizerConfig;
  readonly warnings: string[];
  /** The tree with interpolations resolved (its `model` is what the .nemo stores). */
  readonly resolved: ConfigMap;
}

const INTERPOLATION_SOURCE = 'read only through ${...} interpolations of other keys';
const always = (): boolean => true;
const LHOTSE_ONLY = "only with use_lhotse (NeMo's Lhotse pipeline), which is refused";
const WHOLE_SET = 'sessions are read once, whole (or cropped to session_len_sec), into memory';

const TRANSFORMER_REFUSED =
  "NeMo's Sortformer Transformer encoder (full self-attention over the whole session) is not causal, so it cannot stream; streamnest's diarizer has a frame-wise head: set transformer_encoder: null (or num_layers: 0)";
const NO_INIT_FROM =
  'give the pretrained model as a .nemo in init_from_nemo_model (streamnest finetune-diar --init); pretrained-model names and Lightning checkpoints are not read';

/** Top-level keys (streaming_sortformer_diar_train.py: name, model, trainer, exp_manager, init_from_*). */
export const DIARIZER_TOP_KEYS: KeyTable = {
  paths: [''],
  trainingOnly: true,
  honoured: ['name', 'seed', 'init_from_nemo_model', 'from_scratch', 'model', 'trainer', 'exp_manager'],
  refused: {
    defaults: refuseWhen(
      "Hydra's defaults list (composing the configuration from other files) is not supported; merge them into one YAML file",
      "null, empty or ['_self_']",
      (v) => isEmpty(v) || (Array.isArray(v) && v.every((x) => x === '_self_')),
    ),
    init_from_pretrained_model: refuseUnlessEmpty(NO_INIT_FROM),
    init_from_ptl_ckpt: refuseUnlessEmpty(NO_INIT_FROM),
  },
  noEffect: {
    ...noEffectAll(['batch_size', 'num_workers'], INTERPOLATION_SOURCE, always),
    hydra: noEffect("Hydra's own settings, its run folder and job logging: streamnest does not run under Hydra"),
    init_strict: noEffect('the pretrained encoder and preprocessor are always loaded whole (strict)', isOneOf([true])),
  },
};

/** model keys (SortformerEncLabelModel's configuration). */
export const DIARIZER_MODEL_KEYS: KeyTable = {
  paths: ['model'],
  trainingOnly: false,
  honoured: [
    'sample_rate',
    'max_num_of_spks',
    'ats_weight',
    'pil_weight',
    'streaming_mode',
    'freeze_encoder_steps',
    'model_defaults',
    'train_ds',
    'validation_ds',
    'preprocessor',
    'encoder',
    'sortformer_modules',
    'transformer_encoder',
    'loss',
    'optim',
  ],
  refused: {
    spec_augment: refuseUnlessEmpty('spec augment is not applied in diarization training yet (its module lives in src/asr)'),
    augmentor: refuseUnlessEmpty('per-session audio augmentation is not implemented'),
    async_streaming: refuseUnless("NeMo's asynchronous streaming (per-sample speaker caches) is not implemented; the frame-wise head keeps no cache", [false]),
  },
  noEffect: {
    lr: noEffect(INTERPOLATION_SOURCE, always),
    test_ds: noEffect(
      'streamnest runs no test pass (eval-diar scores a manifest)',
      (v) => isEmpty(v) || (isConfigMap(v) && isEmpty(v.manifest_filepath ?? null)),
    ),
    max_batch_dur: noEffect("NeMo's limit on a batch's audio for chunked streaming inference; streamnest streams frame by frame"),
    ...noEffectAll(['target', 'nemo_version'], 'written by NeMo into a stored model; streamnest writes its own'),
  },
};

/** model.model_defaults keys: the widths the sections interpolate. */
export const MODEL_DEFAULTS_KEYS: KeyTable = {
  paths: ['model.model_defaults'],
  trainingOnly: false,
  honoured: ['fc_d_model', 'tf_d_model'],
  refused: {},
  noEffect: {},
};

const STREAMING_CACHE = "streaming Sortformer's speaker cache / FIFO for its Transformer; this frame-wise head keeps no cache";

/** model.sortformer_modules keys (SortformerModules' arguments). */
export const SORTFORMER_MODULES_KEYS: KeyTable = {
  paths: ['model.sortformer_modules'],
  trainingOnly: false,
  honoured: ['_target_', 'num_spks', 'fc_d_model', 'tf_d_model', 'dropout_rate'],
  refused: {},
  noEffect: {
    subsampling_factor: noEffect("the encoder's subsampling_factor is used"),
    ...noEffectAll(
      [
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
      ],
      STREAMING_CACHE,
    ),
  },
};

/** model.loss keys (NeMo's BCELoss). */
export const DIARIZER_LOSS_KEYS: KeyTable = {
  paths: ['model.loss'],
  trainingOnly: false,
  honoured: ['_target_'],
  refused: {
    weight: refuseUnlessEmpty('per-speaker BCE weights are not implemented; every speaker column weighs the same'),
    reduction: refuseUnless("the BCE is always averaged over the valid frames and speakers (NeMo's reduction: mean)", ['mean']),
    sorted_preds: refuseUnless('predictions are never sorted before the loss; the targets are arrival-ordered', [false]),
    sorted_loss: refuseUnless('the targets are arrival-ordered and the loss is not sorted again', [false]),
    class_normalization: refuseUnless('class-normalised BCE is not implemented', [false]),
  },
  noEffect: {},
};

function diarizationDatasetKeys(train: boolean): KeyTable {
  return {
    paths: [train ? 'model.train_ds' : 'model.validation_ds'],
    trainingOnly: true,
    honoured: ['manifest_filepath', 'batch_size', 'session_len_sec', 'soft_targets', 'soft_label_thres', 'sample_rate', 'num_spks'],
    refused: {
      use_lhotse: refuseUnless("NeMo's Lhotse data pipeline (duration-based batches, bucketing) is not implemented; use manifest_filepath and batch_size", [
        false,
      ]),
      is_tarred: refuseUnless('tarred diarization sessions are not implemented; list the sessions in a manifest', [false]),
      tarred_audio_filepaths: refuseUnlessEmpty('tarred diarization sessions are not implemented; list the sessions in a manifest'),
      int_values: refuseUnless('audio is always read as floats in [-1, 1]', [false]),
      shuffle: train
        ? refuseUnless('training sessions are always shuffled each epoch (seeded)', [true])
        : refuseUnless('validation reads the sessions in manifest order', [false]),
      drop_last: train
        ? refuseUnless('the training stream always drops the last partial batch', [true])
        : refuseUnless('validation scores every session', [false]),
    },
    noEffect: {
      ...noEffectAll(['num_workers', 'pin_memory'], WHOLE_SET, (v) => v === null || v === 0 || v === false),
      ...noEffectAll(
        [
          'use_bucketing',
          'num_buckets',
          'bucket_duration_bins',
          'batch_duration',
          'quadratic_duration',
          'bucket_buffer_size',
          'shuffle_buffer_size',
          'min_duration',
          'max_duration',
        ],
        LHOTSE_ONLY,
      ),
      window_stride: noEffect("the preprocessor's window_stride sets the frame rate of the targets"),
      subsampling_factor: noEffect("the encoder's subsampling_factor sets the frame rate of the targets"),
      ...noEffectAll(['validation_mode', 'seq_eval_mode'], 'the validation pass always scores whole sessions'),
      labels: noEffect('speaker labels come from each session RTTM', isEmpty),
      text_field: noEffect('diarization reads no transcripts'),
    },
  };
}

export const DIARIZATION_TRAIN_DS_KEYS: KeyTable = diarizationDatasetKeys(true);
export const DIARIZATION_VALIDATION_DS_KEYS: KeyTable = diarizationDatasetKeys(false);

/** Every section's key table of a diarizer configuration. */
export const DIARIZER_KEY_TABLES: readonly KeyTable[] = [
  DIARIZER_TOP_KEYS,
  DIARIZER_MODEL_KEYS,
  MODEL_DEFAULTS_KEYS,
  DIARIZATION_TRAIN_DS_KEYS,
  DIARIZATION_VALIDATION_DS_KEYS,
  PREPROCESSOR_KEYS,
  ENCODER_KEYS,
  SORTFORMER_MODULES_KEYS,
  DIARIZER_LOSS_KEYS,
  OPTIM_KEYS,
  SCHED_KEYS,
  TRAINER_KEYS,
  EXP_MANAGER_KEYS,
  CHECKPOINT_CALLBACK_KEYS,
];

/** Reads sortformer_modules (defaults for absent keys); `maxSpeakers` is max_num_of_spks. */
export function readSortformerModules(r: SectionReader, maxSpeakers: number): SortformerModulesConfig {
  r.classify(SORTFORMER_MODULES_KEYS);
  r.target('SortformerModules');
  const head: SortformerModulesConfig = {
    num_spks: r.int('num_spks', maxSpeakers, { min: 1, max: 6 }),
    fc_d_model: r.int('fc_d_model', SORTFORMER_DEFAULTS.fc_d_model, { min: 1 }),
    tf_d_model: r.int('tf_d_model', SORTFORMER_DEFAULTS.tf_d_model, { min: 1 }),
    dropout_rate: r.number('dropout_rate', SORTFORMER_DEFAULTS.dropout_rate, { min: 0, max: 1, maxExclusive: true }),
  };
  r.finish();
  return head;
}

/** transformer_encoder: null or num_layers 0 (no Transformer); anything else is a problem naming the reason. */
export function checkTransformerEncoder(r: SectionReader): void {
  const v = r.value('transformer_encoder');
  if (v === undefined || v === null) return;
  if (isConfigMap(v) && v.num_layers === 0) return;
  r.problem('transformer_encoder', TRANSFORMER_REFUSED);
}

function readLoss(r: SectionReader): void {
  r.classify(DIARIZER_LOSS_KEYS);
  r.target('BCELoss');
  r.finish();
}

function readModelDefaults(r: SectionReader): void {
  r.classify(MODEL_DEFAULTS_KEYS);
  r.nullableInt('fc_d_model', null, { min: 1 });
  r.nullableInt('tf_d_model', null, { min: 1 });
  r.finish();
}

function readDataset(r: SectionReader, train: boolean, sampleRate: number, speakers: number): DiarizationDatasetConfig {
  r.classify(train ? DIARIZATION_TRAIN_DS_KEYS : DIARIZATION_VALIDATION_DS_KEYS);
  const sr = r.int('sample_rate', sampleRate, { min: 1 });
  if (sr !== sampleRate) r.problem('sample_rate', `the sessions are read at the model's sample_rate (${sampleRate}); got ${sr}`);
  const spk = r.int('num_spks', speakers, { min: 1 });
  if (spk !== speakers) r.problem('num_spks', `the targets have max_num_of_spks (${speakers}) columns; got ${spk}`);
  const session = r.number('session_len_sec', SORTFORMER_DEFAULTS.session_len_sec);
  if (session !== -1 && !(session > 0)) r.problem('session_len_sec', `expected seconds > 0, or -1 for whole sessions; got ${session}`);
  const d: DiarizationDatasetConfig = {
    manifest_filepath: r.ctx.training ? r.string('manifest_filepath', '') : (r.nullableString('manifest_filepath', null) ?? ''),
    batch_size: r.int('batch_size', 1, { min: 1 }),
    session_len_sec: session,
    soft_targets: r.bool('soft_targets', SORTFORMER_DEFAULTS.soft_targets),
    soft_label_thres: r.number('soft_label_thres', SORTFORMER_DEFAULTS.soft_label_thres, { min: 0, max: 1 }),
  };
  if (train && r.ctx.training && d.manifest_filepath === '') r.problem('manifest_filepath', 'the training sessions are required (a NeMo diarization manifest)');
  r.finish();
  return d;
}

/** validation_ds absent, null, or with manifest_filepath null: no validation. */
function hasValidation(v: ConfigValue | undefined): boolean {
  return isConfigMap(v) && v.manifest_filepath !== null && v.manifest_filepath !== undefined;
}

function checkWidths(m: DiarizerModelConfig, r: SectionReader): void {
  const width = m.encoder.feat_out > 0 ? m.encoder.feat_out : m.encoder.d_model;
  const head = m.sortformer_modules;
  if (head.fc_d_model !== width)
    r.problem(['model', 'sortformer_modules', 'fc_d_model'], `must equal the encoder's output width (${width}); got ${head.fc_d_model}`);
  if (head.num_spks !== m.max_num_of_spks)
    r.problem(['model', 'sortformer_modules', 'num_spks'], `must equal max_num_of_spks (${m.max_num_of_spks}); got ${head.num_spks}`);
  const features = m.preprocessor.features * m.preprocessor.frame_splicing;
  if (m.encoder.feat_in !== features)
    r.problem(['model', 'encoder', 'feat_in'], `must equal preprocessor.features x frame_splicing (${features}); got ${m.encoder.feat_in}`);
  if (m.preprocessor.sample_rate !== m.sample_rate)
    r.problem(['model', 'preprocessor', 'sample_rate'], `must equal model.sample_rate (${m.sample_rate}); got ${m.preprocessor.sample_rate}`);
}

function readModel(r: SectionReader): DiarizerModelConfig {
  r.classify(DIARIZER_MODEL_KEYS);
  const sample_rate = r.int('sample_rate', 16000, { min: 1 });
  const max_num_of_spks = r.int('max_num_of_spks', SORTFORMER_DEFAULTS.max_num_of_spks, { min: 1, max: 6 });
  const ats_weight = r.number('ats_weight', SORTFORMER_DEFAULTS.ats_weight, { min: 0 });
  const pil_weight = r.number('pil_weight', SORTFORMER_DEFAULTS.pil_weight, { min: 0 });
  if (ats_weight + pil_weight === 0) r.problem('pil_weight', 'ats_weight and pil_weight cannot both be 0 (NeMo: they cannot sum to 0)');
  if (r.value('streaming_mode') === false)
    r.problem(
      'streaming_mode',
      "streamnest's diarizer always streams (a causal encoder and a frame-wise head); NeMo's offline Sortformer (streaming_mode: false) needs its Transformer",
    );
  else r.bool('streaming_mode', true);
  checkTransformerEncoder(r);
  readModelDefaults(r.section('model_defaults', false));
  if (r.value('loss') !== undefined && r.value('loss') !== null) readLoss(r.section('loss', false));
  const m: DiarizerModelConfig = {
    sample_rate,
    max_num_of_spks,
    ats_weight,
    pil_weight,
    freeze_encoder_steps: r.int('freeze_encoder_steps', 0, { min: 0 }),
    train_ds: readDataset(r.section('train_ds', r.ctx.training), true, sample_rate, max_num_of_spks),
    validation_ds: hasValidation(r.value('validation_ds')) ? readDataset(r.section('validation_ds', false), false, sample_rate, max_num_of_spks) : null,
    preprocessor: readPreprocessorConfig(r.section('preprocessor', true)),
    encoder: readEncoderConfig(r.section('encoder', true)),
    sortformer_modules: readSortformerModules(r.section('sortformer_modules', false), max_num_of_spks),
    optim: readOptimConfig(r.section('optim', r.ctx.training), ['NoamAnnealing', 'InverseSquareRootAnnealing', 'CosineAnnealing']),
  };
  r.finish();
  return m;
}

/**
 * Resolves interpolations and validates a diarizer configuration (top level: name, model, trainer, exp_manager).
 * Throws a ConfigError listing every problem by key path (and YAML line or override when known).
 */
export function validateDiarizerConfig(raw: ConfigMap, opts: ValidateOptions): ValidatedDiarizerConfig {
  const resolved = resolveInterpolations(raw, opts);
  const ctx = newValidationContext(opts.file, opts.sources, opts.training ?? false);
  const top = SectionReader.open(ctx, [], resolved, true);
  top.classify(DIARIZER_TOP_KEYS);
  const config: DiarizerConfig = {
    name: top.string('name', 'diarizer'),
    seed: top.int('seed', SORTFORMER_DEFAULTS.seed, { min: 0 }),
    init_from_nemo_model: top.nullableString('init_from_nemo_model', null),
    from_scratch: top.bool('from_scratch', false),
    model: readModel(top.section('model', true)),
    trainer: readTrainerConfig(top.section('trainer', false)),
    exp_manager: readExpManagerConfig(top.section('exp_manager', false)),
  };
  if (ctx.training) checkOneProcessRun(config.trainer, top);
  top.finish();
  if (ctx.issues.length === 0) checkWidths(config.model, top);
  if (ctx.issues.length > 0) throw new ConfigError(opts.file, ctx.issues);
  return { config, warnings: ctx.warnings, resolved };
}

/** trainer settings a one-process diarizer run needs (training only: a stored model's config has no trainer). */
function checkOneProcessRun(tr: TrainerConfig, r: SectionReader): void {
  const { devices, num_nodes } = tr;
  if (!(devices === 1 || (Array.isArray(devices) && devices.length === 1)))
    r.problem(
      ['trainer', 'devices'],
      `finetune-diar trains in one process (data-parallel diarization training is not built); use 1, got ${JSON.stringify(devices)}`,
    );
  if (num_nodes !== 1) r.problem(['trainer', 'num_nodes'], `finetune-diar trains in one process; use 1, got ${num_nodes}`);
  if (tr.precision !== '32-true')
    r.problem(['trainer', 'precision'], `finetune-diar trains in float32 (bf16-mixed is built for NEST pretraining only); use 32`);
  if (tr.max_steps <= 0 && tr.max_epochs <= 0)
    r.problem(['trainer', 'max_steps'], 'set max_steps (or max_epochs): with both unlimited (-1) training never ends');
}

/** The model section a diarizer .nemo stores (NeMo's layout); `rest` adds the training sections as validated. */
export function sortformerModelSection(o: {
  encoder: ConfigMap;
  preprocessor: ConfigMap;
  head: SortformerModulesConfig;
  atsWeight: number;
  pilWeight: number;
  rest?: ConfigMap;
}): ConfigMap {
  return {
    target: SORTFORMER_TARGET,
    sample_rate: o.preprocessor.sample_rate ?? 16000,
    max_num_of_spks: o.head.num_spks,
    ats_weight: o.atsWeight,
    pil_weight: o.pilWeight,
    streaming_mode: true,
    model_defaults: { fc_d_model: o.head.fc_d_model, tf_d_model: o.head.tf_d_model },
    ...o.rest,
    preprocessor: o.preprocessor,
    encoder: o.encoder,
    sortformer_modules: { _target_: SORTFORMER_MODULES_TARGET, ...o.head },
    transformer_encoder: null,
  };
}
