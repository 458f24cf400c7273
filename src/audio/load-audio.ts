// One entry point for audio files: the format by its content (sniff.ts), mixed to mono, optionally resampled.
// WAV and FLAC decode synchronously (loadAudio); MP3, Opus (Ogg, WebM) and Vorbis (Ogg) through WebAssembly decoders
// that only work asynchronously (loadAudioAsync, which reads every format). Bytes already in memory (a tar member)
// go through loadAudioBytes.
// Provenance: nemo.collections.asr.parts.preprocessing.segment.AudioSegment.from_file (offset/duration, mono mean, target_sr).
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { decodeCompressed } from './compressed.js';
import { decodeFlac, decodeFlacBuffer } from './flac.js';
import { resample } from './resample.js';
import { FORMAT_NAMES, sniffAudio, sniffAudioBytes, type AudioFormat } from './sniff.js';
import { AudioFileError, decodeWav, decodeWavBuffer, mixToMono, windowFrames, type AudioWindow, type DecodedAudio, type MonoAudio } from './wav.js';

export type { AudioFormat } from './sniff.js';

export interface LoadAudioOptions extends AudioWindow {
  /** Resample to this rate (Hz) when the file's rate differs. */
  targetSampleRate?: number;
}

/** Identifies the format from the file's first bytes (see sniff.ts); throws AudioFileError naming an unsupported one. */
export function sniffAudioFormat(path: string): AudioFormat {
  if (!existsSync(path)) throw new AudioFileError(path, 'missing', 'no such file');
  const fd = openSync(path, 'r');
  try {
    return sniffAudio((position, length) => {
      const b = Buffer.alloc(length);
      return b.subarray(0, readSync(fd, b, 0, length, position));
    }, path);
  } finally {
    closeSync(fd);
  }
}

const isSync = (f: AudioFormat): f is 'wav' | 'flac' => f === 'wav' || f === 'flac';

function needsAsync(path: string, f: AudioFormat): never {
  throw new AudioFileError(path, 'unsupported', `${FORMAT_NAMES[f]} decodes only asynchronously: use loadAudioAsync / decodeAudioAsync`);
}

/** The offset/duration window of whole decoded audio (compressed formats decode the whole stream first). */
function cut(d: DecodedAudio, path: string, w: AudioWindow): DecodedAudio {
  if (!w.offset && !w.duration) return d;
  const n = d.channels[0]!.length;
  const { start, count } = windowFrames(path, n, d.sampleRate, w);
  if (count <= 0)
    throw new AudioFileError(path, 'empty', `zero-length clip: offset ${w.offset ?? 0}s is at or past the end (${(n / d.sampleRate).toFixed(3)}s)`);
  return { sampleRate: d.sampleRate, channels: d.channels.map((c) => c.subarray(start, start + count)) };
}

/** Decodes all channels (no mixing, no resampling) of a WAV or FLAC file; compressed formats need decodeAudioAsync. */
export function decodeAudio(path: string, w: AudioWindow = {}): DecodedAudio {
  const f = sniffAudioFormat(path);
  if (f === 'wav') return decodeWav(path, w);
  if (f === 'flac') return decodeFlac(path, w);
  return needsAsync(path, f);
}

/** Decodes audio bytes of any supported format; `path` names them in errors (e.g. "shard.tar:member.mp3"). */
export async function decodeAudioBytes(bytes: Uint8Array, path: string, w: AudioWindow = {}): Promise<DecodedAudio> {
  const f = sniffAudioBytes(bytes, path);
  if (f === 'wav') return decodeWavBuffer(bytes, path, w);
  if (f === 'flac') return decodeFlacBuffer(bytes, path, w);
  return cut(await decodeCompressed(f, bytes, path), path, w);
}

/** Decodes a file of any supported format (WAV and FLAC as decodeAudio does, reading only the window of a WAV). */
export async function decodeAudioAsync(path: string, w: AudioWindow = {}): Promise<DecodedAudio> {
  const f = sniffAudioFormat(path);
  if (isSync(f)) return decodeAudio(path, w);
  return cut(await decodeCompressed(f, readFileSync(path), path), path, w);
}

function toMono(d: DecodedAudio, o: LoadAudioOptions): MonoAudio {
  let samples = mixToMono(d.channels);
  let sampleRate = d.sampleRate;
  if (o.targetSampleRate !== undefined && o.targetSampleRate !== sampleRate) {
    samples = resample(samples, sampleRate, o.targetSampleRate);
    sampleRate = o.targetSampleRate;
  }
  return { sampleRate, samples };
}

/** Loads mono float32 audio from WAV or FLAC: the offset/duration window at the file's rate, mixed by the mean, then resampled. */
export function loadAudio(path: string, o: LoadAudioOptions = {}): MonoAudio {
  return toMono(decodeAudio(path, o), o);
}

/** loadAudio for every supported format (MP3, Opus, Vorbis too). */
export async function loadAudioAsync(path: string, o: LoadAudioOptions = {}): Promise<MonoAudio> {
  return toMono(await decodeAudioAsync(path, o), o);
}

/** loadAudioAsync over bytes in memory; `path` names them in errors. */
export async function loadAudioBytes(bytes: Uint8Array, path: string, o: LoadAudioOptions = {}): Promise<MonoAudio> {
  return toMono(await decodeAudioBytes(bytes, path, o), o);
}
