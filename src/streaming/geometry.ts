// Streaming geometry: everything a cache-aware streaming run needs to know about chunking, derived once from the
// encoder's configuration (NeMo's setup_streaming_params via ConformerEncoder.streamingConfig) plus the front end's hop.
// Provenance: nemo.collections.asr.models.configs.asr_models_config.CacheAwareStreamingConfig (values),
// nemo.collections.asr.modules.ConformerEncoder.setup_streaming_params (derivation), spec 05 §2 and §7.
import type { AttContextSize, AttContextStyle, ConformerEncoder, StreamingConfig } from '../model/index.js';
import { chunkedLimitedViolations } from '../config/schema/encoder.js';

export class StreamingConfigError extends Error {
  constructor(msg: string) {
    super(`streaming: ${msg}`);
    this.name = 'StreamingConfigError';
  }
}

/**
 * How chunks are cut and fed to the encoder.
 *  - 'exact' (default): streamnest's corrected driver; the concatenated output equals the offline encoder's output
 *    whenever the configuration allows it (see `exactnessIssues`).
 *  - 'nemo': NeMo's CacheAwareStreamingAudioBuffer + speech_to_text_cache_aware_streaming_infer.py behaviour,
 *    including its approximations (zero-padded early pre-encode cache, a dropped < S-frame tail, regular-style tail).
 */
export type StreamingMode = 'exact' | 'nemo';

export interface StreamingGeometry {
  style: AttContextStyle;
  /**
   * The [left, right] attention context to stream with: the requested pair (or the encoder's default pair), with the
   * right context set by a chunked_limited chunk size. Handed to every step; the encoder's default is never changed.
   */
  attContextSize: AttContextSize;
  /** NeMo's streaming_cfg: chunk_size, shift_size, pre_encode_cache_size in feature frames; the rest in encoder frames. */
  cfg: StreamingConfig;
  /** Feature frames per encoder frame (S). */
  subsamplingFactor: number;
  /** Seconds per feature frame (window_stride). */
  hopSeconds: number;
  /** Encoder frames emitted per steady-state step. */
  chunkFrames: number;
  /** New audio per steady-state step: shift_size[1] feature frames, in seconds. */
  chunkSeconds: number;
  /** Audio a step needs beyond the frames it emits: (chunk_size[1] - shift_size[1]) feature frames, in seconds. */
  lookaheadSeconds: number;
  /** Audio from the start of a step's first emitted frame until it can be computed: chunk + lookahead. */
  algorithmicLatencySeconds: number;
  /** Why exact streaming (output == offline output) cannot be promised; empty when it can. */
  exactnessIssues: string[];
}

export interface StreamingSetup {
  /** Chunk length in seconds (rounded to whole encoder frames); chunked_limited: sets the right context to frames - 1. */
  chunkSeconds?: number;
  /** Chunk length in encoder frames (alternative to chunkSeconds). */
  chunkFrames?: number;
  /** The [left, right] attention context to stream with (one of a multi-lookahead model's pairs, or any pair). */
  attContextSize?: AttContextSize;
  /** Attention cache size when the left context is unlimited (NeMo's max_context). */
  maxContext?: number;
  /** Feature hop in seconds (the preprocessor's window_stride). */
  hopSeconds: number;
}

/** Configuration properties that make streaming differ from the offline pass (spec 05 §7). */
export function exactnessIssues(encoder: ConformerEncoder, cfg: StreamingConfig, ctx: AttContextSize): string[] {
  const c = encoder.config;
  const issues: string[] = [];
  if (!c.subsampling || c.subsampling_factor <= 1) issues.push('no convolutional subsampling (pre-encode cache geometry assumes one)');
  else if (!c.causal_downsampling) issues.push('causal_downsampling is false: the subsampling reads future frames');
  if (encoder.convContextSize[1] > 0 && c.att_context_style === 'chunked_limited')
    issues.push(`conv_context_size right = ${encoder.convContextSize[1]} > 0: the conv sees zeros instead of the next chunk`);
  if (c.conv_norm_type.startsWith('group_norm')) issues.push('group_norm conv normalisation mixes frames across chunks');
  if (c.att_context_style === 'chunked_limited' && chunkedLimitedViolations(ctx).includes('left_not_whole_chunks')) {
    issues.push(`att_context_size [${ctx[0]}, ${ctx[1]}]: left must be a multiple of right + 1 for chunk boundaries to align`);
  }
  if (cfg.chunkSize[0] % c.subsampling_factor !== 1 % c.subsampling_factor) issues.push('first chunk is not 1 + S*k feature frames');
  return issues;
}

