// Speech-recognition fine-tuning configurations (NeMo's speech_to_text_ctc(_bpe).py / speech_to_text_rnnt(_bpe).py /
// speech_to_text_hybrid_rnnt_ctc(_bpe).py layout): the sections every family shares (top level, model.train_ds /
// validation_ds, model.optim, trainer, exp_manager) and the CTC model's own keys (model, model.decoder). A transducer's
// model keys are read by readTransducerConfig; model.encoder / preprocessor by their readers when the model is built;
// model.tokenizer by readTokenizerSection. Every key is honoured, refused with its reason, or reported as having no
// effect; an unknown key is a warning, or an error when it looks like a typo.
// Provenance: nemo.collections.asr.models.ctc_models.EncDecCTCModel.__init__ (ctc_reduction, decoder, decoding,
// interctc), ASRModel (skip_nan_grad), the example scripts' init_from_* keys and exp_manager's checkpoint monitor.

import { ConfigError } from '../config-error.js';
import type { ConfigMap } from '../config-tree.js';
import type { KeyTable } from '../key-status.js';
import { noEffect, noEffectAll, refuseUnless, refuseUnlessEmpty } from '../key-status.js';
import { SectionReader, newValidationContext } from '../section-reader.js';
import type { ConfigSourceMap } from '../source-map.js';
import { RNNT_AUX_CTC_DECODER_KEYS, RNNT_AUX_CTC_KEYS, hasAuxCtc } from './aux-ctc.js';
import { DATASET_KEYS, readDatasetConfig } from './dataset.js';
import type { DatasetConfig } from './dataset.js';
import { EXP_MANAGER_KEYS, FINETUNE_CHECKPOINT_CALLBACK_KEYS, readExpManagerConfig } from './exp-manager.js';
import type { ExpManagerConfig } from './exp-manager.js';
import { OPTIM_KEYS, SCHED_KEYS, readOptimConfig } from './optim.js';
import type { OptimConfig } from './optim.js';
import { TOP_KEYS } from './nest.js';
import { TRAINER_KEYS, readTrainerConfig } from './trainer.js';
import type { TrainerConfig } from './trainer.js';
import { RNNT_MODEL_KEYS } from './transducer.js';

const INIT_FROM = 'streamnest finetune --init MODEL.nemo names the model to start from (its encoder and preprocessor weights); remove this key';

/** Top-level keys of a fine-tuning configuration. */
export const FINETUNE_TOP_KEYS: KeyTable = {
  paths: [''],
  trainingOnly: true,
  honoured: ['name', 'model', 'trainer', 'exp_manager'],
  refused: {
    defaults: TOP_KEYS.refused.defaults!,
    init_from_nemo_model: refuseUnlessEmpty(INIT_FROM),
    init_from_pretrained_model: refuseUnlessEmpty(INIT_FROM),
    init_from_ptl_ckpt: refuseUnlessEmpty(INIT_FROM),
  },
  noEffect: {
    hydra: TOP_KEYS.noEffect.hydra!,
    init_strict: TOP_KEYS.noEffect.init_strict!,
  },
};

/** model keys of a CTC model (EncDecCTCModel / EncDecCTCModelBPE). */
export const CTC_MODEL_KEYS: KeyTable = {
  paths: ['model'],
  trainingOnly: false,
  honoured: [
    'sample_rate',
    'labels',
    'tokenizer',
    'train_ds',
    'validation_ds',
    'preprocessor',
    'spec_augment',
    'encoder',
    'decoder',
    'optim',
    'freeze_encoder_steps',
    'target',
    'nemo_version',
  ],
  refused: {
    ctc_reduction: RNNT_AUX_CTC_KEYS.refused.ctc_reduction!,
    use_cer: refuseUnless(
      'validation ranks checkpoints by word error rate (the character error rate is logged beside it as val_cer); ranking by it is not implemented',
      [false],
    ),
    decoding: RNNT_AUX_CTC_KEYS.refused.decoding!,
    skip_nan_grad: RNNT_MODEL_KEYS.refused.skip_nan_grad!,
    interctc: RNNT_MODEL_KEYS.refused.interctc!,
  },
  noEffect: {
    compute_eval_loss: RNNT_MODEL_KEYS.noEffect.compute_eval_loss!,
    log_prediction: RNNT_MODEL_KEYS.noEffect.log_prediction!,
    test_ds: RNNT_MODEL_KEYS.noEffect.test_ds!,
  },
};

