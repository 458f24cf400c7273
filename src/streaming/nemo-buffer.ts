// NeMo's offline simulation of streaming: a whole feature buffer [B, F, Tb] (streams right-padded to Tb, with their
// lengths) cut into chunks in lockstep and run through the encoder step by step, exactly as
// speech_to_text_cache_aware_streaming_infer.py does. Used to check the 'nemo' chunk plan against NeMo's golden steps.
// Provenance: nemo.collections.asr.parts.utils.streaming_utils.CacheAwareStreamingAudioBuffer (+ the example's loop).
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { disposeEncoderCache, type ConformerEncoder, type EncoderCache } from '../model/index.js';
import { advanceCursor, nemoStepFails, planChunk, START_CURSOR, type ChunkPlan } from './chunk-plan.js';
import { subsampledLength } from '../model/index.js';
import { encoderStreamStep } from './encoder-step.js';
import type { StreamingGeometry } from './geometry.js';

export interface NemoBufferStep {
  plan: ChunkPlan;
  /** NeMo's chunk_lengths per stream. */
  chunkLengths: number[];
  /** [B, D, k] this step's output and its valid lengths per stream. */
  encoded: Tensor;
  lengths: number[];
}

/** The chunk plans NeMo's buffer yields for a buffer of Tb frames (no tensors). */
export function nemoBufferPlans(Tb: number, geo: StreamingGeometry, preEncoded: (featureFrames: number) => number): ChunkPlan[] {
  const plans: ChunkPlan[] = [];
  let cur = START_CURSOR;
  for (;;) {
    const p = planChunk('nemo', cur, Tb, Tb, null, geo);
    if (!p) return plans;
    plans.push(p);
    if (nemoStepFails(p, geo, preEncoded)) return plans; // NeMo's loop raises on the next step
    cur = advanceCursor(cur, p, 0);
  }
}

/** NeMo's chunk_lengths: clamp(stream_length - idx + added frames, 0, chunk frames). */
export function nemoChunkLength(p: ChunkPlan, streamLength: number): number {
  const tc = p.zeroPad + p.end - p.start;
  return Math.max(0, Math.min(streamLength - p.idx + p.zeroPad + (p.idx - p.start), tc));
}

/**
 * Runs the whole buffer. features [B, F, Tb] (not consumed), streamLengths per stream. Returns every step's output
 * (owned by the caller) and each stream's concatenation of its valid frames [D, n_b].
 */
export function runNemoBuffer(
  encoder: ConformerEncoder,
  geo: StreamingGeometry,
  features: Tensor,
  streamLengths: readonly number[],
): { steps: NemoBufferStep[]; streams: Tensor[] } {
  const [B, F, Tb] = features.shape as [number, number, number];
  let cache: EncoderCache = encoder.initCache(B, geo.cfg);
  const positions = encoder.positionProjections(); // computed once per key length, freed at the end
  const steps: NemoBufferStep[] = [];
  const pieces: Tensor[][] = Array.from({ length: B }, () => []);
  const c = encoder.config;
  const pre = (n: number): number => (c.subsampling && c.subsampling_factor > 1 ? subsampledLength(n, c.subsampling_factor, c.causal_downsampling) : n);
  for (const p of nemoBufferPlans(Tb, geo, pre)) {
    const chunkLengths = streamLengths.map((l) => nemoChunkLength(p, l));
    const r = t.tidy(() =>
      t.noGrad(() => {
        let x = features.narrow(2, p.start, p.end - p.start); // [B, F, end - start]
        if (p.zeroPad > 0) x = t.cat([t.zeros([B, F, p.zeroPad]), x], 2); // [B, F, Tc]
        const lens = t.tensor(chunkLengths, [B], { dtype: 'int64' });
        return encoderStreamStep(encoder, x, lens, cache, {
          attContextSize: geo.attContextSize,
          streaming: geo.cfg,
          dropExtraPreEncoded: p.drop,
          keepAllOutputs: p.keepAll,
          positions,
        });
      }),
    );
    disposeEncoderCache(cache);
    cache = r.cache;
    const lengths = r.lengths.toArray();
    r.lengths.dispose();
    for (let b = 0; b < B; b++) if (lengths[b]! > 0) pieces[b]!.push(t.tidy(() => r.encoded.select(0, b).narrow(1, 0, lengths[b]!).contiguous()));
    steps.push({ plan: p, chunkLengths, encoded: r.encoded, lengths });
  }
  disposeEncoderCache(cache);
  positions.dispose();
  const streams = pieces.map((ps) => {
    const out = ps.length ? t.cat(ps, 1) : t.zeros([encoder.featOut, 0]); // [D, n_b]
    for (const x of ps) x.dispose();
    return out;
  });
  return { steps, streams };
}
