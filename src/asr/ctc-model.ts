// Provenance: nemo.collections.asr.models.ctc_models.EncDecCTCModel (characters; EncDecCTCModelBPE for SentencePiece
// sub-words: the same network, labels = the tokenizer's pieces) — preprocessor -> (SpectrogramAugmentation in
// training) -> ConformerEncoder -> ConvASRDecoder -> CTCLoss(blank = num_classes, zero_infinity = True,
// reduction = 'mean_batch'). NeMo's 'mean_batch' is torch's reduction 'none' (each utterance's negative
// log-likelihood, NOT divided by its target length) followed by a plain mean over the batch.
// State-dict order and names as NeMo: preprocessor.*, encoder.*, decoder.decoder_layers.0.*.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { AudioToMelSpectrogramPreprocessor } from '../audio/preprocessor.js';
import { ConfigError } from '../config/config-error.js';
import type { ConfigMap, KeyPath } from '../config/config-tree.js';
import { readEncoderConfig } from '../config/schema/encoder.js';
import { readPreprocessorConfig } from '../config/schema/preprocessor.js';
import { SectionReader, newValidationContext } from '../config/section-reader.js';
import { ConformerEncoder, type ConformerEncoderConfig } from '../model/conformer-encoder.js';
import { conformerEncoderArgs, resolveEncoderConfig } from '../model/encoder-config.js';
import { asrGenerators, asrVocabulary, audioToEncoder, encoderFrameSeconds, type AsrGenerators } from './asr-front-end.js';
import { ConvAsrDecoder } from './conv-asr-decoder.js';
import { CharVocabulary } from './text.js';
import { loadEncoderWeights } from './encoder-init.js';
import { SpecAugment, readSpecAugmentConfig, type SpecAugmentConfig } from './spec-augment.js';
import type { CtcVocabulary } from './vocabulary.js';
import type { SentencePieceTokenizer } from './sentencepiece-tokenizer.js';
import { readTokenizerSection } from './tokenizer-config.js';
import { greedyDecode, tokensToText, wordTimings, type CtcToken, type WordTiming } from './ctc-greedy.js';

export const CTC_TARGET = 'nemo.collections.asr.models.EncDecCTCModel';
/** The class NeMo writes for a sub-word (SentencePiece) CTC model. */
export const CTC_BPE_TARGET = 'nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE';

/** A padded labelled batch. */
export interface CtcBatch {
  audio: Tensor; // [B, N] float32
  audioLen: Tensor; // [B] int64 samples
  targets: Tensor; // [B, S] int64 label ids (padded with 0)
  targetLen: Tensor; // [B] int64
  /** Reference transcripts (for WER). */
  texts: string[];
}

export interface CtcModelArgs {
  preprocessor: Record<string, unknown>;
  /** The encoder section (every key given by ctcModelArgsFromConfig; a partial one takes the schema's defaults). */
  encoder: ConformerEncoderConfig;
  /** The CTC labels in id order (blank excluded). */
  labels: readonly string[];
  /** The label set when it is not characters (a SentencePieceTokenizer; its labels must equal `labels`). Default: characters. */
  vocabulary?: CtcVocabulary;
  specAugment: SpecAugmentConfig | null;
  /** Seeds the decoder's (and, from scratch, the encoder's) initialisation and the training generators. */
  seed: number;
}

export interface CtcForward {
  logProbs: Tensor; // [B, T', C+1]
  encodedLen: Tensor; // [B] int64
}

export interface Transcript {
  text: string;
  tokens: CtcToken[];
  words: WordTiming[];
}

/** Where the `model:` mapping given to ctcModelArgsFromConfig comes from (for its checks and their messages). */
export interface CtcConfigSource {
  /** Names the configuration in errors: the config file, or `<archive>: model_config.yaml`. */
  file: string;
  /** Key path of the mapping: ['model'] in a training config, [] (the default) in a stored model's model_config.yaml. */
  path: KeyPath;
  /** A configuration about to train: the schema's training-only refusals are errors (else warnings). */
  training: boolean;
  /** Receives the schema's warnings (keys with no effect, unknown keys); dropped when absent. */
  warnings?: string[];
  /**
   * How errors name the decoder section and the labels (default `model.decoder`, `model.labels`): a hybrid RNN-T/CTC
   * model's CTC head is `model.aux_ctc.decoder`, and a character hybrid's labels `model.aux_ctc.decoder.vocabulary`.
   */
  keys?: { decoder?: string; labels?: string };
}

