// Provenance: nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel (characters;
// hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel for SentencePiece sub-words: the same network) — the
// transducer (RnntModel: encoder, RNNTDecoder, RNNTJoint) with an auxiliary CTC head on the same encoder frames
// (ConvASRDecoder `ctc_decoder`, the transducer's labels, blank last), trained on
// loss = (1 - ctc_loss_weight) * rnnt_loss + ctc_loss_weight * ctc_loss (training_step; the CTC loss is NeMo's
// CTCLoss: zero_infinity, reduction 'mean_batch'; with a weight of 0 the CTC head is not run). State-dict names and
// order as NeMo: preprocessor.*, encoder.*, decoder.*, joint.*, ctc_decoder.decoder_layers.0.*. Decoding (and the
// validation WER) uses the transducer head, as NeMo's default cur_decoder 'rnnt'; decodeCtc the CTC head.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { greedyDecode, tokensToText, wordTimings } from './ctc-greedy.js';
import type { Transcript } from './ctc-model.js';
import { ConvAsrDecoder } from './conv-asr-decoder.js';
import { RnntModel, type RnntForward, type RnntModelArgs } from './rnnt-model.js';

export const HYBRID_TARGET = 'nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel';
/** The class NeMo writes for a sub-word (SentencePiece) hybrid. */
export const HYBRID_BPE_TARGET = 'nemo.collections.asr.models.hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel';

/** The two losses of a batch and their weighted sum (the training loss). */
export interface HybridLoss {
  loss: Tensor;
  rnnt: Tensor;
  /** null when ctc_loss_weight is 0 (NeMo does not run the CTC head then). */
  ctc: Tensor | null;
}

export class HybridRnntCtcModel extends RnntModel {
  readonly ctc_decoder: ConvAsrDecoder;
  readonly ctcLossWeight: number;

  constructor(args: RnntModelArgs & { auxCtc: { ctcLossWeight: number } }) {
    super(args);
    const w = args.auxCtc.ctcLossWeight;
    if (!(w >= 0 && w <= 1)) throw new RangeError(`aux_ctc.ctc_loss_weight must be in [0, 1], got ${w}`);
    this.ctcLossWeight = w;
    const d = this.encoder.config.feat_out > 0 ? this.encoder.config.feat_out : this.encoder.config.d_model;
    this.ctc_decoder = this.registerModule(
      'ctc_decoder',
      new ConvAsrDecoder({ feat_in: d, num_classes: this.vocab.size, vocabulary: this.vocab.labels }, { generator: new t.Generator(args.seed + 5) }),
    );
  }

  /** The CTC head's log-probabilities [B, T', V+1] of a forward pass. */
  ctcLogProbs(f: RnntForward): Tensor {
    return this.ctc_decoder.forward(f.encoded.transpose(1, 2));
  }

  /** NeMo's CTCLoss of the CTC head ('mean_batch': mean over the batch of each utterance's loss; zero_infinity). */
  ctcLossOf(f: RnntForward, targets: Tensor, targetLen: Tensor): Tensor {
    return t.tidy(() => {
      const lp = this.ctcLogProbs(f).transpose(0, 1); // [T', B, V+1]
      return t.ctcLoss(lp, targets, f.encodedLen, targetLen, { blank: this.decoder.blank, reduction: 'none', zeroInfinity: true }).mean();
    });
  }

  /** Both losses and NeMo's weighted sum. */
  hybridLossOf(f: RnntForward, targets: Tensor, targetLen: Tensor): HybridLoss {
    return t.tidy(() => {
      const rnnt = super.lossOf(f, targets, targetLen);
      const w = this.ctcLossWeight;
      if (w === 0) return { loss: rnnt, rnnt, ctc: null };
      const ctc = this.ctcLossOf(f, targets, targetLen);
      return { loss: rnnt.mul(1 - w).add(ctc.mul(w)), rnnt, ctc };
    });
  }

  /** The training loss: (1 - ctc_loss_weight) * rnnt + ctc_loss_weight * ctc. */
  override lossOf(f: RnntForward, targets: Tensor, targetLen: Tensor): Tensor {
    return t.tidy(() => this.hybridLossOf(f, targets, targetLen).loss);
  }

  /** Greedy CTC transcripts of the CTC head (NeMo's change_decoding_strategy(decoder_type='ctc')). */
  decodeCtc(f: RnntForward): Transcript[] {
    return t.noGrad(() =>
      t.tidy(() => {
        const lp = this.ctcLogProbs(f);
        const T = lp.size(1);
        const ids = lp.argmax(-1).toArray();
        return f.encodedLen.toArray().map((len, b) => {
          const tokens = greedyDecode(ids.slice(b * T, b * T + len), this.decoder.blank);
          return { text: tokensToText(tokens, this.vocab), tokens, words: wordTimings(tokens, this.vocab, this.frameSeconds) };
        });
      }),
    );
  }
}

/** The model a transducer config's arguments describe: a hybrid with model.aux_ctc, else a plain transducer. */
export function transducerModel(args: RnntModelArgs): RnntModel {
  const aux = args.auxCtc;
  return aux ? new HybridRnntCtcModel({ ...args, auxCtc: aux }) : new RnntModel(args);
}
