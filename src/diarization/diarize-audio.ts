// A recording's speaker activities from a diarizer, offline (one forward pass) or streamed in pieces through
// StreamingDiarizer, and its speaker turns for RTTM / scoring. A file is streamed straight from disk
// (src/audio/audio-file-stream.ts): WAV/FLAC read in blocks, each step's activities copied out and released, so the
// memory of a streamed session does not grow with its length except for the activities themselves (num_spks float32
// per 80 ms frame: 4 speakers = 200 bytes per second, 0.7 MiB per hour). Offline passes are refused, before anything is
// allocated, when one self-attention score tensor [n_heads, T', T'] would pass a limit (it grows with the square).
import { basename, extname } from 'node:path';
import type * as t from '../torch/index.js';
import { loadAudioAsync, openAudioStream, type AudioWindow } from '../audio/index.js';
import { configureStreaming, StreamingEncoder, type StreamState } from '../streaming/index.js';
import { activityTurns, type ActivityTurnOptions } from './activity-turns.js';
import { StreamingDiarizer, type Diarizer } from './diarizer.js';
import { readDiarizationManifest } from './diarization-manifest.js';
import { readRttm, type SpeakerTurn } from './rttm.js';

/** Default limit of one offline attention score tensor: 1 GiB (about 11 min of audio with 4 heads, 7.7 min with 8). */
export const DEFAULT_OFFLINE_ATTENTION_BYTES = 2 ** 30;

export interface DiarizeAudioOptions {
  /** Stream the audio in pieces of this many seconds (null: offline). */
  streamSeconds: number | null;
  /** Streaming chunk in seconds (default: the encoder context's own chunk). */
  chunkSeconds?: number;
  /** Offline: refuse audio whose attention scores [n_heads, T', T'] float32 would take more bytes than this. */
  offlineAttentionBytes?: number;
  /** Streaming: called after each piece with the samples pushed so far (progress, memory checks). */
  onPiece?: (samplesPushed: number) => void;
}

/** An offline pass refused because the audio is too long for one forward pass; names the file (and manifest line). */
export class SessionTooLongError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'SessionTooLongError';
  }
}

/** Bytes of one offline self-attention score tensor [n_heads, T', T'] float32 for `samples` samples of audio. */
export function offlineAttentionBytes(model: Diarizer, samples: number): number {
  const frames = Math.ceil(samples / model.preprocessor.cfg.sample_rate / model.frameSeconds);
  return model.encoder.config.n_heads * frames * frames * 4;
}

/** Throws SessionTooLongError naming `what` when `samples` of audio are too long for one offline pass. */
export function checkOfflineLength(model: Diarizer, samples: number, what: string, limitBytes = DEFAULT_OFFLINE_ATTENTION_BYTES): void {
  const bytes = offlineAttentionBytes(model, samples);
  if (bytes <= limitBytes) return;
  const heads = model.encoder.config.n_heads;
  const frames = Math.ceil(samples / model.preprocessor.cfg.sample_rate / model.frameSeconds);
  const maxSeconds = Math.floor(Math.sqrt(limitBytes / (4 * heads)) * model.frameSeconds);
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
  throw new SessionTooLongError(
    `${what}: ${(samples / model.preprocessor.cfg.sample_rate).toFixed(1)} s is too long for one offline pass: its self-attention scores ` +
      `alone take ${heads} heads x ${frames}^2 frames x 4 bytes = ${mib(bytes)} per layer, above the limit of ${mib(limitBytes)} ` +
      `(offline sessions up to ${maxSeconds} s). Use --streaming (memory bounded at any length) or raise the limit (--offline-limit-mb)`,
  );
}

/** Activities [T * S] row-major, appended frame by frame (capacity doubles: at most 2 x T x S floats). */
class ActivityBuffer {
  private data = new Float32Array(1024);
  private used = 0;

  append(x: t.Tensor): void {
    const v = x.data() as Float32Array | Float64Array; // sigmoid activities: float32 (float64 in a float64 model)
    if (this.used + v.length > this.data.length) {
      const grown = new Float32Array(Math.max(2 * this.data.length, this.used + v.length));
      grown.set(this.data.subarray(0, this.used));
      this.data = grown;
    }
    this.data.set(v, this.used);
    this.used += v.length;
  }

  values(): Float32Array {
    return this.data.slice(0, this.used);
  }
}

/** One stream through a StreamingDiarizer: push pieces, then finish; tensors are released as they come. */
class DiarizerRun {
  private readonly se: StreamingEncoder;
  private readonly sd: StreamingDiarizer;
  private state: StreamState;
  private readonly acts = new ActivityBuffer();
  pushed = 0;

