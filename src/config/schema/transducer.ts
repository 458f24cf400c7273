// The transducer sections of an RNN-T model config (NeMo's EncDecRNNTModel / EncDecRNNTBPEModel layout):
// model.decoder (RNNTDecoder) and its prednet, model.joint (RNNTJoint) and its jointnet, model.loss (RNNTLoss:
// loss_name and <loss_name>_kwargs), model.decoding (RNNTDecoding; greedy and modified beam search),
// model.model_defaults, a hybrid RNN-T/CTC model's model.aux_ctc (./aux-ctc.ts), and the transducer keys of the model
// section itself (rnnt_reduction, ...). Every key is honoured, refused with its reason,
// or reported as having no effect. These tables are not in KEY_TABLES (that list is the NEST training config's
// sections, where model.decoder and model.loss are NEST's own); RNNT_KEY_TABLES lists them.
// Provenance: nemo.collections.asr.models.rnnt_models.EncDecRNNTModel.__init__ (vocab_size, num_classes, vocabulary
// and jointnet.encoder_hidden / pred_hidden set from labels and model_defaults), modules.rnnt.RNNTDecoder / RNNTJoint
// constructor arguments, losses.rnnt.resolve_rnnt_loss.

import type { ConfigValue } from '../config-tree.js';
import { RNNT_AUX_CTC_DECODER_KEYS, RNNT_AUX_CTC_KEYS, hasAuxCtc, readAuxCtcConfig, type AuxCtcConfig } from './aux-ctc.js';
import type { KeyTable } from '../key-status.js';
import { isAtMost, isOneOf, noEffect, noEffectAll, refuseUnless, refuseWhen } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { REQUIRED, describeValue } from '../section-reader.js';

/** model.decoder: NeMo's RNNTDecoder arguments. */
export const RNNT_DECODER_KEYS: KeyTable = {
  paths: ['model.decoder'],
  trainingOnly: false,
  honoured: ['_target_', 'prednet', 'vocab_size'],
  refused: {
    normalization_mode: refuseUnless("batch/layer-normalised LSTMs are not ported (NeMo's export needs null too)", []),
    random_state_sampling: refuseUnless('random initial LSTM states in training are not ported', [false]),
    blank_as_pad: refuseUnless("the blank is the embedding's padding row (NeMo's default, needed by its export and batched greedy)", [true]),
  },
  noEffect: {},
};

/** model.decoder.prednet: the prediction network's LSTM. */
export const RNNT_PREDNET_KEYS: KeyTable = {
  paths: ['model.decoder.prednet'],
  trainingOnly: false,
  honoured: ['pred_hidden', 'pred_rnn_layers', 'forget_gate_bias', 't_max', 'weights_init_scale', 'hidden_hidden_bias_scale', 'dropout'],
  refused: {
    rnn_hidden_size: refuseUnless('LSTM projections (rnn_hidden_size other than pred_hidden) are not ported', [-1]),
  },
  noEffect: {},
};

/** model.joint: NeMo's RNNTJoint arguments. */
export const RNNT_JOINT_KEYS: KeyTable = {
  paths: ['model.joint'],
  trainingOnly: false,
  honoured: ['_target_', 'jointnet', 'num_classes', 'vocabulary', 'log_softmax', 'fuse_loss_wer', 'fused_batch_size'],
  refused: {
    num_extra_outputs: refuseUnless('TDT / multi-blank joints (extra outputs) are not ported', [0]),
    masking_prob: refuseWhen('prediction-output masking in training is not ported', 'a number <= 0 or null', isAtMost(0)),
    experimental_fuse_loss_wer: refuseUnless('the deprecated alias of fuse_loss_wer: set fuse_loss_wer instead', []),
  },
  noEffect: {
    preserve_memory: noEffect("a CUDA memory trade-off of NeMo's joint; the values are the same", isOneOf([false])),
  },
};

/** model.joint.jointnet. */
export const RNNT_JOINTNET_KEYS: KeyTable = {
  paths: ['model.joint.jointnet'],
  trainingOnly: false,
  honoured: ['encoder_hidden', 'pred_hidden', 'joint_hidden', 'activation', 'dropout'],
  refused: {},
  noEffect: {},
};

