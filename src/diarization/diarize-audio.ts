// A recording's speaker activities from a diarizer, offline (one forward pass) or streamed in pieces through
// StreamingDiarizer (each step's activities copied out and released, so memory stays bounded on long sessions), and
// its speaker turns for RTTM / scoring.
import { basename, extname } from 'node:path';
import type * as t from '../torch/index.js';
import { loadAudioAsync } from '../audio/index.js';
import { configureStreaming, StreamingEncoder } from '../streaming/index.js';
import { activityTurns, type ActivityTurnOptions } from './activity-turns.js';
import { StreamingDiarizer, type Diarizer } from './diarizer.js';
import { readDiarizationManifest } from './diarization-manifest.js';
import { readRttm, type SpeakerTurn } from './rttm.js';

export interface DiarizeAudioOptions {
  /** Stream the audio in pieces of this many seconds (null: offline). */
  streamSeconds: number | null;
  /** Streaming chunk in seconds (default: the encoder context's own chunk). */
  chunkSeconds?: number;
}

/** Activities [T * S] row-major of one mono clip at the preprocessor's rate. */
export function diarizeAudio(model: Diarizer, samples: Float32Array, o: DiarizeAudioOptions): Float32Array {
  if (o.streamSeconds === null) {
    const p = model.diarizeClip(samples);
    try {
      return Float32Array.from(p.toArray());
    } finally {
      p.dispose();
    }
  }
  const hop = model.preprocessor.geometry.hopLength / model.preprocessor.cfg.sample_rate;
  const geometry = configureStreaming(model.encoder, { hopSeconds: hop, chunkSeconds: o.chunkSeconds });
  const se = new StreamingEncoder(model.encoder, { geometry, preprocessor: model.preprocessor });
  const sd = new StreamingDiarizer(model, se);
  const parts: number[][] = [];
  const take = (xs: t.Tensor[]): void => {
    for (const x of xs) {
      parts.push(x.toArray());
      x.dispose();
    }
  };
  let state = sd.initState(1);
  try {
    const piece = Math.max(1, Math.round(o.streamSeconds * model.preprocessor.cfg.sample_rate));
    for (let at = 0; at < samples.length; at += piece) {
      const r = sd.pushAudio([samples.subarray(at, at + piece)], state);
      state = r.state;
      take(r.activities);
    }
    const last = sd.finish(state);
    state = { streams: [] };
    take(last.activities);
  } finally {
    sd.disposeState(state);
    se.dispose();
  }
  return Float32Array.from(parts.flat());
}

/** The clip's speaker turns for RTTM file id `file`. */
export function diarizeTurns(
  model: Diarizer,
  samples: Float32Array,
  file: string,
  o: DiarizeAudioOptions & Omit<ActivityTurnOptions, 'frameSeconds' | 'file'>,
): SpeakerTurn[] {
  return activityTurns(diarizeAudio(model, samples, o), model.numSpeakers, { ...o, frameSeconds: model.frameSeconds, file });
}

/**
 * Hypothesis turns for every entry of a diarization manifest, on the reference's time line (the entry's offset added)
 * and under the reference RTTM's file id when it names one recording (else the audio file's name, NeMo's uniq_id).
 */
export async function diarizeManifest(
  model: Diarizer,
  manifest: string,
  o: DiarizeAudioOptions & Omit<ActivityTurnOptions, 'frameSeconds' | 'file'>,
  onEntry?: (file: string, turns: SpeakerTurn[]) => void,
): Promise<SpeakerTurn[]> {
  const out: SpeakerTurn[] = [];
  for (const e of readDiarizationManifest(manifest)) {
    const refFiles = e.rttmFilepath ? new Set(readRttm(e.rttmFilepath).map((x) => x.file)) : new Set<string>();
    const file = refFiles.size === 1 ? [...refFiles][0]! : basename(e.audioFilepath, extname(e.audioFilepath));
    const audio = await loadAudioAsync(e.audioFilepath, {
      targetSampleRate: model.preprocessor.cfg.sample_rate,
      offset: e.offset,
      duration: e.duration ?? undefined,
    });
    const turns = diarizeTurns(model, audio.samples, file, o).map((x) => ({ ...x, start: x.start + e.offset }));
    onEntry?.(file, turns);
    out.push(...turns);
  }
  return out;
}
