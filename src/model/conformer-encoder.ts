// The (Fast)Conformer encoder: conv subsampling, x-scaling + positional encoding, masks, a stack of Conformer layers.
// Provenance: nemo.collections.asr.modules.ConformerEncoder
import * as t from '../torch/index.js';
import type { Generator, LayerInit, Tensor } from '../torch/index.js';
import { scheduleAllowed, type ChunkSchedule } from './chunk-schedule.js';
import {
  AttentionContextPolicy,
  calcContextSizes,
  createMasks,
  masksFromAllowed,
  noFramePadded,
  type AttContextSize,
  type AttContextStyle,
  type ContextSizes,
} from './attention-context.js';
import type { ConvNormType } from './conformer-convolution.js';
import { ConformerLayer, type LayerCache, type SelfAttentionModel } from './conformer-layer.js';
import type { EncoderCache } from './encoder-cache.js';
import { resolveEncoderConfig } from './encoder-config.js';
import { RelativePositionProjections } from './position-projections.js';
import { AbsPositionalEncoding, RelPositionalEncoding } from './positional-encoding.js';
import { ConvSubsampling, type SubsamplingKind } from './subsampling.js';

/**
 * The encoder's section with NeMo's key names (model_config.yaml `encoder:`), possibly partial: omitted keys take
 * NeMo's defaults, which live in one place, the schema's readEncoderConfig (src/config/schema/encoder.ts);
 * `resolveEncoderConfig` (encoder-config.ts) fills them in and checks the section.
 */
export interface ConformerEncoderConfig {
  _target_?: string;
  feat_in: number;
  n_layers: number;
  d_model: number;
  feat_out?: number;
  causal_downsampling?: boolean;
  subsampling?: SubsamplingKind;
  subsampling_factor?: number;
  /** Accepted and ignored: NeMo's large-input chunking is numerically identical (spec 04 §2.5). */
  subsampling_conv_chunking_factor?: number;
  subsampling_conv_channels?: number;
  ff_expansion_factor?: number;
  self_attention_model?: SelfAttentionModel;
  n_heads?: number;
  att_context_size?: AttContextSize | AttContextSize[] | null;
  att_context_probs?: number[] | null;
  att_context_style?: AttContextStyle;
  xscaling?: boolean;
  untie_biases?: boolean;
  pos_emb_max_len?: number;
  conv_kernel_size?: number;
  conv_norm_type?: ConvNormType;
  conv_context_size?: [number, number] | 'causal' | null;
  use_bias?: boolean;
  dropout?: number;
  dropout_pre_encoder?: number;
  dropout_emb?: number;
  dropout_att?: number;
  stochastic_depth_drop_prob?: number;
  stochastic_depth_mode?: 'linear' | 'uniform';
  stochastic_depth_start_layer?: number;
  // Features of NeMo's encoder that are not implemented; only their neutral values are accepted.
  reduction?: null;
  global_tokens?: 0;
  use_pytorch_sdpa?: false;
}

/**
 * The ConformerEncoder constructor's arguments: every key given (no defaults here). Made from a validated section by
 * conformerEncoderArgs, or from a partial one by resolveEncoderConfig (both in encoder-config.ts).
 * att_context_size: one pair, or a list of pairs (multi-lookahead); att_context_probs: null = uniform.
 */
export type ConformerEncoderArgs = Required<
  Omit<ConformerEncoderConfig, '_target_' | 'reduction' | 'global_tokens' | 'use_pytorch_sdpa' | 'subsampling_conv_chunking_factor'>
>;

/** The attention / conv context sizes of the encoder's arguments (NeMo's _calc_context_sizes arguments). */
export function encoderContextSizes(c: ConformerEncoderArgs): ContextSizes {
  return calcContextSizes({
    attContextSize: c.att_context_size,
    attContextProbs: c.att_context_probs,
    attContextStyle: c.att_context_style,
    convContextSize: c.conv_context_size,
    convKernelSize: c.conv_kernel_size,
  });
}

