// A streaming recognizer shaped like sherpa-onnx's OnlineRecognizer: streams take audio at any rate, ready streams
// decode together (one batched encoder step per chunk shape), results carry text, tokens, timestamps and word times,
// and endpointing splits a stream into segments. Cache-aware CTC: FeatureStream -> StreamingEncoder (exact mode) ->
// ConvASRDecoder -> greedy CTC with carried state; transducers: StreamingEncoder -> the model's transducer search
// (greedy, or modified beam search) with the prediction network's state carried next to the encoder cache.
// Provenance: the API follows sherpa-onnx's OnlineRecognizer / OnlineStream (createStream, acceptWaveform, isReady,
// decodeStreams, getResult, isEndpoint, reset, inputFinished); the encoder step is NeMo's cache_aware_stream_step.
//
// Ownership: the recognizer owns every stream's tensors (encoder caches, feature buffers) and frees them when a stream
// ends (its last result read after inputFinished), on stream.dispose(), and on recognizer.dispose().
import { Resampler, type ResamplerState } from '../audio/resample.js';
import { assertStreamable, DEFAULT_MAX_CONTEXT } from '../asr/streaming-ctc.js';
import { greedyStep, initGreedyState, roundSeconds, tokensToText, wordTimings, type CtcToken, type GreedyState, type WordTiming } from '../asr/ctc-greedy.js';
import type { CtcModel } from '../asr/ctc-model.js';
import { RnntModel } from '../asr/rnnt-model.js';
import type { RnntStreamDecoder, RnntStreamState } from '../asr/streaming-rnnt.js';
import { loadNemoAsrModel } from '../checkpoint/nemo-model.js';
import type { AttContextSize } from '../model/index.js';
import {
  calibrateLookahead,
  chooseLookahead,
  configureStreaming,
  expectedLatencyMs,
  initLookaheadState,
  lookaheadPolicy,
  observeStep,
  quietNoise,
  StreamingEncoder,
  switchableGeometries,
  type LookaheadChoice,
  type LookaheadState,
  type StreamingGeometry,
  type StreamSlot,
} from '../streaming/index.js';
import * as t from '../torch/index.js';
import { endpointRules, isEndpoint, type EndpointRule, type EndpointRules } from './endpoint.js';

export interface OnlineRecognizerOptions {
  /**
   * Audio per encoder step in seconds, for fully causal models (att_context_style regular, right context 0): a whole
   * number of encoder frames (default 0.32). chunked_limited and look-ahead models use their own chunk; ignored there.
   */
  chunkSeconds?: number;
  /** The [left, right] attention context to stream with (one of a multi-look-ahead model's pairs); default: the model's. */
  attContextSize?: AttContextSize;
  /** Attention cache frames when the left context is unlimited (default 1000 = 80 s at 80 ms frames). */
  maxContext?: number;
  /** Split streams into segments at endpoints (default true). */
  enableEndpoint?: boolean;
  /** Endpoint rules (default: sherpa-onnx's 2.4 s / 1.2 s / 20 s). */
  endpoint?: { [K in keyof EndpointRules]?: Partial<EndpointRule> };
  /**
   * Adaptive look-ahead: before each decode, every stream takes the largest trained look-ahead whose algorithmic
   * latency plus expected compute fits this many milliseconds (the trained pairs sharing attContextSize's left
   * context; see src/streaming/adaptive-lookahead.ts). warmUp() times each of them once; load is machine-wide, so
   * one choice holds for all streams of the recognizer.
   */
  latencyBudgetMs?: number;
}

/** A stream's recognition result for its current segment (sherpa-onnx's OnlineRecognizerResult). */
export interface OnlineResult {
  text: string;
  /** The emitted labels (characters or SentencePiece pieces). */
  tokens: string[];
  /** Seconds from the segment's start at which each token was emitted. */
  timestamps: number[];
  /** Words with start and end in seconds from the segment's start. */
  words: WordTiming[];
  /** Segment index (0, 1, ...: one per endpoint). */
  segment: number;
  /** Seconds from the stream's start at which this segment starts. */
  startTime: number;
  /** The segment has ended (an endpoint, or the end of the input). */
  isFinal: boolean;
  /** The stream has ended: no more results will come. */
  isEof: boolean;
  /** Seconds of the stream's audio decoded so far (encoder frames x frame length), from the stream's start. */
  decodedSeconds: number;
  /** Decode steps per attention context "L,R" so far (several with adaptive look-ahead). */
  contextsUsed: Record<string, number>;
}

