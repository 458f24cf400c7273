// Test helper: a FastConformer CTC-BPE .nemo made from a golden NEST archive, as NeMo's EncDecCTCModelBPE.save_to
// lays one out: the SSL parts (quantizer, mask embedding, MultiSoftmaxDecoder) replaced by a ConvASRDecoder
// (decoder.decoder_layers.0.weight [vocabulary + 1, d_model, 1] and its bias) and a tokenizer file in the archive;
// and a small character CTC .nemo (EncDecCTCModel) as streamnest finetune writes one.
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import * as t from '../../src/torch/index.js';
import { readNemoArchive, writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { CharVocabulary, CtcModel, CTC_TARGET as CHAR_CTC_TARGET, type CtcModelArgs } from '../../src/asr/index.js';
import { GOLDEN } from '../helpers/assert.js';

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

/** Bit-for-bit equality of two tensors (dtype, shape and raw bytes). */
export function sameBits(a: t.Tensor, b: t.Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return false;
  return t.tidy(() => Buffer.from(a.contiguous().toBuffer()).equals(Buffer.from(b.contiguous().toBuffer())));
}
