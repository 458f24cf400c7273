// Frame-level speaker activity targets from RTTM turns at the encoder's frame rate (80 ms for a 10 ms hop and
// subsampling 8), speakers in order of first arrival: column 0 is the speaker whose first turn starts earliest.
// Provenance: nemo.collections.asr.parts.utils.asr_multispeaker_utils.speaker_to_target (turns sorted by start,
// speakers indexed by first appearance), get_mask_from_segments (a 0/1 mask at the feature rate: frames
// int(start * fps) .. int(end * fps) - 1), get_soft_mask (encoder frame i is the mean of feature frames
// stride*i - 1 - stride/2 .. stride*i - 1 + stride/2, frame 0 from feature 0, the last frame to the end) and the
// binarisation soft_mask > soft_label_thres (0.5).
// Differences from NeMo: the frame count is the caller's (the encoder's output length for the clip) instead of
// ceil(ceil(samples / hop) / stride); NeMo drops speakers past num_speakers silently (ignore_num_spk_mismatch), here
// that is an error naming the recording unless `extraSpeakers: 'drop'`.
import type { SpeakerTurn } from './rttm.js';
import { MAX_SPEAKERS } from './sort-loss.js';

export interface FrameTargetOptions {
  /** Encoder frames to fill (the encoder's output length for the recording). */
  frames: number;
  /** Feature frames per second (1 / window_stride: 100). */
  featureRate: number;
  /** Feature frames per encoder frame (subsampling_factor: 8). */
  stride: number;
  /** Columns (default 4, NeMo max_num_of_spks). */
  maxSpeakers?: number;
  /** Recording start within the turns' time line (seconds; NeMo cut offset), default 0. */
  offset?: number;
  /** Soft targets (the mean activity over each frame's window) instead of 0/1 (NeMo soft_targets), default false. */
  soft?: boolean;
  /** Binarisation threshold on the soft targets (NeMo soft_label_thres), default 0.5. */
  threshold?: number;
  /** More speakers than columns: 'error' (default) or 'drop' the later arrivals (NeMo's ignore_num_spk_mismatch). */
  extraSpeakers?: 'error' | 'drop';
}

export interface FrameTargets {
  /** [frames * maxSpeakers] row-major ([T, S]): activity of arrival-ordered speaker s in encoder frame t. */
  values: Float32Array;
  frames: number;
  maxSpeakers: number;
  /** RTTM speaker names by column (first arrival first); shorter than maxSpeakers when fewer talk. */
  speakers: string[];
}

/** Speaker names in order of their first turn's start (ties keep the turns' order; zero-length turns do not count). */
export function arrivalOrder(turns: readonly SpeakerTurn[]): string[] {
  const sorted = turns
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => t.duration > 0)
    .sort((a, b) => a.t.start - b.t.start || a.i - b.i);
  const seen: string[] = [];
  for (const { t } of sorted) if (!seen.includes(t.speaker)) seen.push(t.speaker);
  return seen;
}

/** The arrival-ordered [T, S] activity targets of one recording's turns. */
export function frameTargets(turns: readonly SpeakerTurn[], o: FrameTargetOptions): FrameTargets {
  const S = o.maxSpeakers ?? MAX_SPEAKERS;
  const { frames, stride, featureRate } = o;
  if (!(Number.isInteger(frames) && frames >= 0)) throw new RangeError(`frame targets: frames must be a non-negative integer, got ${frames}`);
  if (!(Number.isInteger(stride) && stride >= 1)) throw new RangeError(`frame targets: stride must be a positive integer, got ${stride}`);
  if (!(featureRate > 0)) throw new RangeError(`frame targets: featureRate must be positive, got ${featureRate}`);
  const offset = o.offset ?? 0;
  let speakers = arrivalOrder(turns);
  if (speakers.length > S) {
    if ((o.extraSpeakers ?? 'error') === 'error') {
      const where = turns.find((t) => t.speaker === speakers[S])?.where || turns[0]?.file || 'the recording';
      throw new RangeError(`${where}: ${speakers.length} speakers (${speakers.join(', ')}) but the model has ${S} speaker outputs`);
    }
    speakers = speakers.slice(0, S);
  }
  // feature-rate 0/1 mask, long enough to cover every encoder frame's window
  const featFrames = Math.max(frames * stride, 1);
  const mask = new Float32Array(featFrames * S);
  for (const t of turns) {
    const s = speakers.indexOf(t.speaker);
    if (s < 0) continue;
    const a = Math.max(0, Math.trunc((t.start - offset) * featureRate));
    const b = Math.min(featFrames, Math.trunc((t.start + t.duration - offset) * featureRate));
    for (let f = a; f < b; f++) mask[f * S + s] = 1;
  }
  const values = new Float32Array(frames * S);
  const half = Math.trunc(stride / 2);
  const threshold = o.threshold ?? 0.5;
  for (let i = 0; i < frames; i++) {
    const from = i === 0 ? 0 : Math.max(0, stride * i - 1 - half);
    const to = i === frames - 1 ? featFrames - 1 : Math.min(featFrames - 1, stride * i - 1 + half);
    for (let s = 0; s < S; s++) {
      let sum = 0;
      for (let f = from; f <= to; f++) sum += mask[f * S + s]!;
      const mean = sum / (to - from + 1);
      values[i * S + s] = o.soft ? mean : mean > threshold ? 1 : 0;
    }
  }
  return { values, frames, maxSpeakers: S, speakers };
}
