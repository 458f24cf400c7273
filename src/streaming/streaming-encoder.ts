// Cache-aware streaming from raw audio: FeatureStream (chunk-exact log-mel) -> pre-encode cache -> encoderStreamStep,
// for many independent streams at once. State is plain typed data plus tensors, passed in and returned, never hidden.
// Provenance: nemo.collections.asr.parts.utils.streaming_utils.CacheAwareStreamingAudioBuffer (chunking, pre-encode
// cache) + nemo.collections.asr.parts.mixins.streaming.StreamingEncoder.cache_aware_stream_step (one step), driven as
// examples/asr/asr_cache_aware_streaming/speech_to_text_cache_aware_streaming_infer.py drives them; made incremental.
//
// Ownership: every function here CONSUMES the state it is given (its tensors are disposed or moved into the returned
// state) and returns a new one; output tensors belong to the caller.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { FeatureStream, type AudioToMelSpectrogramPreprocessor, type FeatureStreamState } from '../audio/index.js';
import {
  catEncoderCaches,
  disposeEncoderCache,
  keepEncoderCache,
  mapEncoderCache,
  subsampledLength,
  type ConformerEncoder,
  type EncoderCache,
  type RelativePositionProjections,
  type StreamingConfig,
} from '../model/index.js';
import { advanceCursor, nemoStepFails, planChunk, START_CURSOR, type ChunkCursor, type ChunkPlan } from './chunk-plan.js';
import { encoderStreamStep } from './encoder-step.js';
import { StreamingConfigError, type StreamingGeometry, type StreamingMode } from './geometry.js';

/** One stream's state. */
export interface StreamSlot {
  /** The log-mel front end's state (null when features are pushed directly). */
  readonly features: FeatureStreamState | null;
  /** [F, n] float32: feature frames bufferStart .. bufferStart + n - 1 (the pre-encode cache and frames not yet fed). */
  readonly buffer: Tensor;
  readonly bufferStart: number;
  /** Feature frames received so far. */
  readonly framesIn: number;
  /** The stream's final feature count once its input has ended (finishStream), else null. */
  readonly total: number | null;
  readonly cursor: ChunkCursor;
  /**
   * The chunking and attention context of the stream's next step: the StreamingEncoder's geometry, or another trained
   * look-ahead chosen with switchGeometry (between any two steps).
   */
  readonly geometry: StreamingGeometry;
  /**
   * The encoder's caches for this stream (batch 1): attention inputs, conv inputs, valid cache length; null while they
   * are row `batchRow.row` of a batched step's caches (streamCaches gives that row's views).
   */
  readonly encoder: EncoderCache | null;
  /**
   * Set (and `encoder` null) when the stream's caches are a row of a batched step's caches. When the same streams step
   * together again, in the same order, that step reads the batched caches as they are; otherwise it stacks views of
   * the rows. The views are made only then: a batched step makes none (at 16 streams that was about 800 narrow calls
   * per step, and as many disposals at the next).
   */
  readonly batchRow?: BatchRow;
}

/**
 * The caches a batched step produced, shared by the streams whose caches are its rows. Each row is released once
 * (when its slot is disposed or consumed by the next step); the batched tensors are freed with the last row.
 */
export class SharedBatchCache {
  readonly cache: EncoderCache;
  readonly rows: number;
  private held: number;

  /** Takes ownership of `cache` (batch `rows`, kept out of any tidy scope). */
  constructor(cache: EncoderCache, rows: number) {
    this.cache = cache;
    this.rows = rows;
    this.held = rows;
  }

  release(): void {
    if (this.held <= 0) throw new Error('SharedBatchCache: a row was released twice');
    if (--this.held === 0) disposeEncoderCache(this.cache);
  }
}

export interface BatchRow {
  readonly batch: SharedBatchCache;
  readonly row: number;
}

/**
 * A stream's caches (batch 1): its own, or views of its row of the shared batched caches (made in the caller's scope,
 * no copy).
 */
export function streamCaches(s: StreamSlot): EncoderCache {
  if (s.encoder) return s.encoder;
  if (!s.batchRow) throw new Error('StreamSlot: neither caches of its own nor a row of batched caches');
  return unstackCache(s.batchRow.batch.cache, s.batchRow.row);
}

