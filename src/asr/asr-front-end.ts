// What every downstream ASR model (CTC, RNN-T, hybrid) shares in front of its head: the model's random generators,
// its vocabulary, and audio -> log-mel -> SpecAugment (training only) -> encoder, with NeMo's encoder.freeze().
// Provenance: nemo.collections.asr.models.ctc_models.EncDecCTCModel.forward / rnnt_models.EncDecRNNTModel.forward
// (preprocessor, spec_augmentation in training, encoder).
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { AudioToMelSpectrogramPreprocessor } from '../audio/preprocessor.js';
import type { ConformerEncoder } from '../model/conformer-encoder.js';
import type { SpecAugment } from './spec-augment.js';
import { CharVocabulary } from './text.js';
import type { CtcVocabulary } from './vocabulary.js';

/** The generators of an ASR model, seeded from its seed (dither, SpecAugment, dropout, the attention-context draw). */
export interface AsrGenerators {
  dither: t.Generator;
  specAugment: t.Generator;
  dropout: t.Generator;
  context: t.Generator;
}

export function asrGenerators(seed: number): AsrGenerators {
  return { dither: new t.Generator(seed + 1), specAugment: new t.Generator(seed + 2), dropout: new t.Generator(seed + 3), context: new t.Generator(seed + 4) };
}

/** The model's vocabulary: the tokenizer's when given (its labels must equal `labels`), else characters. */
export function asrVocabulary(labels: readonly string[], vocabulary: CtcVocabulary | undefined, model: string): CtcVocabulary {
  if (!vocabulary) return new CharVocabulary([...labels]);
  if (labels.length !== vocabulary.size || labels.some((l, i) => l !== vocabulary.labels[i])) {
    throw new Error(`${model}: labels differ from the vocabulary's labels`);
  }
  return vocabulary;
}

/** The parts of a model that audioToEncoder runs. */
export interface AsrFrontEnd {
  readonly preprocessor: AudioToMelSpectrogramPreprocessor;
  readonly encoder: ConformerEncoder;
  readonly specAugment: SpecAugment | null;
  readonly rng: AsrGenerators;
  readonly training: boolean;
}

/**
 * audio [B, N], lengths [B] -> encoder frames [B, d, T'] and their lengths. SpecAugment only in training mode.
 * freezeEncoder: NeMo's encoder.freeze() (no gradients and eval mode, so no dropout, while frozen).
 */
export function audioToEncoder(m: AsrFrontEnd, audio: Tensor, audioLen: Tensor, o: { freezeEncoder?: boolean } = {}): { encoded: Tensor; lengths: Tensor } {
  const pre = m.preprocessor.forward(audio, audioLen); // [B, F, T]
  let feats = pre.features;
  if (m.training && m.specAugment) feats = m.specAugment.forward(feats, pre.lengths, m.rng.specAugment);
  if (!o.freezeEncoder) return m.encoder.forward(feats, pre.lengths, { rng: m.rng.context }); // [B, d, T']
  const was = m.encoder.training;
  m.encoder.eval();
  try {
    return t.noGrad(() => m.encoder.forward(feats, pre.lengths));
  } finally {
    m.encoder.train(was);
  }
}

/** Seconds per encoder frame (window_stride x subsampling_factor: 0.08 for 10 ms and 8x). */
export function encoderFrameSeconds(m: Pick<AsrFrontEnd, 'preprocessor' | 'encoder'>): number {
  return (m.preprocessor.geometry.hopLength / m.preprocessor.cfg.sample_rate) * m.encoder.config.subsampling_factor;
}