/** The RNN-T losses streamnest computes (all the same transducer loss; FastEmit and clamp only with warprnnt_numba). */
export const RNNT_LOSS_NAMES = ['default', 'warprnnt_numba', 'pytorch', 'warprnnt'] as const;
export type RnntLossName = (typeof RNNT_LOSS_NAMES)[number];

const OTHER_LOSS_KWARGS = [
  'multiblank_rnnt_kwargs',
  'multiblank_rnnt_pytorch_kwargs',
  'tdt_kwargs',
  'tdt_pytorch_kwargs',
  'graph_rnnt_kwargs',
  'graph_w_transducer_kwargs',
];

/** model.loss: NeMo's RNNTLoss selection. */
export const RNNT_LOSS_KEYS: KeyTable = {
  paths: ['model.loss'],
  trainingOnly: false,
  honoured: ['loss_name', 'warprnnt_numba_kwargs', 'pytorch_kwargs', 'warprnnt_kwargs'],
  refused: {},
  noEffect: noEffectAll(OTHER_LOSS_KWARGS, 'read only when loss_name names that loss, which streamnest does not implement'),
};

/** model.loss.warprnnt_numba_kwargs (also `default`'s). */
export const RNNT_LOSS_KWARGS_KEYS: KeyTable = {
  paths: ['model.loss.warprnnt_numba_kwargs'],
  trainingOnly: false,
  honoured: ['fastemit_lambda', 'clamp'],
  refused: {},
  noEffect: {},
};

const OTHER_SEARCHES = 'only for the tsd / alsd / maes beam searches, which are not implemented';

/** model.decoding: NeMo's RNNTDecodingConfig. */
export const RNNT_DECODING_KEYS: KeyTable = {
  paths: ['model.decoding'],
  trainingOnly: false,
  honoured: ['strategy', 'greedy', 'beam'],
  refused: {
    compute_langs: refuseUnless('per-token language ids are not implemented', [false]),
    preserve_frame_confidence: refuseUnless('confidence scores are not implemented', [false]),
    confidence_cfg: refuseWhen('confidence scores are not implemented', 'null or preserve_frame_confidence false', (v) => confidenceOff(v)),
  },
  noEffect: {
    ...noEffectAll(['tsd_max_sym_exp', 'alsd_max_target_len'], OTHER_SEARCHES),
    ...noEffectAll(
      ['preserve_alignments', 'compute_timestamps', 'rnnt_timestamp_type', 'word_seperator', 'segment_seperators', 'segment_gap_threshold'],
      'streamnest always returns labels with their frames and word timings; nothing else changes',
    ),
    fused_batch_size: noEffect('a decoding memory setting; greedy decoding is the same'),
    temperature: noEffect('argmax decoding does not change with temperature', isOneOf([1])),
    big_blank_durations: noEffect('only for multi-blank models, which are refused', isOneOf([])),
    durations: noEffect('only for TDT models, which are refused', isOneOf([])),
    model_type: noEffect('the model type follows from the joint (plain RNN-T)', isOneOf(['rnnt'])),
  },
};

/** model.decoding.greedy. */
export const RNNT_GREEDY_KEYS: KeyTable = {
  paths: ['model.decoding.greedy'],
  trainingOnly: false,
  honoured: ['max_symbols'],
  refused: {
    preserve_frame_confidence: refuseUnless('confidence scores are not implemented', [false]),
    ngram_lm_model: refuseUnless('n-gram language-model fusion is not implemented', []),
    boosting_tree: refuseUnless('context biasing is not implemented', []),
  },
  noEffect: {
    ...noEffectAll(
      ['loop_labels', 'use_cuda_graph_decoder', 'max_symbols_per_step'],
      "NeMo's implementation choices for the same greedy search (streamnest loops over frames)",
    ),
    preserve_alignments: noEffect('labels always come with their frames'),
    confidence_method_cfg: noEffect('confidence scores are not implemented'),
    ngram_lm_alpha: noEffect('only with ngram_lm_model, which is refused'),
  },
};