/** The shared batched caches when `slots` are exactly its rows 0..n-1 in order, else null (they must be stacked). */
export function sharedBatchOf(slots: readonly StreamSlot[]): SharedBatchCache | null {
  const batch = slots[0]?.batchRow?.batch;
  if (!batch || batch.rows !== slots.length) return null;
  return slots.every((s, i) => s.batchRow?.batch === batch && s.batchRow.row === i) ? batch : null;
}

export interface StreamState {
  readonly streams: readonly StreamSlot[];
}

export interface StreamResult {
  /** Per stream, the new encoder output frames [featOut, k] (k may be 0). */
  encoded: Tensor[];
  state: StreamState;
}

/** Per-step timing reported to an observer (the CLI's latency statistics). */
export interface StepEvent {
  streams: number;
  plan: ChunkPlan;
  frames: number[];
}

export interface StreamingEncoderOptions {
  geometry: StreamingGeometry;
  mode?: StreamingMode;
  /** The model's preprocessor (normalize NA or fixed statistics); needed for pushAudio. */
  preprocessor?: AudioToMelSpectrogramPreprocessor;
}

/**
 * Splits a group of streams into batches whose sizes are powers of two, largest first (21 streams: 16 + 4 + 1). A new
 * batch size costs libtorch a first-time set-up (oneDNN convolution primitives, fresh memory of new sizes: 100-250 ms
 * measured for a small model), so the sizes a server meets are kept to the few that warm-up covers; the extra calls
 * cost one step's fixed overhead each.
 */
export function powerOfTwoBatches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  let at = 0;
  while (at < items.length) {
    let n = 1;
    while (n * 2 <= items.length - at) n *= 2;
    out.push(items.slice(at, at + n));
    at += n;
  }
  return out;
}

/** Caches of several streams (batch 1 each) stacked along the batch axis. */
export function stackCaches(caches: readonly EncoderCache[]): EncoderCache {
  return caches.length === 1 ? caches[0]! : catEncoderCaches(caches);
}

/**
 * Stream b's caches (batch 1): views of the batched tensors, no copy (the next batched step copies them into its
 * stack anyway; a view keeps the batched storage alive until every stream has moved on).
 */
export function unstackCache(c: EncoderCache, b: number): EncoderCache {
  return mapEncoderCache(c, (x) => x.narrow(0, b, 1));
}

export class StreamingEncoder {
  readonly encoder: ConformerEncoder;
  readonly geometry: StreamingGeometry;
  readonly mode: StreamingMode;
  readonly featureStream: FeatureStream | null;
  readonly numFeatures: number;
  /** linear_pos(posEmb) per key length, shared by every step and stream (the weights are fixed while streaming). */
  private readonly positions: RelativePositionProjections;
  /** Called after every batched step (for latency accounting). */
  onStep: ((e: StepEvent) => void) | null = null;

  constructor(encoder: ConformerEncoder, o: StreamingEncoderOptions) {
    if (encoder.training) throw new Error('streaming: put the encoder in eval mode first');
    this.encoder = encoder;
    this.geometry = o.geometry;
    this.mode = o.mode ?? 'exact';
    this.featureStream = o.preprocessor ? new FeatureStream(o.preprocessor) : null;
    this.numFeatures = encoder.config.feat_in;
    this.positions = encoder.positionProjections();
    if (this.featureStream && this.featureStream.numFeatures !== this.numFeatures) {
      throw new Error(`streaming: the preprocessor makes ${this.featureStream.numFeatures} features but the encoder takes ${this.numFeatures}`);
    }
  }

  /** Encoder frames the offline pass produces for `frames` feature frames. */
  offlineFrames(frames: number): number {
    const c = this.encoder.config;
    return c.subsampling && c.subsampling_factor > 1 ? subsampledLength(frames, c.subsampling_factor, c.causal_downsampling) : frames;
  }