/** Per-layer drop probabilities (regularization_utils.compute_stochastic_depth_drop_probs). */
export function stochasticDepthDropProbs(numLayers: number, p = 0, mode: 'linear' | 'uniform' = 'linear', startLayer = 1): number[] {
  if (!(p >= 0 && p < 1)) throw new RangeError('stochastic_depth_drop_prob has to be in [0, 1).');
  if (!(startLayer >= 1 && startLayer <= numLayers)) throw new RangeError('stochastic_depth_start_layer has to be in [1, num layers].');
  const probs = new Array<number>(startLayer).fill(0);
  const m = numLayers - startLayer;
  for (let l = 1; l <= m; l++) {
    if (mode === 'linear') probs.push((l / m) * p);
    else if (mode === 'uniform') probs.push(p);
    else throw new RangeError(`stochastic_depth_mode has to be one of ["linear", "uniform"]. Current value: ${String(mode)}`);
  }
  return probs;
}

/** Construction options that are not part of NeMo's config. */
export interface EncoderBuildOptions {
  /** NeMo <= 2.4 subsampling without per-layer time masking (spec 04 §2.4). */
  legacyFrontEnd?: boolean;
  /** dtype and generator for the PyTorch-default initialisation of the parameters. */
  init?: LayerInit;
  /** Generator of every dropout mask (libtorch's default generator when omitted). */
  dropoutGenerator?: Generator;
  /** Synchronise the conv modules' batch_norm statistics across this data-parallel group (trainer.sync_batchnorm). */
  syncBatchNorm?: t.ProcessGroup | null;
}

export interface EncoderForwardOptions {
  /** Draws the multi-lookahead context and the stochastic-depth decisions in training. */
  rng?: Generator;
  /** Overrides the context pair for this call (e.g. to evaluate one lookahead of a multi-lookahead model). */
  attContextSize?: AttContextSize;
  /**
   * Attention under a chunk schedule instead of a context pair: the offline reference of a stream that changes its
   * chunk (look-ahead) between steps. Takes precedence over attContextSize.
   */
  chunkSchedule?: ChunkSchedule;
}

/**
 * Cache-aware streaming parameters (NeMo's CacheAwareStreamingConfig). chunkSize / shiftSize / preEncodeCacheSize are
 * in feature frames ([first step, later steps]); the rest in encoder frames.
 */
export interface StreamingConfig {
  chunkSize: [number, number];
  shiftSize: [number, number];
  cacheDropSize: number;
  lastChannelCacheSize: number;
  validOutLen: number;
  preEncodeCacheSize: [number, number];
  dropExtraPreEncoded: number;
}

export interface StreamingOverrides {
  /** Encoder frames per chunk (overrides the value derived from the context). */
  chunkSize?: number;
  shiftSize?: number;
  leftChunks?: number;
  /** Attention cache size used when the left context is unlimited (NeMo's max_context, default 10000). */
  maxContext?: number;
  attContextSize?: AttContextSize;
}

export interface StreamStepOptions {
  streaming: StreamingConfig;
  /** Encoder frames dropped from the front of the pre-encoded chunk (0 at the first step, else streaming.dropExtraPreEncoded). */
  dropExtraPreEncoded: number;
  /** Keep every output frame of this (last) chunk instead of the first validOutLen (chunked_limited only). */
  keepAllOutputs: boolean;
  /** linear_pos(posEmb) per key length, reused across the steps of a stream (computed per step when absent). */
  positions?: RelativePositionProjections;
  /** The [left, right] context the stream runs with (handed in by its geometry); absent: the encoder's default pair. */
  attContextSize?: AttContextSize;
}

export class ConformerEncoder extends t.Module {
  readonly config: ConformerEncoderArgs;
  readonly pre_encode: ConvSubsampling | t.Linear;
  readonly pos_enc: RelPositionalEncoding | AbsPositionalEncoding;
  readonly layers: t.ModuleList<ConformerLayer>;
  readonly out_proj: t.Linear | null;
  readonly context: AttentionContextPolicy;
  readonly layerDropProbs: number[];
  readonly xscale: number | null;
  /** The resolved [left, right] of the depthwise convolutions. */
  readonly convContextSize: [number, number];

