// Whether an ASR model (CTC or transducer: only its encoder matters) can stream cache-aware, and the attention cache it
// streams with. The streaming driver itself is the serving layer's OnlineRecognizer (FeatureStream -> StreamingEncoder
// -> greedy CTC, or greedy / beam transducer decoding with carried state), which the server, the API and
// `transcribe --streaming` / `eval --streaming` share.
import type { ConformerEncoder } from '../model/conformer-encoder.js';

export class NotStreamableError extends Error {}

/**
 * Attention-cache frames kept when the left context is unlimited: 1000 encoder frames = 80 s of history at 80 ms
 * frames (NeMo's max_context is 10000; a step's cost grows with the cache). Streaming equals offline for utterances
 * up to this length.
 */
export const DEFAULT_MAX_CONTEXT = 1000;

/** Why a model's encoder cannot stream cache-aware (empty when it can). */
export function notStreamableReasons(model: { encoder: ConformerEncoder }): string[] {
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
export function assertStreamable(model: { encoder: ConformerEncoder }): void {
  const why = notStreamableReasons(model);
  if (why.length) throw new NotStreamableError(`this model cannot stream (${why.join('; ')}); use offline mode`);
}
