// Decoding one manifest entry to mono float32 at the target rate, with bad audio turned into DataErrors
// that name the file and the manifest line. Uses src/audio's loadAudio (WAV or FLAC, mono mean, resampling).
import { AudioFileError } from '../audio/wav.js';
import { loadAudio } from '../audio/load-audio.js';
import { DataError, type BadDataReason } from './data-error.js';

export interface AudioRef {
  path: string;
  /** Seconds. */
  offset: number;
  /** Seconds; null or 0 = to the end. */
  duration: number | null;
  /** "manifest.json:12" (or the path for entries without a manifest line). */
  where: string;
}

export interface DecodeOptions {
  sampleRate: number;
  /** Accepted shortfall (seconds) of the file against the manifest's offset + duration (default 0.05). */
  durationTolerance?: number;
}

function reasonOf(e: AudioFileError): BadDataReason {
  if (e.reason === 'missing') return 'missing_file';
  if (e.reason === 'empty') return 'empty_audio';
  return 'bad_audio';
}

/** Decodes `ref` (offset/duration window) to mono float32 at `o.sampleRate`; throws DataError on bad audio. */
export function decodeAudio(ref: AudioRef, o: DecodeOptions): Float32Array {
  let decoded: { sampleRate: number; samples: Float32Array };
  try {
    decoded = loadAudio(ref.path, { offset: ref.offset, duration: ref.duration ?? 0, targetSampleRate: o.sampleRate });
  } catch (e) {
    if (e instanceof AudioFileError) throw new DataError(reasonOf(e), ref.where, e.message);
    if (e instanceof DataError) throw e;
    throw new DataError('bad_audio', ref.where, `${ref.path}: ${(e as Error).message}`);
  }
  const { sampleRate: sr, samples } = decoded;
  if (samples.length === 0) throw new DataError('empty_audio', ref.where, `${ref.path}: zero-length clip`);
  if (ref.duration !== null && ref.duration > 0) {
    const expected = Math.trunc(ref.duration * sr);
    const tol = Math.round((o.durationTolerance ?? 0.05) * sr);
    if (samples.length < expected - tol) {
      throw new DataError(
        'duration_mismatch',
        ref.where,
        `${ref.path}: the manifest asks for ${ref.duration}s from offset ${ref.offset}s but the file has only ${(samples.length / sr).toFixed(3)}s there`,
      );
    }
  }
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i]!)) throw new DataError('bad_audio', ref.where, `${ref.path}: non-finite sample at ${i}`);
  }
  return samples;
}