/** The models a recognizer streams: CTC (a hybrid's CTC head included) or a transducer. */
export type StreamingAsrModel = CtcModel | RnntModel;

/** Audio handed to a stream: float32 samples in [-1, 1] at `sampleRate`. */
export interface Waveform {
  sampleRate: number;
  samples: Float32Array;
}

export class RecognizerInputError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'RecognizerInputError';
  }
}

/** One audio stream being recognized. Create it with recognizer.createStream(). */
export class OnlineStream {
  /** The encoder-side state; null once the stream has ended and been freed. */
  slot: StreamSlot | null;
  /** The sample rate of the first audio accepted (a stream keeps one rate). */
  inputRate: number | null = null;
  /** Converts the input rate to the model's (null when they are equal). */
  resampler: { r: Resampler; state: ResamplerState } | null = null;
  /** The current segment's labels and frames (CTC: also the greedy decoder's state). */
  greedy: GreedyState = initGreedyState();
  /** Transducers: the search state carried between chunks (owns tensors); null for CTC and once the stream is freed. */
  transducer: RnntStreamState | null = null;
  /** Consecutive blank frames at the end of the current segment (transducers: frames that emitted no label). */
  trailingBlanks = 0;
  segment = 0;
  /** Encoder frames before the current segment. */
  segmentStart = 0;
  /** inputFinished() has been called. */
  ended = false;
  /** Samples accepted so far, at their own rates, in seconds. */
  secondsIn = 0;
  /** Decode steps per attention context "L,R". */
  readonly contextsUsed: Record<string, number> = {};

  constructor(
    readonly recognizer: OnlineRecognizer,
    slot: StreamSlot,
  ) {
    this.slot = slot;
  }

  /** Encoder frames decoded so far: those before the current segment and the segment's own. */
  get frames(): number {
    return this.segmentStart + this.greedy.frames;
  }

  /** The current segment's labels, each with its frame from the segment's start. */
  get tokens(): readonly CtcToken[] {
    return this.greedy.tokens;
  }

  /** Appends audio (any sample rate; resampled to the model's). Throws RecognizerInputError for bad input. */
  acceptWaveform(w: Waveform): void {
    this.recognizer.accept(this, w);
  }

  /** No more audio: the rest is decoded by the next decode calls; the last result has isEof set. */
  inputFinished(): void {
    this.recognizer.finishInput(this);
  }

  /** Frees the stream's tensors (safe to call twice). */
  dispose(): void {
    this.recognizer.release(this);
  }
}

export class OnlineRecognizer {
  readonly model: StreamingAsrModel;
  readonly geometry: StreamingGeometry;
  readonly sampleRate: number;
  /** Seconds per encoder output frame. */
  readonly frameSeconds: number;
  readonly rules: EndpointRules;
  readonly enableEndpoint: boolean;
  private readonly streaming: StreamingEncoder;
  /** Adaptive look-ahead (latencyBudgetMs): the policy and its state; null for a fixed context. */
  private adaptive: { p: LookaheadChoice; s: LookaheadState; skipped: string[] } | null = null;
  private readonly live = new Set<OnlineStream>();
  private readonly ownsModel: boolean;
  /** Transducers: the model's search, run stream by stream (null for CTC). */
  private readonly rnnt: RnntStreamDecoder | null;

