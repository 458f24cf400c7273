// Test helper: a small random character CTC .nemo that streams (causal subsampling 8x = 80 ms frames, causal conv,
// fully causal [-1, 0] or chunked_limited [-1, 4]), its decoder sharpened so that many different labels come out
// (random weights otherwise emit almost nothing, and equal empty transcripts would prove little).
import { stringify } from 'yaml';
import * as t from '../../src/torch/index.js';
import { writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import type { ConformerEncoderConfig } from '../../src/model/index.js';
import { smallEncoderConfig } from '../streaming/helpers.js';
import { CharVocabulary, CtcModel, CTC_TARGET, type CtcModelArgs } from '../../src/asr/index.js';

export const SERVING_PREPROCESSOR = {
  _target_: 'nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor',
  sample_rate: 16000,
  normalize: 'NA',
  features: 80,
  dither: 0,
  pad_to: 0,
};

/** contexts: a multi-look-ahead model's [left, right] pairs (the first is its default) instead of the style's one pair. */
export function servingEncoder(style: 'regular' | 'chunked_limited' = 'regular', contexts?: number[][]): Record<string, unknown> {
  // the streaming tests' small encoder (test/streaming/helpers.ts), with 80 mel features and a 9-tap convolution
  const att_context_size = (contexts ?? (style === 'regular' ? [-1, 0] : [-1, 4])) as ConformerEncoderConfig['att_context_size'];
  return {
    _target_: 'nemo.collections.asr.modules.ConformerEncoder',
    feat_out: -1,
    ...smallEncoderConfig({ feat_in: 80, conv_kernel_size: 9, att_context_style: style, att_context_size }),
  };
}

/** The model (eval mode, decoder sharpened; the caller disposes it). */
export function servingModel(style: 'regular' | 'chunked_limited' = 'regular', seed = 8, contexts?: number[][]): CtcModel {
  const labels = CharVocabulary.english().labels;
  const encoder = servingEncoder(style, contexts) as unknown as CtcModelArgs['encoder'];
  const m = new CtcModel({ preprocessor: SERVING_PREPROCESSOR, encoder, labels, specAugment: null, seed });
  m.eval();
  t.noGrad(() => m.decoder.decoder_layers.items[0]!.weight.mul_(20));
  return m;
}

/** Writes the model to `path` (EncDecCTCModel layout) and returns it (eval mode; the caller disposes it). */
export function writeServingModel(path: string, style: 'regular' | 'chunked_limited' = 'regular', contexts?: number[][]): CtcModel {
  const m = servingModel(style, 8, contexts);
  const labels = m.vocab.labels;
  const encoder = servingEncoder(style, contexts);
  const cfg = {
    target: CTC_TARGET,
    sample_rate: 16000,
    labels: [...labels],
    preprocessor: SERVING_PREPROCESSOR,
    encoder,
    decoder: { _target_: 'nemo.collections.asr.modules.ConvASRDecoder', feat_in: 32, num_classes: labels.length, vocabulary: [...labels] },
  };
  writeNemoArchive(path, { configYaml: stringify(cfg), stateDict: m.stateDict() });
  return m;
}

/** The same model made bidirectional (unlimited right context, non-causal subsampling and conv): it cannot stream. */
export function bidirectionalModel(seed = 7): CtcModel {
  const encoder = { ...servingEncoder(), att_context_size: [-1, -1], causal_downsampling: false, conv_context_size: null };
  const labels = CharVocabulary.english().labels;
  return new CtcModel({ preprocessor: SERVING_PREPROCESSOR, encoder: encoder as unknown as CtcModelArgs['encoder'], labels, specAugment: null, seed });
}
