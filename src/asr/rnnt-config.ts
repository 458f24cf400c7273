// A transducer model's config (NeMo's EncDecRNNTModel / EncDecRNNTBPEModel `model:` layout, interpolations resolved)
// -> RnntModelArgs: one validation context for the encoder, preprocessor and transducer sections (every key honoured
// or refused with its reason), then the checks that tie them together (sizes NeMo copies from model_defaults, label
// counts it sets from the labels).
// Provenance: nemo.collections.asr.models.rnnt_models.EncDecRNNTModel.__init__ (decoder.vocab_size = len(labels),
// joint.num_classes = len(labels), joint.vocabulary = labels, jointnet sizes from model_defaults); rnnt_bpe_models
// (labels = the tokenizer's pieces).
import { ConfigError } from '../config/config-error.js';
import { isConfigMap, type ConfigMap, type KeyPath } from '../config/config-tree.js';
import { readEncoderConfig } from '../config/schema/encoder.js';
import { readPreprocessorConfig } from '../config/schema/preprocessor.js';
import { readTransducerConfig, type TransducerConfig } from '../config/schema/transducer.js';
import { SectionReader, newValidationContext } from '../config/section-reader.js';
import { conformerEncoderArgs } from '../model/encoder-config.js';
import type { RnntModelArgs } from './rnnt-model.js';
import type { SentencePieceTokenizer } from './sentencepiece-tokenizer.js';
import { readSpecAugmentConfig } from './spec-augment.js';
import { CharVocabulary } from './text.js';
import { readTokenizerSection } from './tokenizer-config.js';
import type { CtcVocabulary } from './vocabulary.js';

/** Where the `model:` mapping comes from (as CtcConfigSource). */
export interface RnntConfigSource {
  /** Names the configuration in errors: the config file, or `<archive>: model_config.yaml`. */
  file: string;
  /** ['model'] in a training config, [] in a stored model's model_config.yaml. */
  path: KeyPath;
  /** About to train: training-only refusals are errors (else warnings). */
  training: boolean;
  warnings?: string[];
}

/** The label set: characters from model.labels, or the tokenizer's pieces (model.labels then null or equal to them). */
function rnntVocabulary(model: Record<string, unknown>, tokenizer: SentencePieceTokenizer | null, at: string): CtcVocabulary {
  const labels = model.labels;
  if (readTokenizerSection(model.tokenizer, `${at}tokenizer`)) {
    if (!tokenizer) throw new Error(`${at}tokenizer is set: load its SentencePiece model and pass it to rnntModelArgsFromConfig`);
    // NeMo's EncDecRNNTBPEModel writes the pieces as labels; anything else is a different vocabulary
    if (Array.isArray(labels) && (labels.length !== tokenizer.size || labels.some((l, i) => l !== tokenizer.labels[i])))
      throw new Error(`${at}labels differ from the pieces of the tokenizer ${tokenizer.source} (set labels: null)`);
    return tokenizer;
  }
  if (tokenizer) throw new Error(`a tokenizer was given but ${at}tokenizer is not set`);
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) throw new Error(`${at}labels: expected a list of single characters`);
  return new CharVocabulary(labels as string[]);
}

/** Label counts and sizes NeMo sets from the labels and model_defaults: a stored value must agree. */
function checkDerivedSizes(c: TransducerConfig, vocab: CtcVocabulary, encoderOut: number, at: string): string[] {
  const bad: string[] = [];
  const n = vocab.size;
  if (c.decoder.vocab_size !== null && c.decoder.vocab_size !== n) bad.push(`${at}decoder.vocab_size is ${c.decoder.vocab_size} but there are ${n} labels`);
  if (c.joint.num_classes !== null && c.joint.num_classes !== n) bad.push(`${at}joint.num_classes is ${c.joint.num_classes} but there are ${n} labels`);
  const v = c.joint.vocabulary;
  if (v !== null && v.length > 0 && (v.length !== n || v.some((l, i) => l !== vocab.labels[i])))
    bad.push(`${at}joint.vocabulary differs from the labels (${v.length} vs ${n})`);
  const j = c.joint.jointnet;
  const md = c.model_defaults;
  for (const [key, value] of [
    ['joint.jointnet.encoder_hidden', j.encoder_hidden],
    ['model_defaults.enc_hidden', md?.enc_hidden ?? null],
  ] as const) {
    if (value !== null && value !== encoderOut) bad.push(`${at}${key} is ${value} but the encoder outputs ${encoderOut} channels`);
  }
  if (j.pred_hidden !== null && j.pred_hidden !== c.decoder.prednet.pred_hidden)
    bad.push(`${at}joint.jointnet.pred_hidden is ${j.pred_hidden} but decoder.prednet.pred_hidden is ${c.decoder.prednet.pred_hidden}`);
  const ctc = c.aux_ctc?.decoder;
  if (ctc) {
    // NeMo's hybrid: the CTC head has the transducer's labels (aux_ctc.decoder.vocabulary: ${model.labels} or the pieces)
    if (ctc.num_classes !== null && ctc.num_classes !== n) bad.push(`${at}aux_ctc.decoder.num_classes is ${ctc.num_classes} but there are ${n} labels`);
    const cv = ctc.vocabulary;
    if (cv !== null && (cv.length !== n || cv.some((l, i) => l !== vocab.labels[i])))
      bad.push(`${at}aux_ctc.decoder.vocabulary differs from the labels (${cv.length} vs ${n})`);
    if (ctc.feat_in !== null && ctc.feat_in !== encoderOut)
      bad.push(`${at}aux_ctc.decoder.feat_in is ${ctc.feat_in} but the encoder outputs ${encoderOut} channels`);
  }
  return bad;
}