  /** A recognizer over a CTC or transducer model (put in eval mode; not freed by dispose() unless loaded by fromFile). */
  constructor(
    model: StreamingAsrModel,
    readonly options: OnlineRecognizerOptions = {},
    owns = false,
  ) {
    const o = options;
    assertStreamable(model);
    model.eval();
    this.model = model;
    this.ownsModel = owns;
    this.rnnt = model instanceof RnntModel ? model.streamDecoder() : null;
    const pre = model.preprocessor;
    this.sampleRate = pre.cfg.sample_rate;
    this.frameSeconds = model.frameSeconds;
    const enc = model.encoder;
    const ctx = o.attContextSize ?? enc.context.default;
    const fullyCausal = enc.config.att_context_style === 'regular' && ctx[1] === 0;
    this.geometry = configureStreaming(enc, {
      chunkSeconds: fullyCausal ? (o.chunkSeconds ?? 0.32) : undefined,
      attContextSize: ctx,
      maxContext: o.maxContext ?? DEFAULT_MAX_CONTEXT,
      hopSeconds: pre.geometry.hopLength / this.sampleRate,
    });
    this.streaming = new StreamingEncoder(enc, { geometry: this.geometry, preprocessor: pre, mode: 'exact' });
    if (o.latencyBudgetMs !== undefined) {
      if (!(o.latencyBudgetMs > 0)) throw new RecognizerInputError(`latencyBudgetMs must be a positive number, got ${o.latencyBudgetMs}`);
      const { geometries, skipped } = switchableGeometries(this.streaming, {
        maxContext: o.maxContext ?? DEFAULT_MAX_CONTEXT,
        hopSeconds: this.geometry.hopSeconds,
      });
      const p = lookaheadPolicy(geometries, o.latencyBudgetMs);
      this.adaptive = { p, s: initLookaheadState(p), skipped };
    }
    this.rules = endpointRules(o.endpoint);
    this.enableEndpoint = o.enableEndpoint ?? true;
  }

  /**
   * Loads a CTC, transducer (EncDecRNNTModel / EncDecRNNTBPEModel) or hybrid RNN-T/CTC .nemo (decoded with its CTC
   * head, as loadNemoAsrModel loads it) and makes a recognizer that owns it.
   */
  static async fromFile(path: string, o: OnlineRecognizerOptions = {}): Promise<OnlineRecognizer> {
    const loaded = await loadNemoAsrModel(path);
    try {
      return new OnlineRecognizer(loaded.model, o, true);
    } catch (e) {
      loaded.dispose();
      throw e;
    }
  }

  /**
   * Runs streams of quiet noise (`seconds` each) to their ends in batches of every size the encoder uses up to
   * `maxBatch` (powers of two: 1, 2, 4, ...), so that real streams do not pay for libtorch's first-time set-up of a
   * shape (kernel selection, oneDNN primitives, fresh memory, positional projections). Returns milliseconds.
   */
  warmUp(seconds = 1, maxBatch = 1): number {
    const t0 = performance.now();
    if (this.adaptive) {
      const a = this.adaptive;
      a.s = chooseLookahead(a.p, calibrateLookahead(this.streaming, a.p, a.s, Math.max(1, seconds)));
    }
    const noise = quietNoise(Math.round(seconds * this.sampleRate));
    for (let b = 1; b <= Math.max(1, maxBatch); b *= 2) {
      const streams = Array.from({ length: b }, () => this.createStream());
      try {
        for (const s of streams) {
          s.acceptWaveform({ sampleRate: this.sampleRate, samples: noise });
          s.inputFinished();
        }
        while (streams.some((s) => this.isReady(s))) this.decodeStreams(streams);
      } finally {
        for (const s of streams) s.dispose();
      }
    }
    // the first-time set-up of each batch shape above was slow on purpose: it says nothing about the load
    if (this.adaptive) this.adaptive.s = { ...this.adaptive.s, load: null };
    return performance.now() - t0;
  }

  /** The [left, right] attention contexts the model was trained with (several for a multi-look-ahead model). */
  get trainedContexts(): AttContextSize[] {
    return this.model.encoder.context.sizes.all.map((p) => [p[0], p[1]]);
  }

  /**
   * A recognizer over the same model (shared, not owned) streaming with another of its trained attention contexts,
   * e.g. a lower-latency look-ahead of a multi-look-ahead model; the other options are this one's (but the context is
   * fixed: no adaptive look-ahead).
   */
  withAttContext(pair: AttContextSize): OnlineRecognizer {
    if (!this.trainedContexts.some((p) => p[0] === pair[0] && p[1] === pair[1]))
      throw new RecognizerInputError(
        `att_context_size [${pair.join(', ')}] is not one the model was trained with (${this.trainedContexts.map((p) => `[${p.join(', ')}]`).join(', ')})`,
      );
    return new OnlineRecognizer(this.model, { ...this.options, attContextSize: pair, latencyBudgetMs: undefined });
  }

