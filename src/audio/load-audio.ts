// One entry point for audio files: WAV or FLAC by magic bytes, mixed to mono, optionally resampled.
// Provenance: nemo.collections.asr.parts.preprocessing.segment.AudioSegment.from_file (offset/duration, mono mean, target_sr).
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { AudioFileError, decodeWav, mixToMono, type AudioWindow, type DecodedAudio, type MonoAudio } from './wav.js';
import { decodeFlac } from './flac.js';
import { resample } from './resample.js';

export type AudioFormat = 'wav' | 'flac';

export interface LoadAudioOptions extends AudioWindow {
  /** Resample to this rate (Hz) when the file's rate differs. */
  targetSampleRate?: number;
}

/** Identifies the container from the first bytes ('RIFF....WAVE', 'fLaC', or an ID3v2 tag before 'fLaC'). */
export function sniffAudioFormat(path: string): AudioFormat {
  if (!existsSync(path)) throw new AudioFileError(path, 'missing', 'no such file');
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(12);
  let got: number;
  try {
    got = readSync(fd, head, 0, 12, 0);
  } finally {
    closeSync(fd);
  }
  const tag = head.toString('latin1', 0, 4);
  if (got >= 12 && tag === 'RIFF' && head.toString('latin1', 8, 12) === 'WAVE') return 'wav';
  if (got >= 4 && (tag === 'fLaC' || head.toString('latin1', 0, 3) === 'ID3')) return 'flac';
  if (got === 0) throw new AudioFileError(path, 'empty', 'zero-length clip (empty file)');
  throw new AudioFileError(path, 'format', 'unrecognised audio format (expected RIFF/WAVE or FLAC)');
}

/** Decodes all channels (no mixing, no resampling). */
export function decodeAudio(path: string, w: AudioWindow = {}): DecodedAudio {
  return sniffAudioFormat(path) === 'wav' ? decodeWav(path, w) : decodeFlac(path, w);
}

/** Loads mono float32 audio: the offset/duration window at the file's rate, mixed by the mean, then resampled. */
export function loadAudio(path: string, o: LoadAudioOptions = {}): MonoAudio {
  const d = decodeAudio(path, o);
  let samples = mixToMono(d.channels);
  let sampleRate = d.sampleRate;
  if (o.targetSampleRate !== undefined && o.targetSampleRate !== sampleRate) {
    samples = resample(samples, sampleRate, o.targetSampleRate);
    sampleRate = o.targetSampleRate;
  }
  return { sampleRate, samples };
}
