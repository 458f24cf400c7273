// One cache-aware streaming step of a ConformerEncoder with the attention context handed in by the caller (the
// stream's StreamingGeometry), not read from the encoder's default pair: choosing a context to stream
// with never changes the encoder. Every streaming driver (StreamingEncoder, runNemoBuffer) steps
// through this function.
// Provenance: nemo.collections.asr.parts.mixins.streaming.StreamingEncoder.cache_aware_stream_step (= ConformerEncoder
// forward with caches + streaming_post_process): ConformerEncoder.streamStep with att_context_size required.
import type { Tensor } from '../torch/index.js';
import type { AttContextSize, ConformerEncoder, EncoderCache, StreamStepOptions } from '../model/index.js';

export interface EncoderStepOptions extends StreamStepOptions {
  /** The [left, right] attention context the stream runs with (StreamingGeometry.attContextSize): required here. */
  attContextSize: AttContextSize;
}

/**
 * features [B, feat_in, Tc] (pre-encode cache frames already prepended), lengths int64 [B], the streams' caches.
 * Returns the chunk's output [B, featOut, T_out], its lengths, and the next caches (the old ones are not disposed).
 */
export function encoderStreamStep(
  encoder: ConformerEncoder,
  features: Tensor,
  lengths: Tensor,
  cache: EncoderCache,
  o: EncoderStepOptions,
): { encoded: Tensor; lengths: Tensor; cache: EncoderCache } {
  return encoder.streamStep(features, lengths, cache, o);
}