  /** A fresh stream (streaming with `geometry`, by default the encoder's; see switchGeometry for the rules). */
  initStream(geometry: StreamingGeometry = this.geometry): StreamSlot {
    if (geometry !== this.geometry) this.checkSwitch(this.geometry, geometry);
    return {
      geometry,
      features: this.featureStream ? this.featureStream.initState() : null,
      buffer: t.keep(t.zeros([this.numFeatures, 0])),
      bufferStart: 0,
      framesIn: 0,
      total: null,
      cursor: START_CURSOR,
      // (no attention inputs: nothing here reads NeMo's cache_last_channel; a third less memory traffic per step)
      encoder: keepEncoderCache(this.encoder.initCache(1, this.geometry.cfg, 'float32', false)),
    };
  }

  /**
   * The stream with another chunk size / look-ahead from its next step on (no tensor is touched: the slot is returned
   * with the new geometry). Exact mode only, and only between geometries that share the attention cache (the same
   * left context in frames, no cache drop) and the pre-encode cache, so that the caches stay valid. The output then
   * equals the offline pass under the same per-chunk masks (ConformerEncoder.forward's chunkSchedule). A stream that
   * has ended keeps running with the geometry it has.
   */
  switchGeometry(slot: StreamSlot, geometry: StreamingGeometry): StreamSlot {
    if (geometry === slot.geometry) return slot;
    this.checkSwitch(slot.geometry, geometry);
    return { ...slot, geometry };
  }

  /** Why a stream cannot move from geometry `a` to `b` (throws StreamingConfigError); nothing when it can. */
  checkSwitch(a: StreamingGeometry, b: StreamingGeometry): void {
    const what = (g: StreamingGeometry): string => `[${g.attContextSize.join(', ')}]`;
    const no = (why: string): never => {
      throw new StreamingConfigError(`cannot switch a stream from context ${what(a)} to ${what(b)}: ${why}`);
    };
    if (this.mode !== 'exact') no("NeMo-compatible streaming runs one context per stream (use mode 'exact')");
    if (a.style !== b.style) no(`the attention styles differ (${a.style}, ${b.style})`);
    if (a.cfg.lastChannelCacheSize !== b.cfg.lastChannelCacheSize)
      no(`the attention caches differ (${a.cfg.lastChannelCacheSize} and ${b.cfg.lastChannelCacheSize} frames of left context)`);
    if (a.cfg.cacheDropSize !== 0 || b.cfg.cacheDropSize !== 0)
      no('a context that drops cache frames (regular style with look-ahead) streams one frame per step');
    if (a.cfg.preEncodeCacheSize[1] !== b.cfg.preEncodeCacheSize[1] || a.subsamplingFactor !== b.subsamplingFactor) no('the subsampling caches differ');
    if (b.exactnessIssues.length > 0) no(b.exactnessIssues.join('; '));
  }

  /** `batch` fresh, independent streams. */
  initStreamState(batch: number): StreamState {
    return { streams: Array.from({ length: batch }, () => this.initStream()) };
  }

  /** Appends audio (float32 at the preprocessor's rate; one array per stream, any lengths) and runs every ready step. */
  pushAudio(samples: readonly Float32Array[], state: StreamState): StreamResult {
    return this.run(this.feedAudio(samples, state));
  }

  /** Appends audio to the streams' feature buffers without running any step (see run). */
  feedAudio(samples: readonly Float32Array[], state: StreamState): StreamState {
    const fs = this.featureStream;
    if (!fs) throw new Error('streaming: pushAudio needs the preprocessor (StreamingEncoderOptions.preprocessor)');
    if (samples.length !== state.streams.length) throw new RangeError(`streaming: ${samples.length} sample arrays for ${state.streams.length} streams`);
    const streams = state.streams.map((s, i) => {
      if (s.total !== null) {
        if (samples[i]!.length > 0) throw new Error(`streaming: stream ${i} has ended; it takes no more audio`);
        return s;
      }
      const r = fs.push(samples[i]!, s.features!);
      return this.appendFrames({ ...s, features: r.state }, r.frames);
    });
    return { streams };
  }

  /** Appends feature frames ([F, k] per stream, or null for none; not consumed) and runs every ready step. */
  pushFeatures(frames: readonly (Tensor | null)[], state: StreamState): StreamResult {
    if (frames.length !== state.streams.length) throw new RangeError(`streaming: ${frames.length} frame tensors for ${state.streams.length} streams`);
    const streams = state.streams.map((s, i) => {
      const f = frames[i];
      if (!f || f.size(1) === 0) return s;
      if (s.total !== null) throw new Error(`streaming: stream ${i} has ended; it takes no more frames`);
      if (f.ndim !== 2 || f.size(0) !== this.numFeatures)
        throw new RangeError(`streaming: frames must be [${this.numFeatures}, k], got [${f.shape.join(', ')}]`);
      return this.appendFrames(s, f.alias());
    });
    return this.run({ streams });
  }

