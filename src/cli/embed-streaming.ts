// How `embed` and `eval-embed` run an embedder over clips: offline, or through a cache-aware StreamingEncoder in
// chunks of the context's own size (or --chunk-size seconds); streaming setup problems become argument errors.
import type { AttContextSize, ConformerEncoder } from '../model/index.js';
import type { AudioToMelSpectrogramPreprocessor } from '../audio/index.js';
import type { ClipMode } from '../diarization/speaker-manifest.js';
import { ArgError } from './args.js';

/** The clip mode and what frees it (the StreamingEncoder, when streaming). */
export async function clipMode(
  pre: AudioToMelSpectrogramPreprocessor,
  enc: ConformerEncoder,
  o: { streaming: boolean; chunkSeconds?: number; attContextSize?: AttContextSize; command: string },
): Promise<{ mode: ClipMode; dispose(): void }> {
  if (!o.streaming) return { mode: { streaming: null }, dispose: () => {} };
  const { configureStreaming, StreamingConfigError, StreamingEncoder } = await import('../streaming/index.js');
  const hop = pre.featurizer.geometry.hopLength / pre.cfg.sample_rate;
  let geo: ReturnType<typeof configureStreaming>;
  try {
    geo = configureStreaming(enc, { chunkSeconds: o.chunkSeconds, attContextSize: o.attContextSize, hopSeconds: hop });
  } catch (e) {
    if (e instanceof StreamingConfigError) throw new ArgError(`${o.command}: ${e.message}`);
    throw e;
  }
  const se = new StreamingEncoder(enc, { geometry: geo, preprocessor: pre });
  return {
    mode: { streaming: se, chunkSamples: Math.max(1, Math.round(geo.chunkSeconds * pre.cfg.sample_rate)) },
    dispose: () => se.dispose(),
  };
}
