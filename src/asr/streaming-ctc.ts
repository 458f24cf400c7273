// Cache-aware streaming CTC transcription from raw audio: FeatureStream (chunk-exact log-mel frames) -> encoder
// step (encoderStreamStep: NeMo's cache_aware_stream_step, with the plan's attention context handed in) ->
// ConvASRDecoder -> greedy CTC with carried state.
// Feature chunking follows NeMo's CacheAwareStreamingAudioBuffer (spec 05 §5): the first step takes chunk_size[0]
// frames, later steps chunk_size[1] frames plus the S + 1 frames before them (the pre-encode cache, zero-padded at
// the start), dropping drop_extra_pre_encoded outputs. Two deliberate differences: the final tail (< S frames) is
// still processed, so the streaming run emits every frame the offline run does; and for fully causal models
// (att_context_style regular, right context 0) the chunk is a whole number m >= 2 of encoder frames (first step
// 8m - 7 frames), which keeps the pre-encode cache made of real frames and the output identical to offline.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { FeatureStream, type FeatureStreamState } from '../audio/feature-stream.js';
import {
  disposeEncoderCache,
  keepEncoderCache,
  type AttContextSize,
  type EncoderCache,
  type RelativePositionProjections,
  type StreamingConfig,
} from '../model/index.js';
import { encoderStreamStep } from '../streaming/encoder-step.js';
import type { CtcModel, Transcript } from './ctc-model.js';
import { greedyStep, initGreedyState, tokensToText, wordTimings, type GreedyState } from './ctc-greedy.js';

export class NotStreamableError extends Error {}

export interface StreamingPlan {
  /** The [left, right] attention context every step runs with (the encoder's default pair when the plan was made). */
  attContextSize: AttContextSize;
  streaming: StreamingConfig;
  /** Encoder frames per step after the first. */
  framesPerStep: number;
  /** Algorithmic latency in seconds: audio that must arrive before a step's first output frame can be computed (chunk + look-ahead). */
  algorithmicLatency: number;
  /** True when streaming output equals offline output by construction (spec 05 §7). */
  exact: boolean;
  description: string;
}

/**
 * Attention-cache frames kept when the left context is unlimited: 1000 encoder frames = 80 s of history (NeMo's
 * max_context is 10000; the encoder builds [C + T, C + T] masks per step, so 10000 costs ~100 MB and ~1 s a step).
 * Streaming equals offline for utterances up to this length.
 */
export const DEFAULT_MAX_CONTEXT = 1000;

/** Why a CTC model's encoder cannot stream cache-aware (empty when it can). */
export function notStreamableReasons(model: CtcModel): string[] {
  const c = model.encoder.config;
  const [left, right] = model.encoder.context.default;
  const why: string[] = [];
  if (!c.causal_downsampling) why.push('encoder.causal_downsampling is false');
  if (c.conv_context_size !== 'causal' && !(Array.isArray(c.conv_context_size) && c.conv_context_size[1] === 0))
    why.push('encoder.conv_context_size is not causal');
  if (right < 0) why.push(`encoder.att_context_size [${left}, ${right}] has unlimited right context`);
  return why;
}

/** Throws NotStreamableError naming every reason the model cannot stream. */
export function assertStreamable(model: CtcModel): void {
  const why = notStreamableReasons(model);
  if (why.length) throw new NotStreamableError(`this model cannot stream (${why.join('; ')}); use offline mode`);
}

/**
 * How a model streams. chunkSeconds applies to fully causal models (rounded to whole encoder frames, at least 2);
 * chunked_limited models use their own chunk (right + 1 frames); regular models with look-ahead follow NeMo's
 * defaults (chunk = 1 + look-ahead of every layer, overlapping steps; not exact).
 */