  /** Ends the input of the streams whose index is listed (their tail runs on the next run/push/finish). */
  endStreams(state: StreamState, which: readonly number[]): StreamState {
    const set = new Set(which);
    const streams = state.streams.map((s, i) => {
      if (!set.has(i) || s.total !== null) return s;
      let slot = s;
      if (s.features && this.featureStream) {
        const r = this.featureStream.flush(s.features);
        slot = this.appendFrames({ ...s, features: r.state }, r.frames);
      }
      // NeMo's buffer also holds the frame past the valid length (masked to 0 by the preprocessor) and treats it as
      // data; pushed features are taken as NeMo's buffer already (golden buffer_features include that frame).
      if (this.mode === 'nemo' && s.features) slot = this.appendFrames(slot, t.zeros([this.numFeatures, 1]));
      return { ...slot, total: slot.framesIn };
    });
    return { streams };
  }

  /** Ends every stream, runs their last steps and frees the state. Returns the remaining frames per stream. */
  finish(state: StreamState): { encoded: Tensor[] } {
    const ended = this.endStreams(
      state,
      state.streams.map((_, i) => i),
    );
    const r = this.run(ended);
    this.disposeState(r.state);
    return { encoded: r.encoded };
  }

  /** True when the stream's next step can run now (enough frames have arrived, or its input has ended with frames left). */
  isReady(slot: StreamSlot): boolean {
    return this.plan(slot) !== null;
  }

  /** True once a stream has emitted everything (after its input ended). */
  isDone(slot: StreamSlot): boolean {
    return slot.cursor.done || (slot.total !== null && this.plan(slot) === null);
  }

  disposeState(state: StreamState): void {
    for (const s of state.streams) this.disposeStream(s);
  }

  /** Frees what the encoder-side helper holds (the projected positions); the streams' states are freed separately. */
  dispose(): void {
    this.positions.dispose();
  }

  disposeStream(s: StreamSlot): void {
    s.buffer.dispose();
    if (s.encoder) disposeEncoderCache(s.encoder);
    s.batchRow?.batch.release();
  }