/**
 * model.decoding.beam (strategy beam). streamnest's beam search is icefall's modified beam search (at most one label
 * per frame), for the default search_type; NeMo's default is Graves' beam search (several labels per frame), so
 * transcripts can differ from NeMo's (readDecoding warns).
 */
export const RNNT_BEAM_KEYS: KeyTable = {
  paths: ['model.decoding.beam'],
  trainingOnly: false,
  honoured: ['beam_size', 'score_norm', 'search_type'],
  refused: {
    ngram_lm_model: refuseUnless('n-gram language-model fusion is not implemented', []),
    softmax_temperature: refuseUnless('the beam scores are the log-softmax at temperature 1', [1]),
    preserve_frame_confidence: refuseUnless('confidence scores are not implemented', [false]),
    boosting_tree: refuseUnless('context biasing is not implemented', []),
  },
  noEffect: {
    return_best_hypothesis: noEffect('the best hypothesis is always the one returned', isOneOf([true])),
    preserve_alignments: noEffect('labels always come with their frames'),
    ngram_lm_alpha: noEffect('only with ngram_lm_model, which is refused'),
    ...noEffectAll(
      ['tsd_max_sym_exp_per_step', 'alsd_max_target_len', 'maes_num_steps', 'maes_prefix_alpha', 'maes_expansion_gamma', 'maes_expansion_beta'],
      OTHER_SEARCHES,
    ),
    ...noEffectAll(['allow_cuda_graphs', 'max_symbols_per_step'], "NeMo's implementation choices"),
  },
};

/** model.model_defaults: the sizes NeMo's EncDecRNNTModel copies into joint.jointnet. */
export const RNNT_MODEL_DEFAULTS_KEYS: KeyTable = {
  paths: ['model.model_defaults'],
  trainingOnly: false,
  honoured: ['enc_hidden', 'pred_hidden', 'joint_hidden'],
  refused: {},
  noEffect: {
    ...noEffectAll(['tdt_durations', 'num_tdt_durations'], 'only for TDT models, which are refused'),
  },
};

/**
 * The transducer keys of the model section. The other sections of the model (data, optim, encoder...) are read
 * by their own readers; the `model` reader lists them as honoured so that an unknown key is still reported.
 */
export const RNNT_MODEL_KEYS: KeyTable = {
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
    'joint',
    'loss',
    'decoding',
    'model_defaults',
    'rnnt_reduction',
    'aux_ctc',
    'optim',
    'freeze_encoder_steps',
    'target',
    'nemo_version',
  ],
  refused: {
    skip_nan_grad: refuseUnless('skipping updates with non-finite gradients is not implemented; a non-finite loss stops training', [false]),
    use_cer: refuseUnless('validation scores word error rate only', [false]),
    variational_noise: refuseWhen('variational noise on the prediction network is not implemented', 'null or std 0', (v) => variationalNoiseOff(v)),
    ...Object.fromEntries(
      ['normalize_joint_txu', 'normalize_encoder_norm', 'normalize_decoder_norm', 'normalize_joint_norm'].map((k) => [
        k,
        refuseUnless('gradient normalisation before the optimizer step is not implemented', [false]),
      ]),
    ),
    interctc: refuseWhen('intermediate CTC losses are not implemented', 'null or empty loss_weights', (v) => interCtcOff(v)),
  },
  noEffect: {
    compute_eval_loss: noEffect('validation scores WER; no loss is computed on the validation set', isOneOf([false])),
    log_prediction: noEffect('sample predictions are not logged'),
    test_ds: noEffect('no test run follows training; use streamnest eval'),
  },
};

/** Every transducer section's key table. */
export const RNNT_KEY_TABLES: readonly KeyTable[] = [
  RNNT_MODEL_KEYS,
  RNNT_MODEL_DEFAULTS_KEYS,
  RNNT_DECODER_KEYS,
  RNNT_PREDNET_KEYS,
  RNNT_JOINT_KEYS,
  RNNT_JOINTNET_KEYS,
  RNNT_LOSS_KEYS,
  RNNT_LOSS_KWARGS_KEYS,
  RNNT_DECODING_KEYS,
  RNNT_GREEDY_KEYS,
  RNNT_BEAM_KEYS,
  RNNT_AUX_CTC_KEYS,
  RNNT_AUX_CTC_DECODER_KEYS,
];