export function planStreaming(model: CtcModel, chunkSeconds?: number, maxContext = DEFAULT_MAX_CONTEXT): StreamingPlan {
  const enc = model.encoder;
  const c = enc.config;
  const [left, right] = enc.context.default;
  const frame = model.frameSeconds;
  assertStreamable(model);
  if (c.att_context_style === 'regular' && right === 0) {
    const m = Math.max(2, Math.round((chunkSeconds ?? 2 * frame) / frame));
    const st = enc.streamingConfig({ attContextSize: [left, right], chunkSize: m, maxContext });
    return {
      attContextSize: [left, right],
      streaming: st,
      framesPerStep: m,
      algorithmicLatency: m * frame,
      exact: true,
      description: `fully causal, ${m} encoder frames (${(m * frame * 1000).toFixed(0)} ms) per step`,
    };
  }
  const st = enc.streamingConfig({ attContextSize: [left, right], maxContext });
  const framesPerStep = Math.round(st.shiftSize[1] / c.subsampling_factor);
  const chunkFrames = Math.round(st.chunkSize[1] / c.subsampling_factor);
  const exact = c.att_context_style === 'chunked_limited';
  return {
    attContextSize: [left, right],
    streaming: st,
    framesPerStep,
    algorithmicLatency: chunkFrames * frame,
    exact,
    description: exact
      ? `chunked_limited [${left}, ${right}]: ${chunkFrames} encoder frames (${(chunkFrames * frame * 1000).toFixed(0)} ms) per step`
      : `regular [${left}, ${right}]: ${chunkFrames}-frame chunks advancing ${framesPerStep} frames (look-ahead recomputed; not exact)`,
  };
}

export interface StreamUpdate {
  /** Text so far (all steps). */
  text: string;
  /** Encoder frames decoded so far. */
  frames: number;
  /** Milliseconds spent in this push (features + encoder steps + decoder). */
  ms: number;
  /** Encoder steps run during this push, with their own times in milliseconds. */
  stepMs: number[];
}

/** One utterance streamed through a CTC model. Owns kept tensors: call finish() (or dispose()) to release them. */
export class StreamingCtcSession {
  private readonly fs: FeatureStream;
  private fsState: FeatureStreamState;
  /** Feature frames [F, n] from global frame `bufStart` on. */
  private buf: Tensor;
  private bufStart = 0;
  private received = 0;
  private pos = 0;
  private step = 0;
  private cache: EncoderCache;
  /** linear_pos(posEmb) per key length, computed once for the session. */
  private readonly positions: RelativePositionProjections;
  private greedy: GreedyState = initGreedyState();
  private done = false;
  /** Milliseconds of every encoder step so far. */
  readonly stepTimes: number[] = [];

  constructor(
    readonly model: CtcModel,
    readonly plan: StreamingPlan,
  ) {
    if (model.training) throw new Error('StreamingCtcSession: put the model in eval mode first');
    this.fs = new FeatureStream(model.preprocessor);
    this.fsState = this.fs.initState();
    this.buf = t.keep(t.zeros([this.fs.numFeatures, 0]));
    this.cache = model.encoder.initCache(1, plan.streaming, 'float32', false);
    keepEncoderCache(this.cache);
    this.positions = model.encoder.positionProjections();
  }

  /** Appends audio (float32 at the model's sample rate) and runs every encoder step that is now possible. */
  push(samples: Float32Array): StreamUpdate {
    if (this.done) throw new Error('StreamingCtcSession: push() after finish()');
    const t0 = performance.now();
    const r = this.fs.push(samples, this.fsState);
    this.fsState = r.state;
    this.append(r.frames);
    const stepMs = this.run(false);
    return { text: this.text(), frames: this.greedy.frames, ms: performance.now() - t0, stepMs };
  }

  /** Flushes the feature stream, runs the remaining steps (the last one may be short) and releases the tensors. */
  finish(): Transcript & { update: StreamUpdate } {
    if (this.done) throw new Error('StreamingCtcSession: finish() called twice');
    const t0 = performance.now();
    const r = this.fs.flush(this.fsState);
    this.fsState = r.state;
    this.append(r.frames);
    const stepMs = this.run(true);
    const update = { text: this.text(), frames: this.greedy.frames, ms: performance.now() - t0, stepMs };
    this.dispose();
    const tokens = this.greedy.tokens;
    return { text: tokensToText(tokens, this.model.vocab), tokens, words: wordTimings(tokens, this.model.vocab, this.model.frameSeconds), update };
  }

  text(): string {
    return tokensToText(this.greedy.tokens, this.model.vocab);
  }

