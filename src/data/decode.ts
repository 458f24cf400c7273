// Decoding one manifest entry to mono float32 at the target rate, with bad audio turned into DataErrors
// that name the file and the manifest line. Uses src/audio's loaders (every supported format, by content; mono mean,
// resampling); a tarred dataset's entry names a member of a tar shard, whose bytes are read by position.
import { closeSync, openSync, readSync } from 'node:fs';
import { AudioFileError, type MonoAudio } from '../audio/wav.js';
import { loadAudioAsync, loadAudioBytes } from '../audio/load-audio.js';
import { DataError, type BadDataReason } from './data-error.js';

/** Where a tarred entry's audio lies: a member of a tar shard (its data bytes at [start, start + size)). */
export interface TarMemberRef {
  shard: string;
  member: string;
  start: number;
  size: number;
  /** The bytes themselves, for shards that cannot be read by position (gzip). */
  bytes?: Uint8Array;
}

export interface AudioRef {
  path: string;
  /** Seconds. */
  offset: number;
  /** Seconds; null or 0 = to the end. */
  duration: number | null;
  /** "manifest.json:12" (or the path for entries without a manifest line). */
  where: string;
  /** Tarred datasets: the member holding the audio (`path` is then the manifest's name for it). */
  member?: TarMemberRef;
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

/** The member's bytes, read by position from its shard. */
export function readMember(m: TarMemberRef): Uint8Array {
  if (m.bytes) return m.bytes;
  const name = `${m.shard}:${m.member}`;
  let fd: number;
  try {
    fd = openSync(m.shard, 'r');
  } catch (e) {
    throw new AudioFileError(name, 'missing', `cannot open the shard: ${(e as Error).message}`);
  }
  try {
    const b = Buffer.allocUnsafe(m.size);
    let got = 0;
    while (got < m.size) {
      const n = readSync(fd, b, got, m.size - got, m.start + got);
      if (n === 0) break;
      got += n;
    }
    if (got < m.size) throw new AudioFileError(name, 'truncated', `the shard ends ${m.size - got} bytes into the member's ${m.size} (shard changed?)`);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** Human name of `ref`'s audio: the file, or "shard.tar:member". */
export function audioName(ref: AudioRef): string {
  return ref.member ? `${ref.member.shard}:${ref.member.member}` : ref.path;
}

function load(ref: AudioRef, sampleRate: number): Promise<MonoAudio> {
  const o = { offset: ref.offset, duration: ref.duration ?? 0, targetSampleRate: sampleRate };
  return ref.member ? loadAudioBytes(readMember(ref.member), audioName(ref), o) : loadAudioAsync(ref.path, o);
}

/** Decodes `ref` (offset/duration window) to mono float32 at `o.sampleRate`; throws DataError on bad audio. */
export async function decodeAudio(ref: AudioRef, o: DecodeOptions): Promise<Float32Array> {
  const name = audioName(ref);
  let decoded: MonoAudio;
  try {
    decoded = await load(ref, o.sampleRate);
  } catch (e) {
    if (e instanceof AudioFileError) throw new DataError(reasonOf(e), ref.where, e.message);
    if (e instanceof DataError) throw e;
    throw new DataError('bad_audio', ref.where, `${name}: ${(e as Error).message}`);
  }
  const { sampleRate: sr, samples } = decoded;
  if (samples.length === 0) throw new DataError('empty_audio', ref.where, `${name}: zero-length clip`);
  if (ref.duration !== null && ref.duration > 0) {
    const expected = Math.trunc(ref.duration * sr);
    const tol = Math.round((o.durationTolerance ?? 0.05) * sr);
    if (samples.length < expected - tol) {
      throw new DataError(
        'duration_mismatch',
        ref.where,
        `${name}: the manifest asks for ${ref.duration}s from offset ${ref.offset}s but the file has only ${(samples.length / sr).toFixed(3)}s there`,
      );
    }
  }
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i]!)) throw new DataError('bad_audio', ref.where, `${name}: non-finite sample at ${i}`);
  }
  return samples;
}