/**
 * The `model:` sections a CTC model is built from (NeMo layout, interpolations resolved). The encoder and preprocessor
 * sections go through the schema's readers, as every other model config does (throws a ConfigError naming every
 * problem). With an active model.tokenizer section, `tokenizer` is the SentencePiece model it names (loaded by the
 * caller: loading is async).
 */
export function ctcModelArgsFromConfig(
  model: Record<string, unknown>,
  seed: number,
  tokenizer: SentencePieceTokenizer | null = null,
  source: CtcConfigSource = { file: 'model_config.yaml', path: [], training: false },
): CtcModelArgs {
  const decKey = source.keys?.decoder ?? 'model.decoder';
  const labelsKey = source.keys?.labels ?? 'model.labels';
  const need = (k: string, name = `model.${k}`): Record<string, unknown> => {
    const v = model[k];
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${name}: required section is missing`);
    return v as Record<string, unknown>;
  };
  const labels = model.labels;
  const dec = need('decoder', decKey);
  const enc = need('encoder');
  let vocab: CtcVocabulary;
  if (readTokenizerSection(model.tokenizer, 'model.tokenizer')) {
    if (labels !== null && labels !== undefined)
      throw new Error(`${labelsKey} must be null when model.tokenizer is set (the labels are the tokenizer's pieces)`);
    if (!tokenizer) throw new Error('model.tokenizer is set: load its SentencePiece model and pass it to ctcModelArgsFromConfig');
    vocab = tokenizer;
    const v = dec.vocabulary;
    if (Array.isArray(v) && v.length > 0) {
      const i = tokenizer.labels.findIndex((p, k) => v[k] !== p);
      if (v.length !== tokenizer.size || i >= 0) {
        throw new Error(
          `${decKey}.vocabulary does not match the tokenizer ${tokenizer.source} (${v.length} vs ${tokenizer.size} pieces${i >= 0 ? `; piece ${i} is ${JSON.stringify(v[i])} vs ${JSON.stringify(tokenizer.labels[i])}` : ''})`,
        );
      }
    }
  } else {
    if (tokenizer) throw new Error('a tokenizer was given but model.tokenizer is not set');
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) throw new Error(`${labelsKey}: expected a list of single characters`);
    vocab = new CharVocabulary(labels as string[]);
  }
  const what = tokenizer ? `the tokenizer ${tokenizer.source} has` : `${labelsKey} has`;
  if (dec.num_classes !== undefined && dec.num_classes !== null && dec.num_classes !== -1 && dec.num_classes !== vocab.size) {
    throw new Error(`${decKey}.num_classes is ${String(dec.num_classes)} but ${what} ${vocab.size} labels`);
  }
  const ctx = newValidationContext(source.file, undefined, source.training);
  const encoder = readEncoderConfig(SectionReader.open(ctx, [...source.path, 'encoder'], enc as ConfigMap, true));
  const preprocessor = readPreprocessorConfig(SectionReader.open(ctx, [...source.path, 'preprocessor'], need('preprocessor') as ConfigMap, true));
  if (ctx.issues.length > 0) throw new ConfigError(ctx.file, ctx.issues);
  source.warnings?.push(...ctx.warnings);
  const d = encoder.feat_out > 0 ? encoder.feat_out : encoder.d_model;
  if (dec.feat_in !== undefined && dec.feat_in !== null && dec.feat_in !== d)
    throw new Error(`${decKey}.feat_in is ${String(dec.feat_in)} but the encoder outputs ${d} channels`);
  const sa = model.spec_augment;
  return {
    preprocessor: { ...preprocessor },
    encoder: conformerEncoderArgs(encoder),
    labels: vocab.labels,
    ...(tokenizer ? { vocabulary: tokenizer } : {}),
    specAugment: sa && typeof sa === 'object' ? readSpecAugmentConfig(sa as Record<string, unknown>) : null,
    seed,
  };
}

