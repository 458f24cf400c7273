// Provenance: nemo.collections.asr.models.rnnt_models.EncDecRNNTModel (characters; EncDecRNNTBPEModel for SentencePiece
// sub-words: the same network) — preprocessor -> (SpectrogramAugmentation in training) -> ConformerEncoder ->
// RNNTDecoder (prediction network over the targets) -> RNNTJoint -> RNNTLoss (blank = the last class,
// rnnt_reduction 'mean_batch' by default; FastEmit and clamp from model.loss.<loss_name>_kwargs), greedy decoding or
// modified beam search (model.decoding.strategy beam).
// State-dict order and names as NeMo: preprocessor.*, encoder.*, decoder.prediction.*, joint.*. Built from a config
// by rnntModelArgsFromConfig (rnnt-config.ts).
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { AudioToMelSpectrogramPreprocessor } from '../audio/preprocessor.js';
import { ConformerEncoder, type ConformerEncoderConfig } from '../model/conformer-encoder.js';
import { resolveEncoderConfig } from '../model/encoder-config.js';
import { asrGenerators, asrVocabulary, audioToEncoder, encoderFrameSeconds, type AsrGenerators } from './asr-front-end.js';
import { tokensToText, wordTimings } from './ctc-greedy.js';
import type { Transcript } from './ctc-model.js';
import { RnntDecoder, type RnntDecoderConfig } from './rnnt-decoder.js';
import { loadEncoderWeights } from './encoder-init.js';
import { rnntGreedyDecode } from './rnnt-greedy.js';
import { RnntJoint, type RnntJointConfig, type RnntJointNetConfig } from './rnnt-joint.js';
import { rnntLoss } from './rnnt-loss.js';
import { beamRnntStreamDecoder, greedyRnntStreamDecoder, type RnntStreamDecoder } from './streaming-rnnt.js';
import { rnntBeamDecode, type RnntBeamOptions } from './rnnt-beam.js';
import { SpecAugment, type SpecAugmentConfig } from './spec-augment.js';
import type { CtcVocabulary } from './vocabulary.js';

export const RNNT_TARGET = 'nemo.collections.asr.models.EncDecRNNTModel';
/** The class NeMo writes for a sub-word (SentencePiece) transducer. */
export const RNNT_BPE_TARGET = 'nemo.collections.asr.models.rnnt_bpe_models.EncDecRNNTBPEModel';

/** NeMo's RNNTLoss reductions (model.rnnt_reduction): over the batch, per target length, summed, or per total length. */
export type RnntLossReduction = 'mean_batch' | 'mean' | 'sum' | 'mean_volume';

export interface RnntLossConfig {
  reduction: RnntLossReduction;
  /** NeMo's warprnnt_numba_kwargs.fastemit_lambda. */
  fastemitLambda: number;
  /** NeMo's warprnnt_numba_kwargs.clamp (<= 0: off). */
  clamp: number;
}

export interface RnntModelArgs {
  preprocessor: Record<string, unknown>;
  encoder: ConformerEncoderConfig;
  /** The labels in id order (blank excluded; the blank is id labels.length). */
  labels: readonly string[];
  /** The label set when it is not characters (a SentencePieceTokenizer; its labels must equal `labels`). */
  vocabulary?: CtcVocabulary;
  /** model.decoder without vocab_size (set from the labels, as NeMo). */
  decoder: Omit<RnntDecoderConfig, 'vocab_size'>;
  /** model.joint without num_classes / vocabulary (set from the labels) and the jointnet sizes set from the encoder and decoder. */
  joint: Omit<RnntJointConfig, 'num_classes' | 'vocabulary' | 'jointnet'> & { jointnet: Omit<RnntJointNetConfig, 'encoder_hidden' | 'pred_hidden'> };
  loss: RnntLossConfig;
  /** model.decoding.greedy.max_symbols. */
  maxSymbols: number;
  /** model.decoding.strategy beam: modified beam search with these options; null or absent: greedy. */
  beam?: RnntBeamOptions | null;
  /** A hybrid RNN-T/CTC model's CTC head (model.aux_ctc; HybridRnntCtcModel builds it); null or absent for a transducer. */
  auxCtc?: { ctcLossWeight: number } | null;
  specAugment: SpecAugmentConfig | null;
  seed: number;
}

/** A forward pass: encoder frames channel-last (as the joint takes them). */
export interface RnntForward {
  encoded: Tensor; // [B, T', d]
  encodedLen: Tensor; // [B] int64
}

export class RnntModel extends t.Module {
  readonly preprocessor: AudioToMelSpectrogramPreprocessor;
  readonly encoder: ConformerEncoder;
  readonly decoder: RnntDecoder;
  readonly joint: RnntJoint;
  readonly specAugment: SpecAugment | null;
  readonly vocab: CtcVocabulary;
  readonly rng: AsrGenerators;