  /** `args`: every key given (conformerEncoderArgs of a validated section, or resolveEncoderConfig of a partial one). */
  constructor(args: ConformerEncoderArgs, build?: EncoderBuildOptions);
  /**
   * @deprecated A partial section: pass `resolveEncoderConfig(section)` instead. Still accepted (its defaults filled and
   * checked by that same function) for the callers that pass NeMo sections directly.
   */
  constructor(config: ConformerEncoderConfig, build?: EncoderBuildOptions);
  constructor(config: ConformerEncoderConfig, build: EncoderBuildOptions = {}) {
    super();
    const c = resolveEncoderConfig(config);
    this.config = c;
    const init = build.init;
    const generator = build.dropoutGenerator;
    const sizes = encoderContextSizes(c);
    this.context = new AttentionContextPolicy(sizes);
    this.convContextSize = sizes.convContextSize;
    this.xscale = c.xscaling ? Math.sqrt(c.d_model) : null;

    if (c.subsampling && c.subsampling_factor > 1) {
      this.pre_encode = this.registerModule(
        'pre_encode',
        new ConvSubsampling({
          subsampling: c.subsampling,
          subsamplingFactor: c.subsampling_factor,
          featIn: c.feat_in,
          featOut: c.d_model,
          convChannels: c.subsampling_conv_channels === -1 ? c.d_model : c.subsampling_conv_channels,
          isCausal: c.causal_downsampling,
          legacyFrontEnd: build.legacyFrontEnd,
          init,
        }),
      );
    } else {
      this.pre_encode = this.registerModule('pre_encode', new t.Linear(c.feat_in, c.d_model, true, init));
    }

    let shared: { u: Tensor; v: Tensor } | undefined;
    if (!c.untie_biases && c.self_attention_model === 'rel_pos') {
      const dK = c.d_model / c.n_heads;
      shared = { u: t.keep(t.zeros([c.n_heads, dK], { dtype: init?.dtype })), v: t.keep(t.zeros([c.n_heads, dK], { dtype: init?.dtype })) };
    }
    const PosEnc = c.self_attention_model === 'rel_pos' ? RelPositionalEncoding : AbsPositionalEncoding;
    this.pos_enc = this.registerModule('pos_enc', new PosEnc(c.d_model, this.xscale, c.dropout_pre_encoder, c.dropout_emb, generator));

    const layers: ConformerLayer[] = [];
    for (let i = 0; i < c.n_layers; i++) {
      layers.push(
        new ConformerLayer({
          dModel: c.d_model,
          dFf: c.d_model * c.ff_expansion_factor,
          selfAttentionModel: c.self_attention_model,
          nHeads: c.n_heads,
          convKernelSize: c.conv_kernel_size,
          convNormType: c.conv_norm_type,
          convContextSize: sizes.convContextSize,
          dropout: c.dropout,
          dropoutAtt: c.dropout_att,
          useBias: c.use_bias,
          sharedPosBias: shared,
          init,
          generator,
          syncBatchNorm: build.syncBatchNorm ?? null,
        }),
      );
    }
    this.layers = this.registerModule('layers', new t.ModuleList(layers));
    this.out_proj = c.feat_out > 0 && c.feat_out !== c.d_model ? this.registerModule('out_proj', new t.Linear(c.d_model, c.feat_out, true, init)) : null;
    this.layerDropProbs = stochasticDepthDropProbs(c.n_layers, c.stochastic_depth_drop_prob, c.stochastic_depth_mode, c.stochastic_depth_start_layer);
  }

  /**
   * Trainable tensors, each once: with untie_biases false the shared pos_bias_u/v appear under every layer's
   * state-dict key (as in NeMo) but must be handed to an optimiser only once.
   */
  override parameters(): Tensor[] {
    return [...new Set(super.parameters())];
  }

  /** Output channels (feat_out when projected, else d_model). */
  get featOut(): number {
    return this.out_proj ? this.out_proj.outFeatures : this.config.d_model;
  }

  /** Chooses the context pair used at inference (and for streaming); NeMo's set_default_att_context_size. */
  setDefaultAttContextSize(pair: AttContextSize): { known: boolean } {
    return this.context.setDefault(pair);
  }

  /**
   * Subsampling (or the plain Linear pre-encoder): x [B, T, F], lengths int64 [B] -> {x [B, T' - dropFront, d], lengths of
   * all T' frames}. dropFront: leading output frames left out (a streaming step's pre-encode cache frames).
   */
  preEncode(x: Tensor, lengths: Tensor, dropFront = 0): { x: Tensor; lengths: Tensor } {
    if (this.pre_encode instanceof ConvSubsampling) return this.pre_encode.forward(x, lengths, dropFront);
    const drop = Math.min(dropFront, x.size(1));
    const kept = drop > 0 ? x.narrow(1, drop, x.size(1) - drop) : x; // per frame: drop before projecting
    return { x: this.pre_encode.forward(kept), lengths: lengths.alias() };
  }

