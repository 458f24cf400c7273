// A chunk schedule: chunked attention whose chunk size changes along the utterance, as a stream that switches its
// look-ahead between steps sees it. The offline reference of such a stream (the same per-chunk masks over the whole
// utterance), so that switching is tested to be exact like every fixed context.
// Provenance: streamnest (no NeMo counterpart; NeMo switches set_default_att_context_size between utterances only).
// With one chunk size throughout it is NeMo's chunked_limited rule (ConformerEncoder._create_masks).
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

/**
 * Chunks of encoder frames in order (`chunks[k]` frames in chunk k; the last size repeats to the end of any longer
 * input), and the left context in frames that every chunk sees before its first frame (-1: everything before it).
 */
export interface ChunkSchedule {
  chunks: readonly number[];
  left: number;
}

/** The [start, end) of the chunk holding each of `length` frames. */
export function scheduleSpans(schedule: ChunkSchedule, length: number): { start: number[]; end: number[] } {
  if (schedule.chunks.length === 0) throw new RangeError('a chunk schedule needs at least one chunk');
  for (const c of schedule.chunks) if (!Number.isInteger(c) || c < 1) throw new RangeError(`chunk sizes must be whole numbers >= 1, got ${c}`);
  const start: number[] = [];
  const end: number[] = [];
  let at = 0;
  for (let k = 0; at < length; k++) {
    const size = schedule.chunks[Math.min(k, schedule.chunks.length - 1)]!;
    const e = at + size;
    for (let i = at; i < Math.min(e, length); i++) {
      start.push(at);
      end.push(e);
    }
    at = e;
  }
  return { start, end };
}

/** allowed[i][j] (query i may attend key j) as bool [T, T]: start(i) - left <= j < end(i) (left < 0: 0 <= j < end(i)). */
export function scheduleAllowed(schedule: ChunkSchedule, length: number): Tensor {
  const { start, end } = scheduleSpans(schedule, length);
  return t.tidy(() => {
    const j = t.arange(length).unsqueeze(0); // [1, T]
    const e = t.tensor(end, [length, 1], { dtype: 'int64' }); // [T, 1]
    let ok = j.lt(e); // [T, T]
    if (schedule.left >= 0) {
      const from = t.tensor(
        start.map((s) => s - schedule.left),
        [length, 1],
        { dtype: 'int64' },
      );
      ok = t.logicalAnd(ok, j.ge(from));
    }
    return ok;
  });
}
