// Provenance: nemo.collections.asr.models.ssl_models.EncDecDenoiseMaskedTokenPredModel (pre_conv masking).
// Targets come from the CLEAN features (random-projection quantizer); the encoder sees the MASKED NOISY features.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { AudioToMelSpectrogramPreprocessor } from '../audio/preprocessor.js';
import { ConformerEncoder, type ConformerEncoderConfig } from '../model/conformer-encoder.js';
import { RandomBlockMasking, type RandomBlockMaskingConfig } from './random-block-masking.js';
import { RandomProjectionVectorQuantizer, type RandomProjectionQuantizerConfig } from './random-projection-quantizer.js';
import { MultiSoftmaxDecoder, type MultiSoftmaxDecoderConfig } from './multi-softmax-decoder.js';
import { MultiMLMLoss, type MultiMLMLossConfig } from './mlm-loss.js';
import { normalizeTargetFeatures, type TargetNormalize } from './target-normalization.js';

/** A padded batch of clean audio and its noisy copy (the augmentation output). */
export interface NestBatch {
  audio: Tensor; // [B, N] float32
  audioLen: Tensor; // [B] int64 samples
  noisy: Tensor; // [B, N] float32
  noisyLen: Tensor; // [B] int64 samples
}

export interface NestModelArgs {
  preprocessor: Record<string, unknown>;
  encoder: ConformerEncoderConfig;
  masking: RandomBlockMaskingConfig;
  quantizer: RandomProjectionQuantizerConfig;
  decoder: MultiSoftmaxDecoderConfig;
  loss: MultiMLMLossConfig;
  /** Normalisation of the clean features before the quantizer (model.target_normalize; default 'none', NeMo's). */
  targetNormalize?: TargetNormalize;
  /** Seeds the parameter initialisation and the four training generators. */
  seed: number;
  /** Runtime, not config: the data-parallel group the conv modules' batch_norm synchronises over (trainer.sync_batchnorm). */
  syncBatchNorm?: t.ProcessGroup | null;
}

export interface NestForward {
  tokens: Tensor; // int64 [B, T_tok, H] (or [B, T_tok] squeezed)
  masks: Tensor; // float32 [B, F, T]
  logProbs: Tensor; // [B, T', C, H] (or [B, T', C] squeezed)
  encoded: Tensor; // [B, d, T']
  encodedLen: Tensor; // [B]
}

export interface NestMetrics {
  /** Fraction of scored (masked) positions whose argmax equals the target token. */
  maskedAccuracy: number;
  /** Distinct target tokens in the batch over num_classes. */
  codebookUsage: number;
  /** exp(entropy) of the batch's target-token distribution. */
  targetPerplexity: number;
  /** Target tokens in the batch (all heads; the sample targetPerplexity was measured on). */
  targets: number;
  /** exp(entropy) of the decoder's argmax tokens at the scored positions (1.0: always the same token). */
  predictionPerplexity: number;
  /** Scored positions in the batch. */
  scored: number;
}

export class NestModel extends t.Module {
  readonly preprocessor: AudioToMelSpectrogramPreprocessor;
  readonly encoder: ConformerEncoder;
  readonly quantizer: RandomProjectionVectorQuantizer;
  readonly mask_processor: RandomBlockMasking;
  readonly decoder: MultiSoftmaxDecoder;
  readonly loss: MultiMLMLoss;
  /** Explicit randomness: dither, masking, dropout, and the encoder's multi-lookahead / stochastic-depth draws. */
  readonly rng: { dither: t.Generator; masking: t.Generator; dropout: t.Generator; context: t.Generator };

  constructor(readonly args: NestModelArgs) {
    super();
    const s = args.seed;
    this.rng = {
      dither: new t.Generator(s + 1),
      masking: new t.Generator(s + 2),
      dropout: new t.Generator(s + 3),
      context: new t.Generator(s + 4),
    };
    const init = new t.Generator(s);
    // Registration order = NeMo's state-dict order: preprocessor, encoder, quantizer, mask_processor, decoder.
    this.preprocessor = this.registerModule('preprocessor', new AudioToMelSpectrogramPreprocessor(args.preprocessor, this.rng.dither));
    this.encoder = this.registerModule(
      'encoder',
      new ConformerEncoder(args.encoder, { init: { generator: init }, dropoutGenerator: this.rng.dropout, syncBatchNorm: args.syncBatchNorm ?? null }),
    );
    this.quantizer = this.registerModule('quantizer', new RandomProjectionVectorQuantizer(args.quantizer, { generator: init }));
    this.mask_processor = this.registerModule('mask_processor', new RandomBlockMasking(args.masking, { generator: init }));
    this.decoder = this.registerModule('decoder', new MultiSoftmaxDecoder(args.decoder, { generator: init }));
    this.loss = new MultiMLMLoss(args.loss);
  }

