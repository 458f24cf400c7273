// Test helper: a FastConformer CTC-BPE .nemo made from a golden NEST archive, as NeMo's EncDecCTCModelBPE.save_to
// lays one out: the SSL parts (quantizer, mask embedding, MultiSoftmaxDecoder) replaced by a ConvASRDecoder
// (decoder.decoder_layers.0.weight [vocabulary + 1, d_model, 1] and its bias) and a tokenizer file in the archive;
// a small character CTC .nemo (EncDecCTCModel) as streamnest finetune writes one; and a small hybrid RNN-T/CTC .nemo
// (EncDecHybridRNNTCTCBPEModel / EncDecHybridRNNTCTCModel) with its CTC head beside dummy RNN-T parts.
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import * as t from '../../src/torch/index.js';
import { readNemoArchive, writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import {
  CTC_BPE_TARGET,
  CharVocabulary,
  CtcModel,
  CTC_TARGET as CHAR_CTC_TARGET,
  loadTrainingTokenizer,
  tokenizerArtifacts,
  type CtcModelArgs,
} from '../../src/asr/index.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';

export const CTC_TARGET = 'nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE';
export const VOCAB = 31;

export interface AsrArchiveOptions {
  /** Golden archive name (default b_fully_causal). */
  from?: string;
  /** Changes to the config (a parsed model_config.yaml) before it is written. */
  edit?: (cfg: Record<string, unknown>) => void;
  /** Drop these state-dict keys (to test strict loading). */
  dropKeys?: string[];
}

export function writeCtcArchive(path: string, o: AsrArchiveOptions = {}): void {
  const src = readNemoArchive(join(GOLDEN, 'nemo', `${o.from ?? 'b_fully_causal'}.nemo`));
  const cfg = parse(src.configYaml) as Record<string, unknown>;
  const d = (cfg.encoder as { d_model: number }).d_model;
  for (const k of ['quantizer', 'masking', 'loss', 'train_ds', 'validation_ds', 'num_classes', 'num_books', 'code_dim', 'squeeze_single', 'mask_position'])
    delete cfg[k];
  cfg.decoder = { _target_: 'nemo.collections.asr.modules.ConvASRDecoder', feat_in: d, num_classes: VOCAB, vocabulary: [] };
  cfg.tokenizer = { dir: null, type: 'bpe', model_path: 'nemo:tokenizer.model' };
  cfg.target = CTC_TARGET;
  o.edit?.(cfg);
  const sd = new Map<string, t.Tensor>();
  for (const [k, v] of src.stateDict) {
    if (k.startsWith('preprocessor.') || k.startsWith('encoder.')) {
      if (!(o.dropKeys ?? []).includes(k)) sd.set(k, v);
    } else v.dispose();
  }
  const g = new t.Generator(7);
  sd.set('decoder.decoder_layers.0.weight', t.randn([VOCAB + 1, d, 1], { generator: g }));
  sd.set('decoder.decoder_layers.0.bias', t.zeros([VOCAB + 1]));
  try {
    writeNemoArchive(path, {
      configYaml: stringify(cfg),
      stateDict: sd,
      extra: new Map([['tokenizer.model', new TextEncoder().encode('not a real sentencepiece model')]]),
    });
  } finally {
    for (const v of sd.values()) v.dispose();
  }
}

/** The class of a character CTC archive (writeCharCtcArchive). */
export { CHAR_CTC_TARGET };

/** A small causal encoder section (NeMo layout) for CTC archives and fine-tuning tests. */
export const SMALL_CTC_ENCODER = {
  _target_: 'nemo.collections.asr.modules.ConformerEncoder',
  feat_in: 80,
  feat_out: -1,
  n_layers: 1,
  d_model: 32,
  n_heads: 2,
  subsampling: 'dw_striding',
  subsampling_factor: 4,
  subsampling_conv_channels: 16,
  causal_downsampling: true,
  conv_kernel_size: 5,
  conv_norm_type: 'layer_norm',
  conv_context_size: 'causal',
  att_context_size: [-1, 0],
  att_context_style: 'regular',
};
/** The preprocessor section that goes with SMALL_CTC_ENCODER. */
export const SMALL_CTC_PREPROCESSOR = {
  _target_: 'nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor',
  sample_rate: 16000,
  normalize: 'NA',
  features: 80,
  dither: 0.00001,
  pad_to: 16,
};

/**
 * A "pretrained" model for fine-tuning tests: a .nemo whose config has the small preprocessor + encoder sections and
 * whose weights hold encoder.* (from a random CTC model, seed 99), as `finetune --init` takes any such archive.
 */
export function writeEncoderInitArchive(path: string): void {
  const pre = new CtcModel({
    preprocessor: SMALL_CTC_PREPROCESSOR,
    encoder: SMALL_CTC_ENCODER as CtcModelArgs['encoder'],
    labels: CharVocabulary.english().labels,
    specAugment: null,
    seed: 99,
  });
  writeNemoArchive(path, {
    configYaml: stringify({ sample_rate: 16000, preprocessor: SMALL_CTC_PREPROCESSOR, encoder: SMALL_CTC_ENCODER }),
    stateDict: pre.stateDict(),
  });
  pre.dispose();
}

/**
 * A small random character CTC .nemo (fully causal, 1 layer) laid out as streamnest finetune writes one (target,
 * labels, decoder); `edit` changes the config before it is written. Returns the model that wrote it (eval mode).
 */
export function writeCharCtcArchive(path: string, edit?: (cfg: Record<string, unknown>) => void): CtcModel {
  const labels = CharVocabulary.english().labels;
  const m = new CtcModel({ preprocessor: SMALL_CTC_PREPROCESSOR, encoder: SMALL_CTC_ENCODER as CtcModelArgs['encoder'], labels, specAugment: null, seed: 5 });
  m.eval();
  const cfg: Record<string, unknown> = {
    target: CHAR_CTC_TARGET,
    sample_rate: 16000,
    labels: [...labels],
    preprocessor: { ...SMALL_CTC_PREPROCESSOR },
    encoder: { ...SMALL_CTC_ENCODER },
    decoder: { _target_: 'nemo.collections.asr.modules.ConvASRDecoder', feat_in: 32, num_classes: labels.length, vocabulary: [...labels] },
  };
  edit?.(cfg);
  writeNemoArchive(path, { configYaml: stringify(cfg), stateDict: m.stateDict() });
  return m;
}

export const HYBRID_BPE_TARGET = 'nemo.collections.asr.models.hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel';
export const HYBRID_CHAR_TARGET = 'nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel';
/** The sub-word hybrid's tokenizer (a NeMo tokenizer folder, relative to the repository root). */
export const HYBRID_TOKENIZER_DIR = 'test/fixtures/tokenizers/bpe_tiny';
/** Sizes of the hybrid archive's dummy RNN-T prediction network and joint. */
const PRED_HIDDEN = 16;
const JOINT_HIDDEN = 24;

export interface HybridArchiveOptions {
  /** Sub-word (EncDecHybridRNNTCTCBPEModel, tokenizer HYBRID_TOKENIZER_DIR inside the archive) or characters (EncDecHybridRNNTCTCModel). */
  bpe: boolean;
  /** Also write the same preprocessor, encoder and CTC head as a plain CTC .nemo (EncDecCTCModelBPE / EncDecCTCModel) here. */
  ctcPath?: string;
  /** Changes to the hybrid's config before it is written. */
  edit?: (cfg: Record<string, unknown>) => void;
  /** Changes to the hybrid's state dict before it is written (the tensors are disposed afterwards). */
  editWeights?: (sd: Map<string, t.Tensor>) => void;
}

/**
 * A small random hybrid RNN-T/CTC .nemo (fully causal, 1 layer) laid out as NeMo's EncDecHybridRNNTCTC(BPE)Model.save_to
 * writes one: model_config.yaml with the RNN-T decoder / joint / decoding sections and aux_ctc {decoder: ConvASRDecoder,
 * decoding} (a sub-word one also with labels = the tokenizer's pieces, as NeMo sets them, and the tokenizer section and
 * files); state dict preprocessor.*, encoder.*, decoder.prediction.* (RNNTDecoder), joint.* (RNNTJoint) and the CTC head
 * ctc_decoder.decoder_layers.0.*, in NeMo's module order. Returns the CtcModel whose weights it holds (eval mode).
 */
export async function writeHybridArchive(path: string, o: HybridArchiveOptions): Promise<CtcModel> {
  const tok = o.bpe
    ? await loadTrainingTokenizer({ type: 'bpe', dir: HYBRID_TOKENIZER_DIR, modelPath: null, vocabPath: null, speVocabPath: null }, REPO_ROOT, 'tokenizer')
    : null;
  const art = tok ? tokenizerArtifacts(tok) : null;
  const labels = tok ? tok.tokenizer.labels : CharVocabulary.english().labels;
  const m = new CtcModel({
    preprocessor: SMALL_CTC_PREPROCESSOR,
    encoder: SMALL_CTC_ENCODER as CtcModelArgs['encoder'],
    labels,
    ...(tok ? { vocabulary: tok.tokenizer } : {}),
    specAugment: null,
    seed: 11,
  });
  m.eval();
  const d = SMALL_CTC_ENCODER.d_model;
  const V = labels.length;
  const ctcDecoder = { _target_: 'nemo.collections.asr.modules.ConvASRDecoder', feat_in: d, num_classes: V, vocabulary: [...labels] };
  const common = { sample_rate: 16000, preprocessor: { ...SMALL_CTC_PREPROCESSOR }, encoder: { ...SMALL_CTC_ENCODER } };
  const files = art?.files ?? new Map<string, Uint8Array>();
  if (o.ctcPath) {
    const cfg = tok
      ? { target: CTC_BPE_TARGET, ...common, tokenizer: art!.section, decoder: ctcDecoder }
      : { target: CHAR_CTC_TARGET, labels: [...labels], ...common, decoder: ctcDecoder };
    writeNemoArchive(o.ctcPath, { configYaml: stringify(cfg), stateDict: m.stateDict(), extra: files });
  }
  const cfg: Record<string, unknown> = {
    target: tok ? HYBRID_BPE_TARGET : HYBRID_CHAR_TARGET,
    labels: [...labels],
    ...(tok ? { tokenizer: art!.section } : {}),
    ...common,
    model_defaults: { enc_hidden: d, pred_hidden: PRED_HIDDEN, joint_hidden: JOINT_HIDDEN },
    decoder: {
      _target_: 'nemo.collections.asr.modules.RNNTDecoder',
      normalization_mode: null,
      random_state_sampling: false,
      blank_as_pad: true,
      prednet: { pred_hidden: PRED_HIDDEN, pred_rnn_layers: 1, t_max: null, dropout: 0.2 },
      vocab_size: V,
    },
    joint: {
      _target_: 'nemo.collections.asr.modules.RNNTJoint',
      log_softmax: null,
      preserve_memory: false,
      fuse_loss_wer: true,
      fused_batch_size: 4,
      jointnet: { joint_hidden: JOINT_HIDDEN, activation: 'relu', dropout: 0.2, encoder_hidden: d, pred_hidden: PRED_HIDDEN },
      num_classes: V,
      vocabulary: [...labels],
    },
    decoding: { strategy: 'greedy_batch', greedy: { max_symbols: 10 } },
    aux_ctc: { ctc_loss_weight: 0.3, use_cer: false, ctc_reduction: 'mean_batch', decoder: ctcDecoder, decoding: { strategy: 'greedy' } },
    interctc: { loss_weights: [], apply_at_layers: [] },
  };
  o.edit?.(cfg);
  const g = new t.Generator(3);
  const rnd = (shape: number[]): t.Tensor => t.randn(shape, { generator: g });
  const H = PRED_HIDDEN;
  const J = JOINT_HIDDEN;
  const sd = new Map<string, t.Tensor>();
  for (const [k, v] of m.stateDict()) if (!k.startsWith('decoder.')) sd.set(k, v.clone());
  // RNN-T parts (NeMo's names: RNNTDecoder.prediction {embed, dec_rnn.lstm}, RNNTJoint {pred, enc, joint_net[2]})
  sd.set('decoder.prediction.embed.weight', rnd([V + 1, H]));
  for (const w of ['weight_ih_l0', 'weight_hh_l0']) sd.set(`decoder.prediction.dec_rnn.lstm.${w}`, rnd([4 * H, H]));
  for (const b of ['bias_ih_l0', 'bias_hh_l0']) sd.set(`decoder.prediction.dec_rnn.lstm.${b}`, rnd([4 * H]));
  sd.set('joint.pred.weight', rnd([J, H]));
  sd.set('joint.pred.bias', rnd([J]));
  sd.set('joint.enc.weight', rnd([J, d]));
  sd.set('joint.enc.bias', rnd([J]));
  sd.set('joint.joint_net.2.weight', rnd([V + 1, J]));
  sd.set('joint.joint_net.2.bias', rnd([V + 1]));
  for (const [k, v] of m.decoder.stateDict()) sd.set(`ctc_decoder.${k}`, v.clone());
  try {
    o.editWeights?.(sd);
    writeNemoArchive(path, { configYaml: stringify(cfg), stateDict: sd, extra: files });
  } finally {
    for (const v of sd.values()) v.dispose();
  }
  return m;
}

/** Bit-for-bit equality of two tensors (dtype, shape and raw bytes). */
export function sameBits(a: t.Tensor, b: t.Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return false;
  return t.tidy(() => Buffer.from(a.contiguous().toBuffer()).equals(Buffer.from(b.contiguous().toBuffer())));
}