  constructor(model: Diarizer, chunkSeconds: number | undefined) {
    const hop = model.preprocessor.geometry.hopLength / model.preprocessor.cfg.sample_rate;
    const geometry = configureStreaming(model.encoder, { hopSeconds: hop, chunkSeconds });
    this.se = new StreamingEncoder(model.encoder, { geometry, preprocessor: model.preprocessor });
    try {
      this.sd = new StreamingDiarizer(model, this.se);
      this.state = this.sd.initState(1);
    } catch (e) {
      this.se.dispose();
      throw e;
    }
  }

  push(piece: Float32Array): void {
    const r = this.sd.pushAudio([piece], this.state);
    this.state = r.state;
    this.pushed += piece.length;
    this.take(r.activities);
  }

  /** The whole stream's activities; everything is released. */
  finish(): Float32Array {
    const last = this.sd.finish(this.state);
    this.state = { streams: [] };
    this.take(last.activities);
    return this.acts.values();
  }

  /** Releases the state and the encoder's stream (after finish, or on an error). */
  dispose(): void {
    this.sd.disposeState(this.state);
    this.state = { streams: [] };
    this.se.dispose();
  }

  private take(xs: t.Tensor[]): void {
    try {
      for (const x of xs) this.acts.append(x);
    } finally {
      for (const x of xs) x.dispose();
    }
  }
}

/** Activities [T * S] row-major of one mono clip at the preprocessor's rate. */
export function diarizeAudio(model: Diarizer, samples: Float32Array, o: DiarizeAudioOptions): Float32Array {
  if (o.streamSeconds === null) return offlineActivities(model, samples, `clip of ${samples.length} samples`, o);
  const run = new DiarizerRun(model, o.chunkSeconds);
  try {
    const piece = pieceSamples(model, o.streamSeconds);
    for (let at = 0; at < samples.length; at += piece) {
      run.push(samples.subarray(at, at + piece));
      o.onPiece?.(run.pushed);
    }
    return run.finish();
  } finally {
    run.dispose();
  }
}

/** Activities of mono pieces at the preprocessor's rate as they arrive (a file's openAudioStream, a socket, ...). */
export async function diarizePieces(
  model: Diarizer,
  pieces: AsyncIterable<Float32Array> | Iterable<Float32Array>,
  o: Omit<DiarizeAudioOptions, 'streamSeconds'>,
): Promise<Float32Array> {
  const run = new DiarizerRun(model, o.chunkSeconds);
  try {
    for await (const p of pieces) {
      run.push(p);
      o.onPiece?.(run.pushed);
    }
    return run.finish();
  } finally {
    run.dispose();
  }
}

export interface DiarizeFileOptions extends DiarizeAudioOptions, AudioWindow {
  /** Where the file was named, for errors ("manifest.json:3"). */
  where?: string;
}

/**
 * Activities of an audio file (an offset/duration window of it). Streaming reads the file in pieces of streamSeconds
 * (bounded memory; see openAudioStream); offline checks the length from the header first, then loads the clip.
 */
export async function diarizeFile(model: Diarizer, path: string, o: DiarizeFileOptions): Promise<Float32Array> {
  const rate = model.preprocessor.cfg.sample_rate;
  const window = { offset: o.offset, duration: o.duration };
  const what = o.where ? `${path} (${o.where})` : path;
  if (o.streamSeconds !== null) {
    const stream = openAudioStream(path, { ...window, targetSampleRate: rate, pieceSamples: pieceSamples(model, o.streamSeconds) });
    return diarizePieces(model, stream, o);
  }
  // the header only (compressed formats: no length until decoded, and no size limit here: offline decodes whole anyway)
  const header = openAudioStream(path, { ...window, targetSampleRate: rate, pieceSamples: 1, maxWholeFileBytes: Number.POSITIVE_INFINITY });
  if (header.numSamples !== null) checkOfflineLength(model, header.numSamples, what, o.offlineAttentionBytes);
  const audio = await loadAudioAsync(path, { ...window, targetSampleRate: rate });
  return offlineActivities(model, audio.samples, what, o);
}

function offlineActivities(model: Diarizer, samples: Float32Array, what: string, o: DiarizeAudioOptions): Float32Array {
  checkOfflineLength(model, samples.length, what, o.offlineAttentionBytes);
  const p = model.diarizeClip(samples);
  try {
    return Float32Array.from(p.data() as Float32Array | Float64Array);
  } finally {
    p.dispose();
  }
}

function pieceSamples(model: Diarizer, seconds: number): number {
  return Math.max(1, Math.round(seconds * model.preprocessor.cfg.sample_rate));
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
 * Streaming reads each recording from its file in pieces; offline refuses recordings too long for one pass, naming
 * the file and the manifest line.
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
    const window = { offset: e.offset, duration: e.duration ?? undefined };
    const activities = await diarizeFile(model, e.audioFilepath, { ...o, ...window, where: e.where });
    const turns = activityTurns(activities, model.numSpeakers, { ...o, frameSeconds: model.frameSeconds, file }).map((x) => ({
      ...x,
      start: x.start + e.offset,
    }));
    onEntry?.(file, turns);
    out.push(...turns);
  }
  return out;
}