  /** Stochastic depth around one layer (training only): drop -> identity, keep -> rescaled residual. */
  private applyStochasticDepth(out: Tensor, input: Tensor, p: number, rng: Generator | undefined): Tensor {
    if (!this.training || p <= 0) return out;
    if (!rng) throw new Error('stochastic depth draws from an RNG: pass one to forward()');
    const u = t.rand([1], { generator: rng }).item();
    if (u < p) return out.mul(0.0).add(input); // zero times the output keeps every parameter in the graph
    return out
      .sub(input)
      .div(1.0 - p)
      .add(input);
  }

  /**
   * features [B, feat_in, T], lengths int64 [B] -> {encoded [B, featOut, T'], lengths int64 [B]}.
   * Frames t >= lengths[b] of `encoded` hold meaningless values (as in NeMo).
   */
  forward(features: Tensor, lengths: Tensor, opts: EncoderForwardOptions = {}): { encoded: Tensor; lengths: Tensor } {
    if (features.size(1) !== this.config.feat_in) {
      throw new RangeError(`ConformerEncoder: features must be [B, ${this.config.feat_in}, T], got [${features.shape.join(', ')}]`);
    }
    const ctx = opts.attContextSize ?? this.context.choose(this.training, opts.rng);
    return t.tidy(() => {
      const pre = this.preEncode(features.transpose(1, 2), lengths); // [B, F, T] -> [B, T, F] -> [B, T', d]
      const len = pre.lengths.to({ dtype: 'int64' });
      const { x: scaled, posEmb } = this.pos_enc.forward(pre.x); // x * xscale, dropout; posEmb [1, 2T'-1, d]
      const maxLen = scaled.size(1);
      const { padMask, attMask } = opts.chunkSchedule
        ? masksFromAllowed(scheduleAllowed(opts.chunkSchedule, maxLen), len, maxLen)
        : createMasks(ctx, this.config.att_context_style, len, maxLen);
      let x = scaled;
      for (const [l, layer] of this.layers.items.entries()) {
        const y = layer.forward(x, attMask, this.config.self_attention_model === 'rel_pos' ? posEmb : null, padMask); // [B, T', d]
        x = this.applyStochasticDepth(y, x, this.layerDropProbs[l]!, opts.rng);
      }
      if (this.out_proj) x = this.out_proj.forward(x); // [B, T', d] -> [B, T', feat_out]
      return { encoded: x.transpose(1, 2), lengths: len }; // [B, T', D] -> [B, D, T']
    });
  }

  /** NeMo's setup_streaming_params for the default (or given) context pair: a pure function of the configuration. */
  streamingConfig(o: StreamingOverrides = {}): StreamingConfig {
    const [left, right] = o.attContextSize ?? this.context.default;
    const n = this.config.n_layers;
    const s = this.config.subsampling_factor;
    const maxContext = o.maxContext ?? 10000;
    let lookahead: number;
    let cacheDropSize: number;
    if (o.chunkSize !== undefined) {
      if (o.chunkSize < 1) throw new RangeError('chunk_size needs to be a number larger or equal to one.');
      lookahead = o.chunkSize - 1;
      cacheDropSize = o.chunkSize - (o.shiftSize ?? o.chunkSize);
    } else if (this.config.att_context_style === 'chunked_limited') {
      lookahead = right;
      cacheDropSize = 0;
    } else {
      lookahead = right * n + this.convContextSize[1] * n;
      cacheDropSize = lookahead;
    }
    const lastChannelCacheSize = o.chunkSize !== undefined && o.leftChunks !== undefined ? o.leftChunks * o.chunkSize : left >= 0 ? left : maxContext;
    const frames: [number, number] = [1, s]; // ConvSubsampling.get_sampling_frames
    const chunkSize: [number, number] = [frames[0] + s * lookahead, frames[1] + s * lookahead];
    const shiftSize: [number, number] = [frames[0] + frames[1] * (lookahead - cacheDropSize), frames[1] + frames[1] * (lookahead - cacheDropSize)];
    const preEncodeCacheSize: [number, number] = [0, s + 1]; // ConvSubsampling.get_streaming_cache_size
    return {
      chunkSize,
      shiftSize,
      cacheDropSize,
      lastChannelCacheSize,
      validOutLen: Math.floor((shiftSize[1] - frames[1]) / s) + 1,
      preEncodeCacheSize,
      dropExtraPreEncoded: preEncodeCacheSize[1] >= 1 ? 1 + Math.floor((preEncodeCacheSize[1] - 1) / s) : 0,
    };
  }

