// Audio format detection from the content (never the file name): the magic bytes of each container, and for Ogg the
// codec of the first packet. Formats streamnest cannot decode are named in the error ("Ogg FLAC", "AAC in MP4", ...).
// Provenance: the signatures libsndfile/ffmpeg probe (RIFF/WAVE, fLaC, ID3v2 + MPEG frame sync, OggS + OpusHead /
// \x01vorbis, EBML 1A45DFA3).
import { AudioFileError } from './wav.js';

/** Formats streamnest decodes: WAV and FLAC synchronously, the compressed ones through WebAssembly decoders. */
export type AudioFormat = 'wav' | 'flac' | 'mp3' | 'ogg-opus' | 'ogg-vorbis' | 'webm';

/** Human names for messages. */
export const FORMAT_NAMES: Record<AudioFormat, string> = {
  wav: 'WAV',
  flac: 'FLAC',
  mp3: 'MPEG audio (MP3)',
  'ogg-opus': 'Opus in Ogg',
  'ogg-vorbis': 'Vorbis in Ogg',
  webm: 'WebM/Matroska',
};

/** Positioned reads of the file or buffer being sniffed: up to `length` bytes at `position` (fewer at the end). */
export type ReadAt = (position: number, length: number) => Uint8Array;

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, Math.min(to, b.length)));

/** An MPEG audio frame header (layer I-III, any version) at `p`: sync, valid layer, version, bitrate and rate indices. */
export function isMpegFrameHeader(b: Uint8Array, p = 0): boolean {
  if (p + 4 > b.length || b[p] !== 0xff || (b[p + 1]! & 0xe0) !== 0xe0) return false;
  const version = (b[p + 1]! >> 3) & 3;
  const layer = (b[p + 1]! >> 1) & 3;
  const bitrate = b[p + 2]! >> 4;
  const rate = (b[p + 2]! >> 2) & 3;
  return version !== 1 && layer !== 0 && bitrate !== 15 && rate !== 3;
}

/** Length of an ID3v2 tag at the start of `b` (10-byte header + syncsafe size + optional footer), or 0. */
export function id3v2Length(b: Uint8Array): number {
  if (b.length < 10 || ascii(b, 0, 3) !== 'ID3') return 0;
  const size = ((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f);
  return 10 + size + (b[5]! & 0x10 ? 10 : 0);
}

function unsupported(path: string, found: string): never {
  throw new AudioFileError(path, 'unsupported', `${found}: not supported (streamnest reads WAV, FLAC, MP3, Opus in Ogg or WebM, and Vorbis in Ogg)`);
}

/** The codec of an Ogg stream from its first page's first packet. */
function oggCodec(head: Uint8Array, path: string): AudioFormat {
  if (head.length < 28) throw new AudioFileError(path, 'truncated', 'truncated Ogg stream (the first page header is cut off)');
  const packet = 27 + head[26]!;
  const tag = ascii(head, packet, packet + 8);
  if (tag === 'OpusHead') return 'ogg-opus';
  if (tag.slice(0, 7) === '\x01vorbis') return 'ogg-vorbis';
  if (tag.slice(0, 5) === '\x7fFLAC') return unsupported(path, 'Ogg FLAC');
  if (tag === 'Speex   ') return unsupported(path, 'Speex in Ogg');
  if (tag.slice(0, 7) === '\x80theora') return unsupported(path, 'Theora video in Ogg');
  if (packet + 8 > head.length) throw new AudioFileError(path, 'truncated', 'truncated Ogg stream (the first packet is cut off)');
  return unsupported(path, `Ogg with an unknown codec (first packet ${JSON.stringify(tag)})`);
}

/** Names the containers and codecs that are recognised but not decoded; null when nothing matches. */
function unsupportedName(h: Uint8Array): string | null {
  const t4 = ascii(h, 0, 4);
  if (t4 === 'RF64') return 'RF64 WAV';
  if (t4 === 'RIFF') return `RIFF/${ascii(h, 8, 12)} (not WAVE)`;
  if (ascii(h, 4, 8) === 'ftyp') return `AAC in MP4 (brand '${ascii(h, 8, 12).trim()}', MP4/M4A container)`;
  if (t4 === 'FORM' && ['AIFF', 'AIFC'].includes(ascii(h, 8, 12))) return ascii(h, 8, 12);
  if (t4 === 'caff') return 'Core Audio Format (CAF)';
  if (t4 === 'wvpk') return 'WavPack';
  if (t4 === 'MAC ') return "Monkey's Audio";
  if (t4 === 'MPCK' || ascii(h, 0, 3) === 'MP+') return 'Musepack';
  if (t4 === '.snd') return 'Sun/NeXT AU';
  if (ascii(h, 0, 5) === '#!AMR') return 'AMR';
  if (h.length >= 4 && h[0] === 0x30 && h[1] === 0x26 && h[2] === 0xb2 && h[3] === 0x75) return 'ASF/WMA';
  if (h.length >= 2 && h[0] === 0x0b && h[1] === 0x77) return 'AC-3';
  if (h.length >= 2 && h[0] === 0xff && (h[1]! & 0xf6) === 0xf0) return 'AAC in ADTS';
  return null;
}

/** The format of the audio behind `read` (a file or a buffer named `path`); throws AudioFileError naming what was found. */
export function sniffAudio(read: ReadAt, path: string): AudioFormat {
  const head = read(0, 64);
  if (head.length === 0) throw new AudioFileError(path, 'empty', 'zero-length clip (empty file)');
  const t4 = ascii(head, 0, 4);
  if (head.length >= 12 && t4 === 'RIFF' && ascii(head, 8, 12) === 'WAVE') return 'wav';
  if (t4 === 'fLaC') return 'flac';
  if (t4 === 'OggS') return oggCodec(head, path);
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'webm';
  if (isMpegFrameHeader(head)) return 'mp3';
  const tag = id3v2Length(head);
  if (tag > 0) {
    const after = read(tag, 4);
    if (after.length === 0) throw new AudioFileError(path, 'truncated', `an ID3v2 tag of ${tag} bytes and no audio after it (truncated?)`);
    if (ascii(after, 0, 4) === 'fLaC') return 'flac';
    if (isMpegFrameHeader(after)) return 'mp3';
    return unsupported(path, 'an ID3v2 tag followed by neither MPEG audio nor FLAC');
  }
  const other = unsupportedName(head);
  if (other !== null) return unsupported(path, other);
  throw new AudioFileError(path, 'format', 'unrecognised audio format (expected WAV, FLAC, MP3, Ogg Opus/Vorbis or WebM Opus)');
}

/** sniffAudio over bytes in memory. */
export function sniffAudioBytes(bytes: Uint8Array, path: string): AudioFormat {
  return sniffAudio((p, n) => bytes.subarray(p, p + n), path);
}