/** model.decoder of a CTC model: NeMo's ConvASRDecoder arguments. */
export const CTC_DECODER_KEYS: KeyTable = { ...RNNT_AUX_CTC_DECODER_KEYS, paths: ['model.decoder'] };

const NO_MIXING = 'fine-tuning reads the labelled audio as it is; noise and speech mixing is built for NEST pretraining only';

/** model.train_ds / validation_ds of a fine-tuning configuration (NeMo's AudioToCharDataset / AudioToBPEDataset). */
export const FINETUNE_DATASET_KEYS: KeyTable = {
  ...DATASET_KEYS,
  paths: ['model.train_ds', 'model.validation_ds'],
  refused: {
    ...DATASET_KEYS.refused,
    use_start_end_token: refuseUnless('no start or end token is added to the transcripts', [false]),
  },
  noEffect: {
    ...Object.fromEntries(Object.entries(DATASET_KEYS.noEffect).filter(([k]) => !['use_start_end_token', 'labels', 'parser'].includes(k))),
    labels: noEffect('the labels are model.labels (or the tokenizer pieces); the dataset takes them from there'),
    ...noEffectAll(
      ['parser', 'normalize', 'normalize_transcripts'],
      "transcripts are always normalised streamnest's way (lowercase, punctuation removed, whitespace collapsed) before labelling",
    ),
  },
};

/** Every table of the sections this file reads. */
export const FINETUNE_KEY_TABLES: readonly KeyTable[] = [
  FINETUNE_TOP_KEYS,
  CTC_MODEL_KEYS,
  CTC_DECODER_KEYS,
  FINETUNE_DATASET_KEYS,
  OPTIM_KEYS,
  SCHED_KEYS,
  TRAINER_KEYS,
  EXP_MANAGER_KEYS,
  FINETUNE_CHECKPOINT_CALLBACK_KEYS,
];

/** Which model a fine-tuning configuration trains; the transducer families' model keys are read elsewhere. */
export type FinetuneFamily = 'ctc' | 'rnnt' | 'hybrid';

/**
 * What a fine-tuning config's model section trains (NeMo's training configs carry no `target`): a joint network makes
 * it a transducer (EncDecRNNTModel; with a non-empty aux_ctc a hybrid RNN-T/CTC model), else CTC.
 */
export function finetuneFamilyOf(model: ConfigMap): FinetuneFamily {
  if (model.joint === undefined || model.joint === null) return 'ctc';
  return hasAuxCtc(model.aux_ctc) ? 'hybrid' : 'rnnt';
}

/** The validated sections of a fine-tuning configuration. */
export interface FinetuneConfig {
  readonly name: string;
  readonly model: {
    /** The validated training set (the data loader reads it). */
    readonly train_ds: DatasetConfig;
    /** null: no validation (absent, or manifest_filepath null). */
    readonly validation_ds: DatasetConfig | null;
    /** streamnest key: steps during which the encoder is frozen (no gradients, eval mode), as NeMo's encoder.freeze(). */
    readonly freeze_encoder_steps: number;
    readonly optim: OptimConfig;
  };
  readonly trainer: TrainerConfig;
  /** exp_dir and name filled in: exp_dir `nemo_experiments` (NeMo's default), name the configuration's name. */
  readonly exp_manager: ExpManagerConfig & { readonly exp_dir: string; readonly name: string };
}

export interface ValidatedFinetuneConfig {
  readonly config: FinetuneConfig;
  /** Keys with no effect, unknown keys (one line per section). */
  readonly warnings: string[];
}

/**
 * Validates the shared sections of a resolved fine-tuning configuration (and, for CTC, the model's own keys). Throws a
 * ConfigError listing every problem, each with its key path and its YAML line or override when known.
 */
