// Compressed audio through npm's WebAssembly builds of the reference decoders: MP3 (libmpg123, mpg123-decoder), Opus in
// Ogg (libopus, ogg-opus-decoder), Vorbis in Ogg (libvorbis, @wasm-audio-decoders/ogg-vorbis) and Opus in WebM (libopus,
// opus-decoder, fed by webm.ts). These decoders instantiate their WebAssembly asynchronously and Vorbis decodes only
// through promises, so this path is async; each file gets a fresh decoder (no state carried between files), freed after.
// Provenance: what torchaudio/soundfile give NeMo's AudioSegment.from_file for these formats (ffmpeg/libsndfile decoding
// through the same reference libraries), float32 in [-1, 1] at the stream's own rate (48 kHz for Opus).
import { MPEGDecoder } from 'mpg123-decoder';
import { OggOpusDecoder } from 'ogg-opus-decoder';
import { OggVorbisDecoder } from '@wasm-audio-decoders/ogg-vorbis';
import type { DecodedAudio } from './wav.js';
import { quietly, withDecoder } from './wasm-decoder.js';
import { checkMpegEnd, checkOggEnd } from './stream-ends.js';
import type { AudioFormat } from './sniff.js';
import { decodeWebmOpus } from './webm.js';
import { applyOpusGain, lastOggGranule, oggOpusHead } from './opus-head.js';

/** MPEG audio layer I-III (gapless: the LAME/Xing encoder delay and padding are trimmed, as ffmpeg does). */
export function decodeMp3(bytes: Uint8Array, path: string): Promise<DecodedAudio> {
  checkMpegEnd(bytes, path);
  return quietly(() =>
    withDecoder(
      () => new MPEGDecoder({ enableGapless: true }),
      (d) => d.decode(bytes),
      path,
      'MPEG audio',
    ),
  ).then((a) => (isDuplicatedMono(a) ? { sampleRate: a.sampleRate, channels: [a.channels[0]!] } : a));
}

/** mpg123-decoder always returns two channels; a mono file comes back as two equal ones. */
function isDuplicatedMono(a: DecodedAudio): boolean {
  if (a.channels.length !== 2) return false;
  const [l, r] = a.channels as [Float32Array, Float32Array];
  for (let i = 0; i < l.length; i++) if (l[i] !== r[i]) return false;
  return true;
}

/** Opus in Ogg at 48 kHz: pre-skip, end trimming by the last granule position and the output gain, as libopusfile does. */
export async function decodeOggOpus(bytes: Uint8Array, path: string): Promise<DecodedAudio> {
  checkOggEnd(bytes, path);
  const head = oggOpusHead(bytes, path);
  const a = await quietly(() =>
    withDecoder(
      () => new OggOpusDecoder(),
      (d) => d.decodeFile(bytes),
      path,
      'Ogg Opus',
    ),
  );
  // ogg-opus-decoder (1.7.5) leaves the end padding of some streams (e.g. a single data page); RFC 7845 §4.5 trims the
  // output to the last granule position less the pre-skip, as libopusfile and ffmpeg do
  const granule = lastOggGranule(bytes);
  const n = a.channels[0]!.length;
  const keep = granule === null ? n : granule - head.preSkip;
  return applyOpusGain({ sampleRate: a.sampleRate, channels: keep > 0 && keep < n ? a.channels.map((c) => c.subarray(0, keep)) : a.channels }, head.gainDb);
}

/** Vorbis in Ogg at the stream's rate (end trimmed by the last granule position). */
export function decodeOggVorbis(bytes: Uint8Array, path: string): Promise<DecodedAudio> {
  checkOggEnd(bytes, path);
  return quietly(() =>
    withDecoder(
      () => new OggVorbisDecoder(),
      (d) => d.decodeFile(bytes),
      path,
      'Ogg Vorbis',
    ),
  );
}

/** Decodes the compressed formats; WAV and FLAC are decoded synchronously elsewhere (load-audio.ts). */
export function decodeCompressed(format: Exclude<AudioFormat, 'wav' | 'flac'>, bytes: Uint8Array, path: string): Promise<DecodedAudio> {
  switch (format) {
    case 'mp3':
      return decodeMp3(bytes, path);
    case 'ogg-opus':
      return decodeOggOpus(bytes, path);
    case 'ogg-vorbis':
      return decodeOggVorbis(bytes, path);
    case 'webm':
      return decodeWebmOpus(bytes, path);
  }
}
