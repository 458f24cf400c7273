// Speaker-labelled utterances: a NeMo manifest whose lines carry a `speaker` field (the label), and the utterance
// embeddings of such a manifest, offline or streamed chunk by chunk.
// Provenance: NeMo's speaker recognition manifests (nemo.collections.asr.data.audio_to_label.AudioToSpeechLabelDataset
// reads the label from the line's `label` key; streamnest's corpora write `speaker`, which is read here).
import { loadAudioAsync } from '../audio/index.js';
import { DataError } from '../data/data-error.js';
import { readManifest, type ManifestEntry } from '../data/manifest.js';
import type { StreamingEncoder } from '../streaming/index.js';
import type { SpeakerEmbedder, UtteranceEmbedding } from './speaker-embedding.js';

export interface SpeakerUtterance {
  entry: ManifestEntry;
  speaker: string;
}

/** Every line of the manifest with its speaker; a line without a non-empty string `speaker` is an error naming the file and line. */
export function readSpeakerManifest(path: string, o: { minSpeakers?: number } = {}): SpeakerUtterance[] {
  const out = readManifest(path).entries.map((entry) => {
    const s = entry.extra.speaker;
    if (typeof s !== 'string' || s === '')
      throw new DataError('bad_field', entry.where, `needs a 'speaker' field (a non-empty string: the speaker label), got ${JSON.stringify(s ?? null)}`);
    return { entry, speaker: s };
  });
  if (out.length === 0) throw new DataError('bad_field', path, 'the manifest lists no utterances');
  const speakers = new Set(out.map((u) => u.speaker)).size;
  const min = o.minSpeakers ?? 2;
  if (speakers < min) throw new DataError('bad_field', path, `${speakers} speaker(s); speaker embeddings need at least ${min} (different-speaker trials)`);
  return out;
}

/** How to embed a clip: offline, or streamed through `encoder` in pieces of `chunkSamples`. */
export type ClipMode = { streaming: null } | { streaming: StreamingEncoder; chunkSamples: number };

/** One clip's frames and utterance embedding (the caller disposes both). */
export function embedClip(embedder: SpeakerEmbedder, samples: Float32Array, mode: ClipMode): UtteranceEmbedding {
  if (!mode.streaming) return embedder.embedUtterance(samples);
  const piece = Math.max(1, mode.chunkSamples);
  const chunks = function* (): Generator<Float32Array> {
    for (let at = 0; at < samples.length; at += piece) yield samples.subarray(at, at + piece);
  };
  return embedder.embedStreaming(mode.streaming, chunks());
}

/** The utterance embedding of every entry (offset / duration applied), as float32 arrays. */
export async function embedUtterances(
  embedder: SpeakerEmbedder,
  utterances: readonly SpeakerUtterance[],
  mode: ClipMode,
  onEach?: (done: number) => void,
): Promise<{ speaker: string; embedding: Float32Array; where: string }[]> {
  const sr = embedder.preprocessor.cfg.sample_rate;
  const out: { speaker: string; embedding: Float32Array; where: string }[] = [];
  for (const u of utterances) {
    const e = u.entry;
    const audio = await loadAudioAsync(e.audioFilepath, { targetSampleRate: sr, offset: e.offset, duration: e.duration ?? undefined });
    let r: UtteranceEmbedding;
    try {
      r = embedClip(embedder, audio.samples, mode);
    } catch (err) {
      throw new DataError('bad_audio', e.where, `cannot embed ${e.audioFilepath}: ${(err as Error).message}`);
    }
    const values = Float32Array.from(r.embedding.toArray());
    r.frames.dispose();
    r.embedding.dispose();
    out.push({ speaker: u.speaker, embedding: values, where: e.where });
    onEach?.(out.length);
  }
  return out;
}