  /** Streams not yet freed. */
  get activeStreams(): number {
    return this.live.size;
  }

  /**
   * Adaptive look-ahead's view: the budget, the context the next decode takes, the expected latency of each candidate
   * (algorithmic + expected compute, ms) and those left out; null for a fixed context.
   */
  get lookahead(): {
    budgetMs: number;
    current: AttContextSize;
    candidates: { attContextSize: AttContextSize; expectedLatencyMs: number }[];
    skipped: string[];
  } | null {
    const a = this.adaptive;
    if (!a) return null;
    return {
      budgetMs: a.p.budgetMs,
      current: a.p.geometries[a.s.current]!.attContextSize,
      candidates: a.p.geometries.map((g, k) => ({ attContextSize: g.attContextSize, expectedLatencyMs: expectedLatencyMs(a.p, a.s, k) })),
      skipped: a.skipped,
    };
  }

  /** Chunk, look-ahead and latency in words. */
  describe(): string {
    const a = this.adaptive;
    if (a) {
      const pairs = a.p.geometries.map((g) => `[${g.attContextSize.join(', ')}] ${(g.algorithmicLatencySeconds * 1000).toFixed(0)} ms`);
      return `adaptive look-ahead within ${a.p.budgetMs} ms over ${pairs.join(', ')} (algorithmic latency)`;
    }
    const g = this.geometry;
    return `context [${g.attContextSize.join(', ')}] ${g.style}; chunk ${(g.chunkSeconds * 1000).toFixed(0)} ms, look-ahead ${(g.lookaheadSeconds * 1000).toFixed(0)} ms, algorithmic latency ${(g.algorithmicLatencySeconds * 1000).toFixed(0)} ms`;
  }

  createStream(): OnlineStream {
    const s = new OnlineStream(this, this.streaming.initStream());
    if (this.rnnt) s.transducer = this.rnnt.init();
    this.live.add(s);
    return s;
  }

  /** @internal (OnlineStream.acceptWaveform) */
  accept(s: OnlineStream, w: Waveform): void {
    if (s.ended) throw new RecognizerInputError('acceptWaveform after inputFinished');
    const slot = this.slotOf(s);
    const { sampleRate, samples } = w;
    if (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 384000)
      throw new RecognizerInputError(`sample rate must be a whole number of Hz in [1000, 384000], got ${sampleRate}`);
    if (!(samples instanceof Float32Array)) throw new RecognizerInputError('samples must be a Float32Array');
    for (let i = 0; i < samples.length; i++) {
      if (!Number.isFinite(samples[i]!)) throw new RecognizerInputError(`sample ${i} is ${samples[i]} (NaN and infinities are refused)`);
    }
    if (s.inputRate !== null && s.inputRate !== sampleRate)
      throw new RecognizerInputError(`the sample rate changed within a stream (${s.inputRate} Hz, now ${sampleRate} Hz)`);
    if (s.inputRate === null) {
      s.inputRate = sampleRate;
      if (sampleRate !== this.sampleRate) {
        const r = new Resampler(sampleRate, this.sampleRate);
        s.resampler = { r, state: r.initState() };
      }
    }
    let x = samples;
    if (s.resampler) {
      const r = s.resampler.r.push(samples, s.resampler.state);
      s.resampler.state = r.state;
      x = r.samples;
    }
    s.secondsIn += samples.length / sampleRate;
    s.slot = this.streaming.feedAudio([x], { streams: [slot] }).streams[0]!;
  }

  /** @internal (OnlineStream.inputFinished) */
  finishInput(s: OnlineStream): void {
    if (s.ended) return;
    let slot = this.slotOf(s);
    if (s.resampler) {
      const tail = s.resampler.r.flush(s.resampler.state).samples;
      if (tail.length) slot = this.streaming.feedAudio([tail], { streams: [slot] }).streams[0]!;
    }
    s.slot = this.streaming.endStreams({ streams: [slot] }, [0]).streams[0]!;
    s.ended = true;
  }