/**
 * The model a transducer config describes. The encoder, preprocessor and transducer sections go through the schema's
 * readers (a ConfigError naming every problem by key); with model.tokenizer set, `tokenizer` is the SentencePiece
 * model it names (loaded by the caller).
 */
export function rnntModelArgsFromConfig(
  model: Record<string, unknown>,
  seed: number,
  tokenizer: SentencePieceTokenizer | null = null,
  source: RnntConfigSource = { file: 'model_config.yaml', path: [], training: false },
): RnntModelArgs {
  const at = source.path.length ? `${source.path.join('.')}.` : '';
  const ctx = newValidationContext(source.file, undefined, source.training);
  const transducer = readTransducerConfig(SectionReader.open(ctx, source.path, model as ConfigMap, true));
  const encoder = readEncoderConfig(SectionReader.open(ctx, [...source.path, 'encoder'], model.encoder as ConfigMap, true));
  const preprocessor = readPreprocessorConfig(SectionReader.open(ctx, [...source.path, 'preprocessor'], model.preprocessor as ConfigMap, true));
  if (ctx.issues.length > 0) throw new ConfigError(ctx.file, ctx.issues);
  source.warnings?.push(...ctx.warnings);
  const vocab = rnntVocabulary(model, tokenizer, at);
  const d = encoder.feat_out > 0 ? encoder.feat_out : encoder.d_model;
  const bad = checkDerivedSizes(transducer, vocab, d, at);
  if (bad.length) throw new Error(bad.join('; '));
  const sa = model.spec_augment;
  const p = transducer.decoder.prednet;
  const j = transducer.joint;
  return {
    preprocessor: { ...preprocessor },
    encoder: conformerEncoderArgs(encoder),
    labels: vocab.labels,
    ...(tokenizer ? { vocabulary: tokenizer } : {}),
    decoder: { prednet: { ...p }, normalization_mode: null, random_state_sampling: false, blank_as_pad: true },
    joint: {
      jointnet: { joint_hidden: j.jointnet.joint_hidden, activation: j.jointnet.activation, dropout: j.jointnet.dropout },
      log_softmax: j.log_softmax,
      num_extra_outputs: 0,
      fuse_loss_wer: j.fuse_loss_wer,
      fused_batch_size: j.fused_batch_size,
      masking_prob: -1,
    },
    loss: { reduction: transducer.rnnt_reduction, fastemitLambda: transducer.loss.fastemit_lambda, clamp: transducer.loss.clamp },
    maxSymbols: transducer.decoding.max_symbols,
    beam: transducer.decoding.strategy === 'beam' ? { beamSize: transducer.decoding.beam_size, scoreNorm: transducer.decoding.score_norm } : null,
    auxCtc: transducer.aux_ctc ? { ctcLossWeight: transducer.aux_ctc.ctc_loss_weight } : null,
    specAugment: sa && typeof sa === 'object' ? readSpecAugmentConfig(sa as Record<string, unknown>) : null,
    seed,
  };
}

/**
 * The sections NeMo's EncDecRNNTModel fills in at construction (decoder.vocab_size, joint.num_classes / vocabulary,
 * jointnet.encoder_hidden / pred_hidden, model_defaults; a hybrid's aux_ctc.decoder feat_in / num_classes /
 * vocabulary), written into a copy of `model` for the stored config.
 */
export function withDerivedRnntSizes(model: ConfigMap, labels: readonly string[], encoderOut: number): ConfigMap {
  const dec = model.decoder as ConfigMap;
  const joint = model.joint as ConfigMap;
  const prednet = dec.prednet as ConfigMap;
  const jointnet = joint.jointnet as ConfigMap;
  const predHidden = prednet.pred_hidden as number;
  const md = (model.model_defaults ?? {}) as ConfigMap;
  const aux = isConfigMap(model.aux_ctc) && Object.keys(model.aux_ctc).length > 0 ? model.aux_ctc : null;
  const ctcDecoder = aux && isConfigMap(aux.decoder) ? aux.decoder : {};
  return {
    ...model,
    ...(aux ? { aux_ctc: { ...aux, decoder: { ...ctcDecoder, feat_in: encoderOut, num_classes: labels.length, vocabulary: [...labels] } } } : {}),
    model_defaults: { ...md, enc_hidden: encoderOut, pred_hidden: predHidden, joint_hidden: jointnet.joint_hidden ?? null },
    decoder: { ...dec, vocab_size: labels.length },
    joint: { ...joint, num_classes: labels.length, vocabulary: [...labels], jointnet: { ...jointnet, encoder_hidden: encoderOut, pred_hidden: predHidden } },
  };
}