  /**
   * A store of the projected relative positions for streamStep's `positions` option (rel_pos only): computed once per
   * key length instead of at every step. Valid while the weights do not change; the caller disposes it.
   */
  positionProjections(): RelativePositionProjections {
    return new RelativePositionProjections(this.layers.items);
  }

  /**
   * Zero caches for `batch` streams (NeMo's get_initial_cache_state). keepInputs false leaves out the attention inputs
   * (NeMo's cache_last_channel), which only cacheLastChannel reads: a step needs the carried projections alone.
   */
  initCache(batch: number, streaming: StreamingConfig, dtype: 'float32' | 'float64' = 'float32', keepInputs = true): EncoderCache {
    return {
      layers: this.layers.items.map((layer) => ({
        attention: layer.self_attn.initCache(batch, streaming.lastChannelCacheSize, dtype, keepInputs),
        conv: layer.conv.initCache(batch, dtype),
      })),
      channelLen: t.zeros([batch], { dtype: 'int64' }),
    };
  }

  /**
   * One cache-aware streaming step (NeMo's cache_aware_stream_step = forward with caches + streaming_post_process).
   * features [B, feat_in, Tc] (pre-encode cache frames already prepended), lengths int64 [B].
   * Returns the chunk's output [B, featOut, T_out], its lengths, and the next caches (the old ones are not disposed).
   */
  streamStep(features: Tensor, lengths: Tensor, cache: EncoderCache, o: StreamStepOptions): { encoded: Tensor; lengths: Tensor; cache: EncoderCache } {
    if (this.training) throw new Error('streamStep runs in eval mode');
    const ctx = o.attContextSize ?? this.context.default;
    const st = o.streaming;
    return t.tidy(() => {
      // The first dropExtraPreEncoded frames (whose receptive field lacks history) are dropped before the projection.
      const pre = this.preEncode(features.transpose(1, 2), lengths, o.dropExtraPreEncoded); // [B, Tc, F] -> [B, T, d]
      const x = pre.x;
      let len = pre.lengths.to({ dtype: 'int64' });
      if (o.dropExtraPreEncoded > 0) len = t.clamp(len.sub(o.dropExtraPreEncoded), 0);
      const tt = x.size(1);
      const c = st.lastChannelCacheSize;
      const keep = tt - st.cacheDropSize;
      const offset = cache.channelLen.neg().add(c); // first valid cache slot per stream
      const { x: scaled, posEmb } = this.pos_enc.forward(x, c); // posEmb [1, 2(C+T)-1, d]
      const masks = createMasks(ctx, this.config.att_context_style, len.add(c), c + tt, offset, c); // chunk rows over [cache slots, chunk]
      // The conv modules zero padded frames; with none in the chunk the mask is left out.
      const padMask = noFramePadded(len, tt) ? null : masks.padMask.narrow(1, c, tt); // [B, C+T] -> [B, T]
      const attMask = masks.attMask; // [B, T, C+T]
      const relPos = this.config.self_attention_model === 'rel_pos';
      const pos = !relPos
        ? null
        : o.positions
          ? o.positions.forKeyLength(c + tt, posEmb)
          : this.layers.items.map((layer) => layer.self_attn.projectPositions(posEmb));
      let h = scaled;
      const next: LayerCache[] = [];
      const spares: Tensor[] = []; // freed after every layer has stepped (MultiHeadAttention.step)
      try {
        for (const [l, layer] of this.layers.items.entries()) {
          const r = layer.step(h, attMask, pos ? pos[l]! : null, padMask, cache.layers[l]!, st.cacheDropSize, spares);
          h = r.y;
          next.push(r.cache);
        }
      } finally {
        for (const s of spares) s.dispose();
      }
      if (this.out_proj) h = this.out_proj.forward(h);
      let encoded = h.transpose(1, 2); // [B, T, D] -> [B, D, T]
      const channelLen = t.clamp(cache.channelLen.add(keep), null, c);
      // streaming_post_process
      if (st.validOutLen > 0 && (!o.keepAllOutputs || this.config.att_context_style === 'regular')) {
        encoded = encoded.narrow(2, 0, Math.min(st.validOutLen, encoded.size(2)));
        len = t.clamp(len, null, st.validOutLen);
      }
      return { encoded, lengths: len, cache: { layers: next, channelLen } };
    });
  }
}
