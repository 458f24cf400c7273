// Where a single-speaker clip has speech: frame energy (20 ms frames, 10 ms hop) within `rangeDb` of the clip's
// loudest frame, runs joined across pauses shorter than `minPause` (NIST RT convention: pauses under 0.3 s do not
// split a speaker segment) and runs shorter than `minSpeech` dropped. Used to write RTTM for simulated sessions
// from clips that have no word alignments (NeMo's simulator uses CTM alignments instead).
// Provenance: the energy gate of Kaldi's compute-vad (log-energy threshold relative to the mean), simplified to a peak reference.
import type { Span } from './timeline.js';

export interface SpeechActivityOptions {
  /** Frames within this many dB of the loudest frame are speech (default 35). */
  rangeDb?: number;
  /** Frames below this absolute level (dBFS) are never speech (default -60). */
  floorDb?: number;
  /** Pauses shorter than this (seconds) are bridged (default 0.3). */
  minPause?: number;
  /** Speech runs shorter than this (seconds) are dropped (default 0.05). */
  minSpeech?: number;
}

const FRAME_SECONDS = 0.02;
const HOP_SECONDS = 0.01;

/** Frame energies in dBFS (mean square), 20 ms frames every 10 ms; a last partial frame is included. */
export function frameEnergiesDb(samples: Float32Array, sampleRate: number): Float64Array {
  const frame = Math.max(1, Math.round(FRAME_SECONDS * sampleRate));
  const hop = Math.max(1, Math.round(HOP_SECONDS * sampleRate));
  const n = samples.length === 0 ? 0 : Math.max(1, Math.ceil((samples.length - frame) / hop) + 1);
  const out = new Float64Array(n);
  for (let f = 0; f < n; f++) {
    const a = f * hop;
    const b = Math.min(samples.length, a + frame);
    let sum = 0;
    for (let i = a; i < b; i++) sum += samples[i]! * samples[i]!;
    out[f] = 10 * Math.log10(sum / Math.max(1, b - a) + 1e-20);
  }
  return out;
}

/** Speech spans of a clip in seconds from its start (empty for silence). */
export function speechActivity(samples: Float32Array, sampleRate: number, o: SpeechActivityOptions = {}): Span[] {
  const rangeDb = o.rangeDb ?? 35;
  const floorDb = o.floorDb ?? -60;
  const minPause = o.minPause ?? 0.3;
  const minSpeech = o.minSpeech ?? 0.05;
  const db = frameEnergiesDb(samples, sampleRate);
  let peak = -Infinity;
  for (const v of db) peak = Math.max(peak, v);
  const threshold = Math.max(peak - rangeDb, floorDb);
  const hop = Math.round(HOP_SECONDS * sampleRate) / sampleRate;
  const frame = Math.round(FRAME_SECONDS * sampleRate) / sampleRate;
  const clipEnd = samples.length / sampleRate;
  const runs: Span[] = [];
  for (let f = 0; f < db.length; f++) {
    if (!(db[f]! >= threshold)) continue;
    const start = f * hop;
    const end = Math.min(clipEnd, f * hop + frame);
    const last = runs[runs.length - 1];
    if (last && start - last.end < minPause) last.end = end;
    else runs.push({ start, end });
  }
  return runs.filter((r) => r.end - r.start >= minSpeech);
}