  constructor(readonly args: RnntModelArgs) {
    super();
    const s = args.seed;
    this.rng = asrGenerators(s);
    const init = new t.Generator(s);
    this.vocab = asrVocabulary(args.labels, args.vocabulary, 'RnntModel');
    if (!['mean_batch', 'mean', 'sum', 'mean_volume'].includes(args.loss.reduction))
      throw new RangeError(`rnnt_reduction must be mean_batch, mean, sum or mean_volume, got '${String(args.loss.reduction)}'`);
    if (!(Number.isInteger(args.maxSymbols) && args.maxSymbols >= 1))
      throw new RangeError(`decoding.greedy.max_symbols must be a positive integer, got ${args.maxSymbols}`);
    this.preprocessor = this.registerModule('preprocessor', new AudioToMelSpectrogramPreprocessor(args.preprocessor, this.rng.dither));
    this.encoder = this.registerModule(
      'encoder',
      new ConformerEncoder(resolveEncoderConfig(args.encoder), { init: { generator: init }, dropoutGenerator: this.rng.dropout }),
    );
    const d = this.encoder.config.feat_out > 0 ? this.encoder.config.feat_out : this.encoder.config.d_model;
    const n = this.vocab.size;
    this.decoder = this.registerModule('decoder', new RnntDecoder({ ...args.decoder, vocab_size: n }, { generator: init, dropoutGenerator: this.rng.dropout }));
    const jointnet = { ...args.joint.jointnet, encoder_hidden: d, pred_hidden: args.decoder.prednet.pred_hidden };
    this.joint = this.registerModule(
      'joint',
      new RnntJoint({ ...args.joint, jointnet, num_classes: n, vocabulary: this.vocab.labels }, { generator: init, dropoutGenerator: this.rng.dropout }),
    );
    this.specAugment = args.specAugment ? new SpecAugment(args.specAugment) : null;
  }

  /** Seconds per encoder frame (window_stride x subsampling_factor). */
  get frameSeconds(): number {
    return encoderFrameSeconds(this);
  }

  /** Copies the encoder and preprocessor weights of a pretrained model (e.g. NEST); returns how many tensors were copied. */
  loadEncoderFrom(sd: t.StateDict): number {
    return loadEncoderWeights(this, sd);
  }

  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  /** audio [B, N], lengths [B] -> encoder frames [B, T', d] and their lengths. Spec augment only in training mode. */
  forward(audio: Tensor, audioLen: Tensor, o: { freezeEncoder?: boolean } = {}): RnntForward {
    return t.tidy(() => {
      const enc = audioToEncoder(this, audio, audioLen, o); // [B, d, T']
      return { encoded: enc.encoded.transpose(1, 2), encodedLen: enc.lengths.to({ dtype: 'int64' }) };
    });
  }

  /** Per-utterance transducer costs [B] of rows [start, start + n), trimmed to their own longest T and U. */
  private costsOf(f: RnntForward, targets: Tensor, targetLen: Tensor, start: number, n: number): Tensor {
    return t.tidy(() => {
      const encLen = t.narrow(f.encodedLen, 0, start, n);
      const tgtLen = t.narrow(targetLen, 0, start, n).to({ dtype: 'int64' });
      const T = encLen.max().item();
      const U = tgtLen.max().item();
      const enc = t.narrow(t.narrow(f.encoded, 0, start, n), 1, 0, T); // [n, T, d]
      const y = t.narrow(t.narrow(targets, 0, start, n), 1, 0, U).to({ dtype: 'int64' }); // [n, U]
      const g = this.decoder.forward(y).g; // [n, U+1, H]
      const logits = this.joint.logits(enc, g); // [n, T, U+1, V+1]
      const { fastemitLambda, clamp } = this.args.loss;
      return rnntLoss(logits, y, encLen, tgtLen, { blank: this.decoder.blank, reduction: 'none', fastemitLambda, clamp });
    });
  }

  /**
   * NeMo's RNNTLoss with model.rnnt_reduction; with joint.fuse_loss_wer, joint and loss run over sub-batches of
   * fused_batch_size utterances (same value, less padding in the [B, T, U+1, V+1] joint).
   */
  lossOf(f: RnntForward, targets: Tensor, targetLen: Tensor): Tensor {
    return t.tidy(() => {
      const b = f.encoded.size(0);
      const step = this.joint.cfg.fuse_loss_wer ? this.joint.cfg.fused_batch_size! : b;
      const parts: Tensor[] = [];
      for (let s = 0; s < b; s += step) parts.push(this.costsOf(f, targets, targetLen, s, Math.min(step, b - s)));
      const costs = parts.length === 1 ? parts[0]! : t.cat(parts, 0); // [B]
      const lens = targetLen.to({ dtype: costs.dtype });
      switch (this.args.loss.reduction) {
        case 'mean_batch':
          return costs.mean();
        case 'mean':
          return costs.div(lens).mean(); // as NeMo: an empty target gives inf
        case 'sum':
          return costs.sum();
        case 'mean_volume':
          return costs.sum().div(lens.sum());
      }
    });
  }

  /** Transcripts of a forward pass (one per batch row): greedy, or modified beam search with args.beam. */
  decode(f: RnntForward): Transcript[] {
    return t.noGrad(() => {
      const lens = f.encodedLen.toArray();
      const beam = this.args.beam;
      const tokens = beam
        ? rnntBeamDecode(this.decoder, this.joint, f.encoded, lens, beam).map((h) => h.tokens)
        : rnntGreedyDecode(this.decoder, this.joint, f.encoded, lens, { maxSymbols: this.args.maxSymbols });
      return tokens.map((toks) => ({ text: tokensToText(toks, this.vocab), tokens: toks, words: wordTimings(toks, this.vocab, this.frameSeconds) }));
    });
  }

  /** The model's search run stream by stream, its state carried between chunks (the streaming recognizer's). */
  streamDecoder(): RnntStreamDecoder {
    if (this.args.beam) return beamRnntStreamDecoder(this.decoder, this.joint, this.args.beam);
    return greedyRnntStreamDecoder(this.decoder, this.joint, { maxSymbols: this.args.maxSymbols });
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
          const len = t.tensor(
            BigInt64Array.from(clips, (c) => BigInt(c.length)),
            [clips.length],
          );
          return this.decode(this.forward(t.tensor(buf, [clips.length, n]), len));
        }),
      );
    } finally {
      this.train(was);
    }
  }
}