export function validateFinetuneConfig(
  resolved: ConfigMap,
  opts: { file: string; sources?: ConfigSourceMap; family: FinetuneFamily },
): ValidatedFinetuneConfig {
  const ctx = newValidationContext(opts.file, opts.sources, true);
  const top = SectionReader.open(ctx, [], resolved, true);
  top.classify(FINETUNE_TOP_KEYS);
  const name = top.string('name', opts.family === 'ctc' ? 'CTC' : 'RNNT');
  const m = top.section('model', true);
  if (opts.family === 'ctc') m.classify(CTC_MODEL_KEYS);
  const sampleRate = m.int('sample_rate', 16000, { min: 1 });
  const valRaw = m.value('validation_ds');
  const validation = valRaw === undefined || valRaw === null ? null : readDatasetConfig(m.section('validation_ds', false), sampleRate, FINETUNE_DATASET_KEYS);
  const model: FinetuneConfig['model'] = {
    train_ds: readDatasetConfig(m.section('train_ds', true), sampleRate, FINETUNE_DATASET_KEYS),
    validation_ds: validation && validation.manifest_filepath !== null ? validation : null,
    freeze_encoder_steps: m.int('freeze_encoder_steps', 0, { min: 0 }),
    optim: readOptimConfig(m.section('optim', true), ['NoamAnnealing', 'CosineAnnealing', 'InverseSquareRootAnnealing'], { noamDModelFromEncoder: true }),
  };
  for (const ds of [model.train_ds, model.validation_ds]) {
    if (ds && (ds.noise_manifest !== null || ds.batch_augmentor !== null)) {
      const where = ds === model.train_ds ? 'train_ds' : 'validation_ds';
      m.problem([...m.keyPath(where), ds.noise_manifest !== null ? 'noise_manifest' : 'batch_augmentor'], `${NO_MIXING}; set it to null`);
    }
  }
  if (opts.family === 'ctc') {
    readCtcDecoderKeys(m.section('decoder', true));
    // read when the model is built (ctcModelArgsFromConfig, readTokenizerSection, the spec_augment reader)
    for (const k of ['labels', 'tokenizer', 'preprocessor', 'spec_augment', 'encoder', 'target', 'nemo_version']) m.value(k);
    m.finish();
  }
  const trainer = readTrainerConfig(top.section('trainer', false));
  checkFinetuneTrainer(trainer, top);
  const em = readExpManagerConfig(top.section('exp_manager', false), FINETUNE_CHECKPOINT_CALLBACK_KEYS);
  top.finish();
  if (ctx.issues.length > 0) throw new ConfigError(opts.file, ctx.issues);
  const config: FinetuneConfig = {
    name,
    model,
    trainer,
    exp_manager: { ...em, exp_dir: em.exp_dir ?? 'nemo_experiments', name: em.name ?? name },
  };
  return { config, warnings: ctx.warnings };
}

/** model.decoder's keys (its sizes are checked against the labels and the encoder when the model is built). */
function readCtcDecoderKeys(d: SectionReader): void {
  d.classify(CTC_DECODER_KEYS);
  d.target('ConvASRDecoder');
  for (const k of ['feat_in', 'num_classes', 'vocabulary']) d.value(k);
  d.finish();
}

/** What fine-tuning does not run that NEST pretraining does: bfloat16 autocast and several processes. */
function checkFinetuneTrainer(tr: TrainerConfig, top: SectionReader): void {
  if (tr.precision !== '32-true') {
    top.problem(['trainer', 'precision'], 'fine-tuning trains in float32 (bf16-mixed is built for NEST pretraining only); use 32');
  }
  const devices = typeof tr.devices === 'number' ? tr.devices : Array.isArray(tr.devices) ? tr.devices.length : 1;
  if (devices > 1 || tr.num_nodes > 1) {
    top.problem(
      ['trainer', devices > 1 ? 'devices' : 'num_nodes'],
      'fine-tuning runs in one process (data-parallel training is built for NEST pretraining only); use trainer.devices=1 and trainer.num_nodes=1',
    );
  }
  if (tr.max_steps <= 0 && tr.max_epochs <= 0) {
    top.problem(['trainer', 'max_steps'], 'set trainer.max_steps (or trainer.max_epochs): with both unlimited the run would never end');
  }
}