export class CtcModel extends t.Module {
  readonly preprocessor: AudioToMelSpectrogramPreprocessor;
  readonly encoder: ConformerEncoder;
  readonly decoder: ConvAsrDecoder;
  readonly specAugment: SpecAugment | null;
  readonly vocab: CtcVocabulary;
  readonly rng: AsrGenerators;

  constructor(readonly args: CtcModelArgs) {
    super();
    const s = args.seed;
    this.rng = asrGenerators(s);
    const init = new t.Generator(s);
    this.vocab = asrVocabulary(args.labels, args.vocabulary, 'CtcModel');
    this.preprocessor = this.registerModule('preprocessor', new AudioToMelSpectrogramPreprocessor(args.preprocessor, this.rng.dither));
    this.encoder = this.registerModule(
      'encoder',
      new ConformerEncoder(resolveEncoderConfig(args.encoder), { init: { generator: init }, dropoutGenerator: this.rng.dropout }),
    );
    const d = this.encoder.config.feat_out > 0 ? this.encoder.config.feat_out : this.encoder.config.d_model;
    this.decoder = this.registerModule(
      'decoder',
      new ConvAsrDecoder({ feat_in: d, num_classes: this.vocab.size, vocabulary: this.vocab.labels }, { generator: init }),
    );
    this.specAugment = args.specAugment ? new SpecAugment(args.specAugment) : null;
  }

  /** Seconds per encoder frame (window_stride x subsampling_factor: 0.08 for 10 ms and 8x). */
  get frameSeconds(): number {
    return encoderFrameSeconds(this);
  }

  /** Copies the encoder and preprocessor weights of a pretrained model (e.g. NEST); returns how many tensors were copied. */
  loadEncoderFrom(sd: t.StateDict): number {
    return loadEncoderWeights(this, sd);
  }

  /** Encoder parameters (for freezing). */
  encoderParameters(): Tensor[] {
    return this.encoder.parameters();
  }

  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  /** audio [B, N], lengths [B] -> log-probabilities [B, T', C+1] and encoded lengths. Spec augment only in training mode. */
  forward(audio: Tensor, audioLen: Tensor, o: { freezeEncoder?: boolean } = {}): CtcForward {
    const enc = audioToEncoder(this, audio, audioLen, o); // [B, d, T']
    return { logProbs: this.decoder.forward(enc.encoded), encodedLen: enc.lengths.to({ dtype: 'int64' }) };
  }

  /** NeMo's CTCLoss with reduction 'mean_batch': mean over the batch of each utterance's CTC loss (zero_infinity). */
  lossOf(f: CtcForward, targets: Tensor, targetLen: Tensor): Tensor {
    const perUtt = t.ctcLoss(f.logProbs.transpose(0, 1), targets, f.encodedLen, targetLen, { blank: this.vocab.blank, reduction: 'none', zeroInfinity: true }); // [B]
    return perUtt.mean();
  }

  /** Greedy transcripts of a forward pass (one per batch row). */
  decode(f: CtcForward): Transcript[] {
    return t.noGrad(() =>
      t.tidy(() => {
        const ids = f.logProbs.argmax(-1).toArray(); // [B, T']
        const lens = f.encodedLen.toArray();
        const T = f.logProbs.size(1);
        return lens.map((len, b) => {
          const tokens = greedyDecode(ids.slice(b * T, b * T + len), this.vocab.blank);
          return { text: tokensToText(tokens, this.vocab), tokens, words: wordTimings(tokens, this.vocab, this.frameSeconds) };
        });
      }),
    );
  }

  /** Offline transcription of mono float32 clips at the preprocessor's rate. */
  transcribe(clips: readonly Float32Array[]): Transcript[] {
    if (clips.length === 0) return [];
    const was = this.training;
    this.eval();
    try {
      return t.noGrad(() =>
        t.tidy(() => {
          const n = Math.max(...clips.map((c) => c.length));
          const buf = new Float32Array(clips.length * n);
          clips.forEach((c, i) => {
            buf.set(c, i * n);
          });
          const audio = t.tensor(buf, [clips.length, n]);
          const len = t.tensor(
            BigInt64Array.from(clips, (c) => BigInt(c.length)),
            [clips.length],
          );
          return this.decode(this.forward(audio, len));
        }),
      );
    } finally {
      this.train(was);
    }
  }
}