  dispose(): void {
    if (this.done) return;
    this.done = true;
    this.buf.dispose();
    disposeEncoderCache(this.cache);
    this.positions.dispose();
  }

  private append(frames: Tensor): void {
    const k = frames.size(1);
    if (k > 0) {
      const old = this.buf;
      this.buf = t.keep(t.tidy(() => t.cat([old, frames], 1)));
      old.dispose();
      this.received += k;
    }
    frames.dispose();
  }

  private run(final: boolean): number[] {
    const st = this.plan.streaming;
    const S = this.model.encoder.config.subsampling_factor;
    const times: number[] = [];
    for (;;) {
      const first = this.step === 0;
      const need = first ? st.chunkSize[0] : st.chunkSize[1];
      const shift = first ? st.shiftSize[0] : st.shiftSize[1];
      const avail = this.received - this.pos;
      if (avail <= 0 || (!final && avail < need)) break;
      const n = Math.min(need, avail);
      const last = final && this.pos + shift >= this.received;
      const t0 = performance.now();
      t.noGrad(() =>
        t.tidy(() => {
          const nCache = first ? 0 : S + 1;
          const realCache = Math.min(nCache, this.pos);
          const parts: Tensor[] = [];
          if (nCache > realCache) parts.push(t.zeros([this.fs.numFeatures, nCache - realCache]));
          parts.push(this.buf.narrow(1, this.pos - realCache - this.bufStart, realCache + n));
          const chunk = t.cat(parts, 1).unsqueeze(0); // [1, F, nCache + n]
          const len = t.tensor(BigInt64Array.of(BigInt(nCache + n)), [1]);
          const r = encoderStreamStep(this.model.encoder, chunk, len, this.cache, {
            attContextSize: this.plan.attContextSize,
            streaming: st,
            dropExtraPreEncoded: first ? 0 : st.dropExtraPreEncoded,
            keepAllOutputs: last,
            positions: this.positions,
          });
          const valid = r.lengths.toArray()[0]!;
          const ids =
            valid > 0
              ? this.model.decoder
                  .logits(r.encoded.narrow(2, 0, valid))
                  .argmax(-1)
                  .toArray()
              : [];
          this.greedy = greedyStep(ids, this.model.vocab.blank, this.greedy);
          const old = this.cache;
          this.cache = keepEncoderCache(r.cache);
          disposeEncoderCache(old);
        }),
      );
      times.push(performance.now() - t0);
      this.pos += shift;
      this.step++;
      // keep only the frames later steps can still read (S + 1 before pos)
      const keepFrom = Math.max(0, this.pos - (S + 1));
      if (keepFrom > this.bufStart && keepFrom - this.bufStart < this.buf.size(1)) {
        const old = this.buf;
        this.buf = t.keep(t.tidy(() => old.narrow(1, keepFrom - this.bufStart, old.size(1) - (keepFrom - this.bufStart)).contiguous()));
        old.dispose();
        this.bufStart = keepFrom;
      }
      if (last) break;
    }
    this.stepTimes.push(...times);
    return times;
  }
}

/** Streams one clip in pieces of `pushSeconds` through a fresh session; onUpdate sees each piece's result. */
export function transcribeStreaming(
  model: CtcModel,
  audio: Float32Array,
  o: { plan: StreamingPlan; pushSeconds?: number; onUpdate?: (u: StreamUpdate) => void },
): Transcript & { stepTimes: number[] } {
  const was = model.training;
  model.eval();
  const s = new StreamingCtcSession(model, o.plan);
  try {
    const sr = model.preprocessor.cfg.sample_rate;
    const piece = Math.max(1, Math.round((o.pushSeconds ?? 0.32) * sr));
    for (let i = 0; i < audio.length; i += piece) {
      const u = s.push(audio.subarray(i, Math.min(audio.length, i + piece)));
      o.onUpdate?.(u);
    }
    const r = s.finish();
    o.onUpdate?.(r.update);
    return { text: r.text, tokens: r.tokens, words: r.words, stepTimes: s.stepTimes };
  } finally {
    s.dispose();
    model.train(was);
  }
}
