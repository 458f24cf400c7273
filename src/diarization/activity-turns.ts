// Speaker turns from frame activities: per speaker column, runs of frames whose activity is >= onset (and stays >=
// offset), gaps shorter than minGap seconds filled, turns shorter than minDuration dropped; one SpeakerTurn per run.
// Provenance: nemo.collections.asr.parts.utils.vad_utils.binarization + filtering (onset / offset hysteresis,
// pad_onset / pad_offset left out, min_duration_on / min_duration_off) as SortformerEncLabelModel's postprocessing
// (ts_vad_post_processing) applies them to each speaker's sigmoid track; default parameters are NeMo's
// "no post-processing" values (onset = offset = 0.5, nothing filled or dropped).
import type { SpeakerTurn } from './rttm.js';

export interface ActivityTurnOptions {
  /** Seconds per frame (0.08). */
  frameSeconds: number;
  /** A turn starts at a frame >= onset (default 0.5). */
  onset?: number;
  /** A turn ends at the first frame < offset (default = onset). */
  offset?: number;
  /** Silences shorter than this (seconds) inside one speaker's speech are filled (NeMo min_duration_off; default 0). */
  minGap?: number;
  /** Turns shorter than this (seconds) are dropped (NeMo min_duration_on; default 0). */
  minDuration?: number;
  /** RTTM file id and channel of the turns. */
  file: string;
  channel?: string;
  /** Speaker names by column (default spk0, spk1, ...). */
  speakers?: readonly string[];
}

/** activities: [T * S] row-major ([T, S]) values in [0, 1]. Turns sorted by start, then column. */
export function activityTurns(activities: ArrayLike<number>, numSpeakers: number, o: ActivityTurnOptions): SpeakerTurn[] {
  const S = numSpeakers;
  if (activities.length % S !== 0) throw new RangeError(`activity turns: ${activities.length} values are not a whole number of ${S}-speaker frames`);
  const T = activities.length / S;
  const onset = o.onset ?? 0.5;
  const offset = o.offset ?? onset;
  const dt = o.frameSeconds;
  const turns: SpeakerTurn[] = [];
  for (let s = 0; s < S; s++) {
    const runs: [number, number][] = [];
    let start = -1;
    for (let f = 0; f <= T; f++) {
      const v = f < T ? activities[f * S + s]! : -1;
      if (start < 0 && v >= onset) start = f;
      else if (start >= 0 && v < offset) {
        runs.push([start, f]);
        start = -1;
      }
    }
    const merged: [number, number][] = [];
    for (const r of runs) {
      const last = merged[merged.length - 1];
      if (last && (r[0] - last[1]) * dt < (o.minGap ?? 0)) last[1] = r[1];
      else merged.push([r[0], r[1]]);
    }
    const name = o.speakers?.[s] ?? `spk${s}`;
    for (const [a, b] of merged) {
      if ((b - a) * dt < (o.minDuration ?? 0)) continue;
      turns.push({ file: o.file, channel: o.channel ?? '1', start: a * dt, duration: (b - a) * dt, speaker: name, where: '' });
    }
  }
  return turns.sort((x, y) => x.start - y.start);
}