  /** Parameters with requiresGrad (the quantizer and a frozen mask embedding are excluded, as in NeMo's AdamW group). */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  /** The whole NEST forward pass with masking applied (training and validation both mask, as NeMo). */
  forward(batch: NestBatch, o: { attContextSize?: [number, number]; maskFrames?: readonly (readonly number[])[] } = {}): NestForward {
    const clean = this.preprocessor.forward(batch.audio, batch.audioLen); // [B, F, T]
    const noisy = this.preprocessor.forward(batch.noisy, batch.noisyLen); // [B, F, T]
    // targets in full precision under autocast too (the projection is a float32 linear): tokens do not depend on trainer.precision
    const tokens = t.noGrad(() => t.autocastOff(() => this.quantizer.tokens(this.quantizerInput(clean.features, clean.lengths)))); // [B, T/S, H]
    // masked frames drawn here, or given (reproducing a recorded batch, e.g. NeMo's golden masks)
    const { masked, mask } = o.maskFrames
      ? this.mask_processor.applyFrames(noisy.features, o.maskFrames)
      : this.mask_processor.forward(noisy.features, noisy.lengths, this.rng.masking); // [B, F, T]
    const enc = this.encoder.forward(masked, noisy.lengths, { rng: this.rng.context, attContextSize: o.attContextSize }); // [B, d, T']
    const logProbs = this.decoder.forward(enc.encoded); // [B, T', C, H]
    return { tokens, masks: mask, logProbs, encoded: enc.encoded, encodedLen: enc.lengths };
  }

  /** The quantizer's input: clean features [B, F, T] normalised by model.target_normalize. */
  quantizerInput(features: Tensor, lengths: Tensor): Tensor {
    return normalizeTargetFeatures(features, lengths, this.args.targetNormalize ?? 'none');
  }

  lossOf(f: NestForward): Tensor {
    return this.loss.forward(f.masks, f.logProbs, f.tokens);
  }

  /** Masked-token accuracy, codebook usage and target perplexity of one forward pass. */
  metricsOf(f: NestForward): NestMetrics {
    return t.noGrad(() =>
      t.tidy(() => {
        const sel = this.loss.selectedGroups(f.masks); // [B, G] bool
        const G = sel.size(1);
        const logp = this.loss.alignFrames(f.logProbs, G); // [B, G, C(, H)]
        const squeezed = logp.ndim === 3;
        const pred = logp.argmax(2); // [B, G(, H)]
        const tg = f.tokens.size(1) >= G ? f.tokens.narrow(1, 0, G) : t.pad(f.tokens, squeezed ? [0, G - f.tokens.size(1)] : [0, 0, 0, G - f.tokens.size(1)]);
        const hit = pred.eq(tg); // [B, G(, H)]
        const selB = squeezed ? sel : sel.unsqueeze(2).expand(hit.shape);
        const scored = selB.sum().item();
        const correct = t.logicalAnd(hit, selB).sum().item();
        const numClasses = logp.size(2);
        const countsOf = (ids: Tensor): Tensor => t.call(t.op('aten::bincount', ''), ids, null, numClasses).to({ dtype: 'float64' }); // [C]
        const perplexityOf = (counts: Tensor): number => {
          const p = counts.div(counts.sum().clamp(1));
          return Math.exp(t.where(p.gt(0), p.mul(p.log()), 0).sum().neg().item());
        };
        const flatTargets = tg.reshape([-1]);
        const targetCounts = countsOf(flatTargets); // [C]
        const predicted = t.call(t.op('aten::masked_select', ''), pred, selB) as Tensor; // [scored]
        return {
          maskedAccuracy: scored > 0 ? correct / scored : NaN,
          codebookUsage: targetCounts.gt(0).sum().item() / numClasses,
          targetPerplexity: perplexityOf(targetCounts),
          targets: flatTargets.size(0),
          predictionPerplexity: scored > 0 ? perplexityOf(countsOf(predicted)) : NaN,
          scored,
        };
      }),
    );
  }
}