  /**
   * Runs steps, batching the streams whose next chunks have the same shape, until none is ready, or until every
   * stream has run `maxSteps` steps (a server runs one per stream per turn, so that a backlog cannot hold up others).
   */
  run(state: StreamState, o: { maxSteps?: number } = {}): StreamResult {
    const streams = [...state.streams];
    const outs: Tensor[][] = streams.map(() => []);
    const maxSteps = o.maxSteps ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const plans = streams.map((s, i) => (outs[i]!.length < maxSteps ? this.plan(s) : null));
      const groups = new Map<string, number[]>();
      for (const [i, p] of plans.entries()) {
        if (!p) continue;
        const geo = streams[i]!.geometry;
        const key = `${p.zeroPad + p.end - p.start}/${p.drop}/${p.keepAll}/${this.mode === 'exact' && p.last}/${geo.attContextSize.join(',')}/${geo.cfg.validOutLen}`;
        const g = groups.get(key);
        if (g) g.push(i);
        else groups.set(key, [i]);
      }
      if (groups.size === 0) break;
      for (const idx of [...groups.values()].flatMap(powerOfTwoBatches)) {
        const r = this.stepGroup(
          idx.map((i) => streams[i]!),
          idx.map((i) => plans[i]!),
        );
        for (const [k, i] of idx.entries()) {
          outs[i]!.push(r.encoded[k]!);
          streams[i] = r.slots[k]!;
        }
      }
    }
    const encoded = outs.map((o) => {
      if (o.length === 1) return o[0]!;
      const cat = o.length === 0 ? t.zeros([this.encoder.featOut, 0]) : t.cat(o, 1); // [D, k]
      for (const x of o) x.dispose();
      return cat;
    });
    return { encoded, state: { streams } };
  }

  private plan(s: StreamSlot): ChunkPlan | null {
    const p = planChunk(this.mode, s.cursor, s.framesIn, s.total, s.total === null ? null : this.offlineFrames(s.total), s.geometry);
    if (p && this.mode === 'nemo' && nemoStepFails(p, s.geometry, (n) => this.offlineFrames(n))) return { ...p, last: true };
    return p;
  }

  /** Appends frames (consumed) to a stream's buffer; the old buffer is disposed. */
  private appendFrames(s: StreamSlot, frames: Tensor): StreamSlot {
    const k = frames.size(1);
    if (k === 0) {
      frames.dispose();
      return s;
    }
    const buffer = t.keep(s.buffer.size(1) === 0 ? frames.contiguous() : t.cat([s.buffer, frames], 1)); // [F, n + k]
    s.buffer.dispose();
    if (buffer !== frames) frames.dispose();
    return { ...s, buffer, framesIn: s.framesIn + k };
  }

  /**
   * One encoder step for streams whose chunks share a shape: stack inputs and caches, step, unstack. Streams that
   * stepped together last time, in the same order, read their batched caches as they are (no stacking copy; at 64
   * streams of 12 s that is about 350 MB per step) and get views of the new ones.
   */
  private stepGroup(slots: StreamSlot[], plans: ChunkPlan[]): { slots: StreamSlot[]; encoded: Tensor[] } {
    const p0 = plans[0]!;
    const geo = slots[0]!.geometry; // the same for every slot of a group (run() groups by context)
    const st: StreamingConfig = this.mode === 'exact' && p0.last ? { ...geo.cfg, cacheDropSize: 0, validOutLen: 0 } : geo.cfg;
    const cacheSize = geo.cfg.preEncodeCacheSize[1];
    const r = t.tidy(() =>
      t.noGrad(() => {
        const chunks = slots.map((s, i) => {
          const p = plans[i]!;
          const x = s.buffer.narrow(1, p.start - s.bufferStart, p.end - p.start); // [F, end - start]
          return p.zeroPad > 0 ? t.cat([t.zeros([this.numFeatures, p.zeroPad]), x], 1) : x; // [F, Tc]
        });
        const feats = t.stack(chunks, 0); // [B, F, Tc]
        const lens = t.tensor(
          plans.map((p) => p.validFrames),
          [plans.length],
          { dtype: 'int64' },
        );
        const cache = sharedBatchOf(slots)?.cache ?? stackCaches(slots.map(streamCaches));
        const out = encoderStreamStep(this.encoder, feats, lens, cache, {
          attContextSize: geo.attContextSize,
          streaming: st,
          dropExtraPreEncoded: p0.drop,
          keepAllOutputs: p0.keepAll,
          positions: this.positions,
        });
        const lengths = out.lengths.toArray();
        const shared = slots.length > 1 ? new SharedBatchCache(keepEncoderCache(out.cache), slots.length) : null;
        const encoded: Tensor[] = [];
        const next: StreamSlot[] = [];
        for (const [b, s] of slots.entries()) {
          const p = plans[b]!;
          const n = Math.min(lengths[b]!, p.maxOut ?? Number.POSITIVE_INFINITY, out.encoded.size(2));
          encoded.push(t.keep(out.encoded.select(0, b).narrow(1, 0, n).contiguous())); // [D, n]
          const cursor = advanceCursor(s.cursor, p, n);
          // Keep the frames the next step reads: its pre-encode cache onward.
          const from = Math.min(s.framesIn, Math.max(s.bufferStart, cursor.idx - cacheSize));
          const buffer = t.keep(s.buffer.narrow(1, from - s.bufferStart, s.bufferStart + s.buffer.size(1) - from).contiguous());
          const encoder = shared ? null : keepEncoderCache(out.cache);
          next.push({ ...s, buffer, bufferStart: from, cursor, encoder, batchRow: shared ? { batch: shared, row: b } : undefined });
        }
        return { encoded, next, lengths };
      }),
    );
    for (const s of slots) this.disposeStream(s);
    this.onStep?.({ streams: slots.length, plan: p0, frames: r.encoded.map((e) => e.size(1)) });
    return { slots: r.next, encoded: r.encoded };
  }
}