  /** True when decode would make progress (a chunk is complete, or the input ended with audio left). */
  isReady(s: OnlineStream): boolean {
    this.own(s);
    if (s.slot === null) return false;
    return this.streaming.isReady(this.withChosenContext(s.slot));
  }

  /** The slot with adaptive look-ahead's current context (the slot itself for a fixed context); no tensor is touched. */
  private withChosenContext(slot: StreamSlot): StreamSlot {
    return this.adaptive ? this.streaming.switchGeometry(slot, this.adaptive.p.geometries[this.adaptive.s.current]!) : slot;
  }

  /** Seconds of accepted audio not yet decoded into output frames (the chunk being filled, look-ahead, any backlog). */
  bufferedSeconds(s: OnlineStream): number {
    return Math.max(0, s.secondsIn - s.frames * this.frameSeconds);
  }

  decode(s: OnlineStream): void {
    this.decodeStreams([s]);
  }

  /**
   * Runs one step (one chunk) of every ready stream given, batching those whose chunks have the same shape into one
   * encoder call, then the CTC head on all their new frames at once (transducers: one batched search step). A stream whose input has ended and that has
   * decoded everything is freed (its result stays readable).
   */
  decodeStreams(streams: readonly OnlineStream[]): void {
    if (this.adaptive) this.adaptive.s = chooseLookahead(this.adaptive.p, this.adaptive.s);
    const ready = streams.filter((s) => this.isReady(s));
    if (ready.length === 0) return;
    const t0 = performance.now();
    for (const s of ready) s.slot = this.withChosenContext(s.slot!);
    const r = this.streaming.run({ streams: ready.map((s) => s.slot!) }, { maxSteps: 1 });
    if (this.adaptive) this.adaptive.s = observeStep(this.adaptive.p, this.adaptive.s, performance.now() - t0);
    for (const [i, s] of ready.entries()) {
      const key = s.slot!.geometry.attContextSize.join(',');
      s.contextsUsed[key] = (s.contextsUsed[key] ?? 0) + 1;
      s.slot = r.state.streams[i]!;
    }
    if (this.rnnt) this.decodeTransducer(this.rnnt, ready, r.encoded);
    else this.decodeCtc(this.model as CtcModel, ready, r.encoded);
    for (const s of ready) if (s.ended && this.streaming.isDone(s.slot!)) this.freeSlot(s);
  }

  /** The CTC head over every ready stream's new frames at once, then greedy CTC per stream. Frees `encoded`. */
  private decodeCtc(model: CtcModel, ready: readonly OnlineStream[], encoded: readonly t.Tensor[]): void {
    const counts = encoded.map((e) => e.size(1));
    const ids = t.noGrad(() =>
      t.tidy(() => {
        const nonEmpty = encoded.filter((e) => e.size(1) > 0);
        if (nonEmpty.length === 0) return [];
        const all = t.cat(nonEmpty, 1).unsqueeze(0); // [1, D, sum k]
        return model.decoder.logits(all).argmax(-1).toArray(); // [sum k]
      }),
    );
    for (const e of encoded) e.dispose();
    let at = 0;
    for (const [i, s] of ready.entries()) {
      const k = counts[i]!;
      this.consume(s, ids.slice(at, at + k));
      at += k;
    }
  }

  /**
   * One transducer search step over every ready stream's new frames together (their carried states stacked), then
   * each stream's labels and trailing frames without a label (endpointing's "blanks"). Frees `encoded`.
   */
  private decodeTransducer(rnnt: RnntStreamDecoder, ready: readonly OnlineStream[], encoded: readonly t.Tensor[]): void {
    let next: RnntStreamState[];
    try {
      next = rnnt.step(
        encoded,
        ready.map((s) => s.transducer!),
      );
    } finally {
      for (const e of encoded) e.dispose();
    }
    for (const [i, s] of ready.entries()) {
      rnnt.dispose(s.transducer!);
      const n = next[i]!;
      const last = n.tokens.at(-1);
      s.trailingBlanks = n.frames - (last ? last.frame + 1 : 0); // a beam's best labels can change, not only grow
      s.transducer = n;
      s.greedy = { prev: -1, frames: n.frames, tokens: [...n.tokens] };
    }
  }