const mapOf = (v: ConfigValue): Record<string, ConfigValue> | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null);
function confidenceOff(v: ConfigValue): boolean {
  const m = mapOf(v);
  return v === null || (m !== null && !m.preserve_frame_confidence && !m.preserve_token_confidence && !m.preserve_word_confidence);
}
function variationalNoiseOff(v: ConfigValue): boolean {
  const m = mapOf(v);
  return v === null || (m !== null && (m.std === undefined || m.std === null || m.std === 0));
}
function interCtcOff(v: ConfigValue): boolean {
  const m = mapOf(v);
  const w = m?.loss_weights;
  return v === null || (m !== null && (w === undefined || w === null || (Array.isArray(w) && w.length === 0)));
}

export type JointActivationName = 'relu' | 'sigmoid' | 'tanh';

export interface RnntPrednetSection {
  readonly pred_hidden: number;
  readonly pred_rnn_layers: number;
  readonly forget_gate_bias: number | null;
  readonly t_max: number | null;
  readonly weights_init_scale: number;
  readonly hidden_hidden_bias_scale: number;
  readonly dropout: number;
}

export interface TransducerConfig {
  readonly decoder: {
    readonly prednet: RnntPrednetSection;
    /** As written (NeMo writes len(labels)); null when absent or -1. */
    readonly vocab_size: number | null;
  };
  readonly joint: {
    readonly jointnet: {
      readonly joint_hidden: number;
      readonly activation: JointActivationName;
      readonly dropout: number;
      /** As written (NeMo writes model_defaults.enc_hidden); null when absent. */
      readonly encoder_hidden: number | null;
      readonly pred_hidden: number | null;
    };
    readonly num_classes: number | null;
    readonly vocabulary: string[] | null;
    readonly log_softmax: boolean | null;
    readonly fuse_loss_wer: boolean;
    readonly fused_batch_size: number | null;
  };
  readonly loss: { readonly loss_name: RnntLossName; readonly fastemit_lambda: number; readonly clamp: number };
  readonly rnnt_reduction: 'mean_batch' | 'mean' | 'sum' | 'mean_volume';
  readonly decoding: {
    readonly strategy: 'greedy' | 'greedy_batch' | 'beam';
    readonly max_symbols: number;
    /** strategy beam: decoding.beam.beam_size (default 4) and score_norm (default true). */
    readonly beam_size: number;
    readonly score_norm: boolean;
  };
  /** A hybrid RNN-T/CTC model's CTC head; null for a plain transducer (no or an empty aux_ctc). */
  readonly aux_ctc: AuxCtcConfig | null;
  /** null when the section is absent (NeMo requires it; streamnest writes it). */
  readonly model_defaults: { readonly enc_hidden: number | null; readonly pred_hidden: number | null; readonly joint_hidden: number | null } | null;
}

function readPrednet(r: SectionReader): RnntPrednetSection {
  r.classify(RNNT_PREDNET_KEYS);
  const c: RnntPrednetSection = {
    pred_hidden: r.int('pred_hidden', REQUIRED, { min: 1 }),
    pred_rnn_layers: r.int('pred_rnn_layers', REQUIRED, { min: 1 }),
    forget_gate_bias: r.nullableNumber('forget_gate_bias', 1.0),
    t_max: r.nullableNumber('t_max', null, { min: 2, minExclusive: true }),
    weights_init_scale: r.number('weights_init_scale', 1.0),
    hidden_hidden_bias_scale: r.number('hidden_hidden_bias_scale', 0.0),
    dropout: r.number('dropout', 0.0, { min: 0, max: 1, maxExclusive: true }),
  };
  r.finish();
  return c;
}

