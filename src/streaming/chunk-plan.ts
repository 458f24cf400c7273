// Where each streaming step's feature chunk starts and ends, how many pre-encoded frames it drops and whether it is
// the last: pure functions of a cursor and of how many feature frames have arrived.
// Provenance: nemo.collections.asr.parts.utils.streaming_utils.CacheAwareStreamingAudioBuffer.__iter__ (the 'nemo'
// plan) and examples/asr/asr_cache_aware_streaming/speech_to_text_cache_aware_streaming_infer.py (drop_extra and
// keep_all_outputs); the 'exact' plan applies spec 05 §8 items 1, 2 and 5.
import type { StreamingGeometry, StreamingMode } from './geometry.js';

/** A stream's position (plain data). */
export interface ChunkCursor {
  /** Steps run so far. */
  readonly step: number;
  /** Feature index where the next chunk's new frames start (NeMo's buffer_idx). */
  readonly idx: number;
  /** Encoder frames emitted so far. */
  readonly emitted: number;
  /** No more steps will run. */
  readonly done: boolean;
}

export const START_CURSOR: ChunkCursor = { step: 0, idx: 0, emitted: 0, done: false };

/** One step: feed zeroPad zero frames then features [start, end); validFrames of them are real (the chunk length). */
export interface ChunkPlan {
  idx: number;
  start: number;
  end: number;
  zeroPad: number;
  /** Frames of the chunk (zeroPad + end - start) that count as valid (NeMo's chunk_lengths). */
  validFrames: number;
  /** Pre-encoded frames dropped from the front (drop_extra_pre_encoded). */
  drop: number;
  /** keep_all_outputs. */
  keepAll: boolean;
  /** The stream's last step: its caches are not used again (exact mode runs it without cache drop). */
  last: boolean;
  /** Exact mode: at most this many frames are emitted (the offline count minus those already emitted); else null. */
  maxOut: number | null;
  /** Feature index of the next step's new frames. */
  nextIdx: number;
}

/**
 * The next step of a stream, or null when it has to wait for more frames (or is done).
 * available: feature frames received; total: the stream's final frame count once its input has ended, else null;
 * offlineFrames: encoder frames the offline pass emits for `total` frames (exact mode), else null.
 */
export function planChunk(
  mode: StreamingMode,
  cur: ChunkCursor,
  available: number,
  total: number | null,
  offlineFrames: number | null,
  geo: StreamingGeometry,
): ChunkPlan | null {
  if (cur.done) return null;
  return mode === 'exact' ? planExact(cur, available, total, offlineFrames, geo) : planNemo(cur, available, total, geo);
}

/**
 * NeMo's chunking. Before the end is known a full chunk runs only when a frame beyond it has arrived, so that
 * keep_all_outputs (NeMo: "buffer empty after advancing") is decided as NeMo decides it.
 */
function planNemo(cur: ChunkCursor, available: number, total: number | null, geo: StreamingGeometry): ChunkPlan | null {
  const st = geo.cfg;
  const first = cur.idx === 0;
  const cs = first ? st.chunkSize[0] : st.chunkSize[1];
  const ss = first ? st.shiftSize[0] : st.shiftSize[1];
  const sampling = first ? 1 : geo.subsamplingFactor; // ConvSubsampling.get_sampling_frames
  let end: number;
  let keepAll: boolean;
  if (total === null) {
    if (cur.idx + cs >= available) return null;
    end = cur.idx + cs;
    keepAll = false;
  } else {
    if (cur.idx >= total) return null;
    end = Math.min(cur.idx + cs, total);
    if (end - cur.idx < sampling) return null; // NeMo never processes a tail shorter than S frames
    keepAll = cur.idx + ss >= total;
  }
  const cacheSize = first ? st.preEncodeCacheSize[0] : st.preEncodeCacheSize[1];
  const start = Math.max(0, cur.idx - cacheSize);
  const zeroPad = cacheSize - (cur.idx - start);
  const len = zeroPad + end - start;
  const streamLeft = (total ?? Number.POSITIVE_INFINITY) - cur.idx + zeroPad + (cur.idx - start);
  return {
    idx: cur.idx,
    start,
    end,
    zeroPad,
    validFrames: Math.max(0, Math.min(streamLeft, len)),
    drop: first ? 0 : st.dropExtraPreEncoded,
    keepAll,
    last: keepAll || (total !== null && cur.idx + ss >= total),
    maxOut: null,
    nextIdx: cur.idx + ss,
  };
}

/**
 * Exact chunking: steady-state chunks as NeMo's, but (1) the pre-encode cache is never zero-padded: near the start the
 * chunk begins at feature 0 and drops exactly the encoder frames already emitted; (2) the end of the input is one
 * last step over every remaining frame, with all outputs kept and no cache drop (nothing is carried on), emitting
 * exactly the frames the offline pass has left (no < S-frame tail is lost, no negative cache keep in regular style).
 */
function planExact(cur: ChunkCursor, available: number, total: number | null, offlineFrames: number | null, geo: StreamingGeometry): ChunkPlan | null {
  const st = geo.cfg;
  const S = geo.subsamplingFactor;
  const first = cur.step === 0;
  const cs = first ? st.chunkSize[0] : st.chunkSize[1];
  const ss = first ? st.shiftSize[0] : st.shiftSize[1];
  const start = Math.max(0, cur.idx - st.preEncodeCacheSize[1]);
  if (start % S !== 0) throw new Error(`streaming: chunk start ${start} is not a multiple of the subsampling factor ${S}`);
  const drop = cur.emitted - start / S; // pre-encoded frames before the first one not yet emitted
  // A chunk reaching the end of the input is the last step (below); before the end is known, wait for one frame beyond.
  const full = total === null ? cur.idx + cs < available : cur.idx + cs < total;
  if (full) {
    return {
      idx: cur.idx,
      start,
      end: cur.idx + cs,
      zeroPad: 0,
      validFrames: cur.idx + cs - start,
      drop,
      keepAll: false,
      last: false,
      maxOut: null,
      nextIdx: cur.idx + ss,
    };
  }
  if (total === null || offlineFrames === null) return null;
  const left = offlineFrames - cur.emitted;
  if (left <= 0) return null;
  return { idx: cur.idx, start, end: total, zeroPad: 0, validFrames: total - start, drop, keepAll: true, last: true, maxOut: left, nextIdx: total };
}

/**
 * A step whose chunk yields fewer pre-encoded frames than cache_drop_size gets a negative cache keep in NeMo
 * (MultiHeadAttention.update_cache shrinks the caches; regular style with look-ahead at the end of a buffer, spec 05
 * §8 item 2) and NeMo's loop raises on the step after it. The 'nemo' driver runs such a step and stops there.
 * preEncoded: the encoder frames of a chunk of that many features.
 */
export function nemoStepFails(p: ChunkPlan, geo: StreamingGeometry, preEncoded: (featureFrames: number) => number): boolean {
  return geo.cfg.cacheDropSize > 0 && preEncoded(p.zeroPad + p.end - p.start) - p.drop < geo.cfg.cacheDropSize;
}

/** The cursor after running `plan` and emitting `emitted` frames. */
export function advanceCursor(cur: ChunkCursor, plan: ChunkPlan, emitted: number): ChunkCursor {
  return { step: cur.step + 1, idx: plan.nextIdx, emitted: cur.emitted + emitted, done: plan.last };
}
