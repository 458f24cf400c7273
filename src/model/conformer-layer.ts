// One Conformer block (macaron): x + FF/2, + MHA, + Conv, + FF/2, then LayerNorm.
// Provenance: nemo.collections.asr.parts.submodules.conformer_modules.ConformerLayer
import * as t from '../torch/index.js';
import type { Generator, LayerInit, Tensor } from '../torch/index.js';
import { MultiHeadAttention, RelPositionMultiHeadAttention, type AttentionCache } from './attention.js';
import { ConformerConvolution, type ConvCache, type ConvNormType } from './conformer-convolution.js';
import { ConformerFeedForward } from './conformer-feed-forward.js';

export type SelfAttentionModel = 'rel_pos' | 'abs_pos';

export interface ConformerLayerOptions {
  dModel: number;
  dFf: number;
  selfAttentionModel: SelfAttentionModel;
  nHeads: number;
  convKernelSize: number;
  convNormType: ConvNormType;
  convContextSize: [number, number];
  dropout: number;
  dropoutAtt: number;
  useBias: boolean;
  /** Shared pos_bias_u / pos_bias_v (untie_biases: false); each layer owns its pair otherwise. */
  sharedPosBias?: { u: Tensor; v: Tensor };
  init?: LayerInit;
  generator?: Generator;
  /** Synchronised batch_norm in the conv module (trainer.sync_batchnorm with several ranks). */
  syncBatchNorm?: t.ProcessGroup | null;
}

/** Both streaming caches of one layer. */
export interface LayerCache {
  attention: AttentionCache;
  conv: ConvCache;
}

const FC_FACTOR = 0.5;

export class ConformerLayer extends t.Module {
  readonly norm_feed_forward1: t.LayerNorm;
  readonly feed_forward1: ConformerFeedForward;
  readonly norm_conv: t.LayerNorm;
  readonly conv: ConformerConvolution;
  readonly norm_self_att: t.LayerNorm;
  readonly self_attn: MultiHeadAttention;
  readonly norm_feed_forward2: t.LayerNorm;
  readonly feed_forward2: ConformerFeedForward;
  readonly dropout: t.Dropout;
  readonly norm_out: t.LayerNorm;

  constructor(readonly options: ConformerLayerOptions) {
    super();
    const o = options;
    const d = o.dModel;
    const ff = { dModel: d, dFf: o.dFf, dropout: o.dropout, useBias: o.useBias, init: o.init, generator: o.generator };
    // Registration order = NeMo's (and its state-dict order): conv before attention, although attention runs first.
    this.norm_feed_forward1 = this.registerModule('norm_feed_forward1', new t.LayerNorm(d, 1e-5, o.init));
    this.feed_forward1 = this.registerModule('feed_forward1', new ConformerFeedForward(ff));
    this.norm_conv = this.registerModule('norm_conv', new t.LayerNorm(d, 1e-5, o.init));
    this.conv = this.registerModule(
      'conv',
      new ConformerConvolution({
        dModel: d,
        kernelSize: o.convKernelSize,
        normType: o.convNormType,
        convContextSize: o.convContextSize,
        useBias: o.useBias,
        init: o.init,
        syncBatchNorm: o.syncBatchNorm,
      }),
    );
    this.norm_self_att = this.registerModule('norm_self_att', new t.LayerNorm(d, 1e-5, o.init));
    const att = { nHeads: o.nHeads, dModel: d, dropoutAtt: o.dropoutAtt, useBias: o.useBias, init: o.init, generator: o.generator };
    let attn: MultiHeadAttention;
    if (o.selfAttentionModel === 'rel_pos') attn = new RelPositionMultiHeadAttention(att, o.sharedPosBias);
    else if (o.selfAttentionModel === 'abs_pos') attn = new MultiHeadAttention(att);
    else throw new RangeError(`self_attention_model '${String(o.selfAttentionModel)}' is not supported (rel_pos, abs_pos)`);
    this.self_attn = this.registerModule('self_attn', attn);
    this.norm_feed_forward2 = this.registerModule('norm_feed_forward2', new t.LayerNorm(d, 1e-5, o.init));
    this.feed_forward2 = this.registerModule('feed_forward2', new ConformerFeedForward(ff));
    this.dropout = this.registerModule('dropout', new t.Dropout(o.dropout, o.generator));
    this.norm_out = this.registerModule('norm_out', new t.LayerNorm(d, 1e-5, o.init));
  }

  private halfFeedForward(r: Tensor, norm: t.LayerNorm, ff: ConformerFeedForward): Tensor {
    return r.add(this.dropout.forward(ff.forward(norm.forward(r))), FC_FACTOR); // r + FC_FACTOR * y in one op (the same value: 0.5 y is exact) [B, T, d]
  }

  /** x [B, T, d], attMask [B, T, T] (true = blocked), posEmb [1, 2T-1, d] (rel_pos), padMask [B, T] -> [B, T, d]. */
  forward(x: Tensor, attMask: Tensor | null, posEmb: Tensor | null, padMask: Tensor | null): Tensor {
    return t.tidy(() => {
      let r = this.halfFeedForward(x, this.norm_feed_forward1, this.feed_forward1);
      r = r.add(this.dropout.forward(this.self_attn.forward(this.norm_self_att.forward(r), attMask, posEmb)));
      r = r.add(this.dropout.forward(this.conv.forward(this.norm_conv.forward(r), padMask)));
      r = this.halfFeedForward(r, this.norm_feed_forward2, this.feed_forward2);
      return this.norm_out.forward(r);
    });
  }

  /**
   * Streaming step over a chunk: x [B, T, d]; attMask [B, T, C+T] over [cache, chunk]; pos = this layer's
   * self_attn.projectPositions(posEmb) with posEmb [1, 2(C+T)-1, d] (null for abs_pos); padMask [B, T] for the chunk.
   * Returns the chunk's output and the updated caches. One frame of one stream runs as the vector [d] through the
   * layer (every projection a matrix-vector product without reshapes: about 20 fewer ATen calls per layer).
   * `spares`: see MultiHeadAttention.step.
   */
  step(
    x: Tensor,
    attMask: Tensor | null,
    pos: Tensor | null,
    padMask: Tensor | null,
    cache: LayerCache,
    cacheDropSize: number,
    spares?: Tensor[],
  ): { y: Tensor; cache: LayerCache } {
    return t.tidy(() => {
      const [b, tt, d] = x.shape as [number, number, number];
      const vector = b === 1 && tt === 1;
      let r = this.halfFeedForward(vector ? x.view([d]) : x, this.norm_feed_forward1, this.feed_forward1); // [B, T, d] or [d]
      const a = this.self_attn.step(this.norm_self_att.forward(r), attMask, pos, cache.attention, cacheDropSize, spares);
      r = r.add(this.dropout.forward(a.y));
      const c = this.conv.step(this.norm_conv.forward(r), padMask, cache.conv, cacheDropSize);
      r = r.add(this.dropout.forward(c.y));
      r = this.halfFeedForward(r, this.norm_feed_forward2, this.feed_forward2);
      const y = this.norm_out.forward(r);
      return { y: vector ? y.view([1, 1, d]) : y, cache: { attention: a.cache, conv: c.cache } };
    });
  }
}