function readDecoder(r: SectionReader): TransducerConfig['decoder'] {
  r.classify(RNNT_DECODER_KEYS);
  r.target('RNNTDecoder');
  const vocab = r.nullableInt('vocab_size', null, { min: -1 });
  const prednet = readPrednet(r.section('prednet', true));
  r.finish();
  return { prednet, vocab_size: vocab === -1 ? null : vocab };
}

function readStringList(r: SectionReader, key: string): string[] | null {
  const v = r.value(key);
  if (v === undefined || v === null) return null;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  r.problem(key, `expected a list of labels (text), got ${describeValue(v)}`);
  return null;
}

function readJoint(r: SectionReader): TransducerConfig['joint'] {
  r.classify(RNNT_JOINT_KEYS);
  r.target('RNNTJoint');
  const jr = r.section('jointnet', true);
  jr.classify(RNNT_JOINTNET_KEYS);
  const jointnet = {
    joint_hidden: jr.int('joint_hidden', REQUIRED, { min: 1 }),
    activation: jr.oneOf('activation', ['relu', 'sigmoid', 'tanh'] as const, REQUIRED),
    dropout: jr.number('dropout', 0.0, { min: 0, max: 1, maxExclusive: true }),
    encoder_hidden: jr.nullableInt('encoder_hidden', null, { min: 1 }),
    pred_hidden: jr.nullableInt('pred_hidden', null, { min: 1 }),
  };
  jr.finish();
  const num = r.nullableInt('num_classes', null, { min: -1 });
  const ls = r.value('log_softmax');
  if (ls !== undefined && ls !== null && typeof ls !== 'boolean') r.problem('log_softmax', `expected true, false or null, got ${describeValue(ls)}`);
  const fuse = r.bool('fuse_loss_wer', false);
  const fused = r.nullableInt('fused_batch_size', null, { min: -1 });
  if (fuse && !(fused !== null && fused > 0))
    r.problem('fused_batch_size', `fuse_loss_wer is true, so fused_batch_size must be a positive integer; got ${String(fused)}`);
  const c = {
    jointnet,
    num_classes: num === -1 ? null : num,
    vocabulary: readStringList(r, 'vocabulary'),
    log_softmax: typeof ls === 'boolean' ? ls : null,
    fuse_loss_wer: fuse,
    fused_batch_size: fused !== null && fused > 0 ? fused : null,
  };
  r.finish();
  return c;
}

function readLoss(r: SectionReader): TransducerConfig['loss'] {
  r.classify(RNNT_LOSS_KEYS);
  const name = r.oneOf('loss_name', RNNT_LOSS_NAMES, 'default');
  let fastemit_lambda = 0;
  let clamp = -1;
  for (const key of ['warprnnt_numba_kwargs', 'pytorch_kwargs', 'warprnnt_kwargs']) {
    const used = key === `${name === 'default' ? 'warprnnt_numba' : name}_kwargs`;
    if (!used) {
      const v = r.value(key);
      if (v !== undefined && v !== null && !(mapOf(v) !== null && Object.keys(v as object).length === 0))
        r.ctx.warnings.push(`model.loss.${key}: has no effect in streamnest: loss_name is '${name}', so NeMo does not read it either`);
      continue;
    }
    if (key !== 'warprnnt_numba_kwargs') {
      const v = r.value(key);
      if (mapOf(v ?? null) !== null && Object.keys(v as object).length > 0)
        r.ctx.warnings.push(`model.loss.${key}: has no effect in streamnest: NeMo's '${name}' loss takes no arguments (it warns and ignores them)`);
      continue;
    }
    const k = r.section(key, false);
    k.classify(RNNT_LOSS_KWARGS_KEYS);
    fastemit_lambda = k.number('fastemit_lambda', 0.0, { min: 0 });
    clamp = k.number('clamp', -1.0);
    k.finish();
  }
  r.finish();
  return { loss_name: name, fastemit_lambda, clamp };
}