  /** The current segment's result. isFinal is set when the stream has ended (isEndpoint decides it otherwise). */
  getResult(s: OnlineStream): OnlineResult {
    this.own(s);
    const vocab = this.model.vocab;
    const fs = this.frameSeconds;
    const eof = s.ended && s.slot === null;
    return {
      text: tokensToText(s.tokens, vocab),
      tokens: s.greedy.tokens.map((k) => vocab.labels[k.id] ?? ''),
      timestamps: s.greedy.tokens.map((k) => roundSeconds(k.frame * fs)),
      words: wordTimings(s.greedy.tokens, vocab, fs),
      segment: s.segment,
      startTime: roundSeconds(s.segmentStart * fs),
      isFinal: eof,
      isEof: eof,
      decodedSeconds: roundSeconds(s.frames * fs),
      contextsUsed: { ...s.contextsUsed },
    };
  }

  /** True when endpointing is on and a rule fires for the current segment. */
  isEndpoint(s: OnlineStream): boolean {
    this.own(s);
    if (!this.enableEndpoint) return false;
    return isEndpoint(this.rules, { frames: s.greedy.frames, trailingSilenceFrames: s.trailingBlanks }, this.frameSeconds);
  }

  /** Starts a new segment: the text so far is dropped (read it first); the encoder keeps its context. */
  reset(s: OnlineStream): void {
    this.own(s);
    s.segmentStart = s.frames;
    s.greedy = { prev: s.greedy.prev, frames: 0, tokens: [] };
    if (this.rnnt && s.transducer) s.transducer = this.rnnt.newSegment(s.transducer); // the prediction network keeps its context
    s.trailingBlanks = 0;
    s.segment++;
  }

  /**
   * Recognizes an audio source (float32 pieces at the model's rate, or waveforms at any rate): yields a result
   * whenever the text changes or a segment ends (isFinal), and a last one with isEof. The stream is freed at the end.
   */
  async *recognize(audio: AsyncIterable<Float32Array | Waveform> | Iterable<Float32Array | Waveform>): AsyncGenerator<OnlineResult> {
    const s = this.createStream();
    try {
      let shown = '';
      const drain = function* (this: OnlineRecognizer): Generator<OnlineResult> {
        while (this.isReady(s)) {
          this.decode(s);
          const r = this.getResult(s);
          if (r.isEof) return yield r;
          if (this.isEndpoint(s)) {
            yield { ...r, isFinal: true };
            this.reset(s);
            shown = '';
          } else if (r.text !== shown) {
            shown = r.text;
            yield r;
          }
        }
      }.bind(this);
      for await (const piece of audio) {
        s.acceptWaveform(piece instanceof Float32Array ? { sampleRate: this.sampleRate, samples: piece } : piece);
        yield* drain();
      }
      s.inputFinished();
      yield* drain();
      if (s.slot !== null || !s.ended) throw new Error('recognize: the stream did not reach its end (a bug)');
    } finally {
      s.dispose();
    }
  }

  /** Frees every stream (and the model when fromFile loaded it). */
  dispose(): void {
    for (const s of [...this.live]) this.release(s);
    this.streaming.dispose();
    if (this.ownsModel) this.model.dispose();
  }

  /** @internal (OnlineStream.dispose) */
  release(s: OnlineStream): void {
    this.freeSlot(s);
    this.live.delete(s);
  }

  private freeSlot(s: OnlineStream): void {
    if (s.slot) this.streaming.disposeStream(s.slot);
    s.slot = null;
    if (this.rnnt && s.transducer) this.rnnt.dispose(s.transducer);
    s.transducer = null;
  }

  private own(s: OnlineStream): void {
    if (s.recognizer !== this) throw new RecognizerInputError('the stream belongs to another recognizer');
  }

  private slotOf(s: OnlineStream): StreamSlot {
    this.own(s);
    if (!s.slot) throw new RecognizerInputError('the stream has ended or been disposed');
    return s.slot;
  }

  /** Greedy CTC over one stream's new frames (argmax ids). */
  private consume(s: OnlineStream, ids: number[]): void {
    const blank = this.model.vocab.blank;
    s.greedy = greedyStep(ids, blank, s.greedy);
    for (const id of ids) s.trailingBlanks = id === blank ? s.trailingBlanks + 1 : 0;
  }
}