/**
 * Chooses the attention context and chunk size to stream with and derives the geometry. Pure: the encoder is only
 * read (its configuration and default pair); the chosen pair lives in the returned geometry (`attContextSize`), which
 * the streaming drivers hand to every step. Throws StreamingConfigError for chunk sizes the style cannot stream.
 */
export function configureStreaming(encoder: ConformerEncoder, setup: StreamingSetup): StreamingGeometry {
  let o = setup;
  const c = encoder.config;
  const S = c.subsampling_factor > 1 && c.subsampling ? c.subsampling_factor : 1;
  const chosen = o.attContextSize ?? encoder.context.default;
  let ctx: AttContextSize = [chosen[0], chosen[1]];
  let chunkFrames = o.chunkFrames;
  if (o.chunkSeconds !== undefined) {
    const exact = o.chunkSeconds / (o.hopSeconds * S);
    chunkFrames = Math.round(exact);
    if (chunkFrames < 1 || Math.abs(exact - chunkFrames) > 1e-6 * Math.max(1, exact)) {
      throw new StreamingConfigError(
        `chunk size ${o.chunkSeconds} s is not a whole number of encoder frames (${(o.hopSeconds * S * 1000).toFixed(0)} ms each); try ${Math.max(1, chunkFrames) * o.hopSeconds * S} s`,
      );
    }
  }
  let cfg: StreamingConfig;
  if (c.att_context_style === 'chunked_limited' && ctx[0] < 0) {
    // Unlimited left context: the cache of maxContext slots (NeMo's default 10000) precedes the chunk, and
    // chunked_limited numbers chunks from slot 0; unless the cache is whole chunks, a chunk's frames fall into two
    // chunks and stop seeing each other (NeMo has this flaw: 10000 slots and 3-frame chunks). Rounded up to whole chunks.
    const chunk = chunkFrames ?? ctx[1] + 1;
    if (chunk > 0) o = { ...o, maxContext: Math.ceil((o.maxContext ?? 10000) / chunk) * chunk };
  }
  if (chunkFrames !== undefined) {
    if (!Number.isInteger(chunkFrames) || chunkFrames < 1) throw new StreamingConfigError(`chunk size must be >= 1 encoder frame, got ${chunkFrames}`);
    const [left, right] = ctx;
    if (c.att_context_style === 'chunked_limited') {
      // The chunk of chunked_limited attention IS right + 1 frames: stream with the pair that has that right context.
      ctx = [left, chunkFrames - 1];
      cfg = encoder.streamingConfig({ attContextSize: ctx, maxContext: o.maxContext });
    } else if (right === 0) {
      // Regular style without look-ahead: every frame sees only the past, so any chunk of k frames is exact.
      cfg = encoder.streamingConfig({ attContextSize: ctx, chunkSize: chunkFrames, shiftSize: chunkFrames, maxContext: o.maxContext });
    } else {
      throw new StreamingConfigError(
        `att_context_style regular with right context ${right} streams one encoder frame per step with ${right * c.n_layers} frames of look-ahead; a chunk size cannot be chosen (omit --chunk-size)`,
      );
    }
  } else {
    cfg = encoder.streamingConfig({ attContextSize: ctx, maxContext: o.maxContext });
  }
  const hop = o.hopSeconds;
  return {
    style: c.att_context_style,
    attContextSize: ctx,
    cfg,
    subsamplingFactor: S,
    hopSeconds: hop,
    chunkFrames: cfg.validOutLen,
    chunkSeconds: cfg.shiftSize[1] * hop,
    lookaheadSeconds: (cfg.chunkSize[1] - cfg.shiftSize[1]) * hop,
    algorithmicLatencySeconds: cfg.chunkSize[1] * hop,
    exactnessIssues: exactnessIssues(encoder, cfg, ctx),
  };
}