function readDecoding(r: SectionReader): TransducerConfig['decoding'] {
  r.classify(RNNT_DECODING_KEYS);
  const strategy = r.string('strategy', 'greedy_batch');
  if (strategy !== 'greedy' && strategy !== 'greedy_batch' && strategy !== 'beam') {
    r.problem(
      'strategy',
      `greedy, greedy_batch (the same labels) and beam (modified beam search) are implemented; tsd, alsd and maes are not; got ${describeValue(strategy)}`,
    );
  }
  const g = r.section('greedy', false);
  g.classify(RNNT_GREEDY_KEYS);
  const ms = g.nullableInt('max_symbols', 10, { min: 1 });
  g.finish();
  const b = r.section('beam', false);
  b.classify(RNNT_BEAM_KEYS);
  const beamSize = b.int('beam_size', 4, { min: 1 });
  const scoreNorm = b.bool('score_norm', true);
  const search = b.nullableString('search_type', 'default');
  if (search !== null && search !== 'default')
    b.problem('search_type', `only the default search is implemented (as icefall's modified beam search); got ${describeValue(search)}`);
  b.finish();
  if (strategy === 'beam')
    r.ctx.warnings.push(
      "model.decoding.strategy: beam runs icefall's modified beam search (at most one label per frame, hypotheses with the same labels merged); NeMo's default beam search (Graves', several labels per frame) can give other transcripts",
    );
  r.finish();
  const st = strategy === 'greedy' || strategy === 'beam' ? strategy : 'greedy_batch';
  return { strategy: st, max_symbols: ms ?? 10, beam_size: beamSize, score_norm: scoreNorm };
}

function readModelDefaults(r: SectionReader): TransducerConfig['model_defaults'] {
  r.classify(RNNT_MODEL_DEFAULTS_KEYS);
  const c = {
    enc_hidden: r.nullableInt('enc_hidden', null, { min: 1 }),
    pred_hidden: r.nullableInt('pred_hidden', null, { min: 1 }),
    joint_hidden: r.nullableInt('joint_hidden', null, { min: 1 }),
  };
  r.finish();
  return c;
}

/**
 * Reads the transducer sections of a model section (`r` is open on it). The sections other readers handle (encoder,
 * preprocessor, data, optim, labels, tokenizer) are only marked as read here.
 */
export function readTransducerConfig(r: SectionReader): TransducerConfig {
  r.classify(RNNT_MODEL_KEYS);
  for (const k of [
    'sample_rate',
    'labels',
    'tokenizer',
    'train_ds',
    'validation_ds',
    'preprocessor',
    'spec_augment',
    'encoder',
    'optim',
    'freeze_encoder_steps',
    'target',
    'nemo_version',
  ])
    r.value(k);
  const md = r.value('model_defaults');
  const model_defaults = md === undefined || md === null ? null : readModelDefaults(r.section('model_defaults', false));
  const c: TransducerConfig = {
    decoder: readDecoder(r.section('decoder', true)),
    joint: readJoint(r.section('joint', true)),
    loss: readLoss(r.section('loss', false)),
    rnnt_reduction: r.oneOf('rnnt_reduction', ['mean_batch', 'mean', 'sum', 'mean_volume'] as const, 'mean_batch'),
    decoding: readDecoding(r.section('decoding', false)),
    aux_ctc: hasAuxCtc(r.value('aux_ctc')) ? readAuxCtcConfig(r.section('aux_ctc', true)) : null,
    model_defaults,
  };
  const mdv = model_defaults;
  if (mdv?.pred_hidden != null && mdv.pred_hidden !== c.decoder.prednet.pred_hidden)
    r.problem(
      r.keyPath('model_defaults', 'pred_hidden'),
      `NeMo builds the joint with model_defaults.pred_hidden (${mdv.pred_hidden}) but decoder.prednet.pred_hidden is ${c.decoder.prednet.pred_hidden}`,
    );
  if (mdv?.joint_hidden != null && mdv.joint_hidden !== c.joint.jointnet.joint_hidden)
    r.ctx.warnings.push(
      `model.model_defaults.joint_hidden (${mdv.joint_hidden}) differs from joint.jointnet.joint_hidden (${c.joint.jointnet.joint_hidden}), which is what both NeMo and streamnest build`,
    );
  r.finish();
  return c;
}
