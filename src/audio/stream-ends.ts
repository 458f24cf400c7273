// Truncation checks for the compressed formats, whose decoders quietly decode what is there: an Ogg stream must end
// with a whole end-of-stream page, and an MPEG audio stream's last frame must be whole. A cut file then gets a clear
// 'truncated' error (as a cut WAV or FLAC does) instead of a short clip.
// Provenance: RFC 3533 §6 (Ogg page header, EOS flag 0x04); ISO/IEC 11172-3 and 13818-3 frame lengths, as mpg123 computes them.
import { id3v2Length, isMpegFrameHeader } from './sniff.js';
import { AudioFileError } from './wav.js';

/** Throws unless the last Ogg page of `b` is whole and flagged end-of-stream. */
export function checkOggEnd(b: Uint8Array, path: string): void {
  for (let p = b.length - 4; p >= 0; p--) {
    if (b[p] !== 0x4f || b[p + 1] !== 0x67 || b[p + 2] !== 0x67 || b[p + 3] !== 0x53) continue;
    if (p + 27 > b.length) throw new AudioFileError(path, 'truncated', `truncated Ogg stream: the last page header (byte ${p}) is cut off`);
    const segments = b[p + 26]!;
    if (p + 27 + segments > b.length) throw new AudioFileError(path, 'truncated', `truncated Ogg stream: the last page (byte ${p}) is cut off`);
    let body = 0;
    for (let i = 0; i < segments; i++) body += b[p + 27 + i]!;
    if (p + 27 + segments + body > b.length) throw new AudioFileError(path, 'truncated', `truncated Ogg stream: the last page (byte ${p}) is cut off`);
    if (!(b[p + 5]! & 0x04)) throw new AudioFileError(path, 'truncated', 'truncated Ogg stream: no end-of-stream page');
    return;
  }
  throw new AudioFileError(path, 'format', 'corrupt Ogg stream: no page found');
}

// kbit/s by [version is MPEG-1][layer 1..3][index]
const BITRATES: Record<'v1' | 'v2', number[][]> = {
  v1: [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  v2: [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
};
const RATES = [44100, 48000, 32000];

/** Bytes of the MPEG audio frame whose (valid) header is at `p`; 0 for the free-format bitrate. */
export function mpegFrameLength(b: Uint8Array, p: number): number {
  const version = (b[p + 1]! >> 3) & 3; // 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
  const layer = 4 - ((b[p + 1]! >> 1) & 3);
  const kbps = BITRATES[version === 3 ? 'v1' : 'v2'][layer - 1]![b[p + 2]! >> 4]!;
  const rate = RATES[(b[p + 2]! >> 2) & 3]! / (version === 3 ? 1 : version === 2 ? 2 : 4);
  const pad = (b[p + 2]! >> 1) & 1;
  if (kbps === 0) return 0;
  if (layer === 1) return (Math.floor((12 * kbps * 1000) / rate) + pad) * 4;
  const perFrame = layer === 3 && version !== 3 ? 72 : 144;
  return Math.floor((perFrame * kbps * 1000) / rate) + pad;
}

/** The stream length a Xing/Info (LAME) header in the first frame at `p` declares: its byte count, else its frame count. */
function xingDeclared(b: Uint8Array, p: number, len: number): { bytes: number | null; frames: number | null } {
  const frame = b.subarray(p, Math.min(b.length, p + len));
  for (let i = 4; i + 16 <= frame.length && i < 48; i++) {
    const tag = String.fromCharCode(frame[i]!, frame[i + 1]!, frame[i + 2]!, frame[i + 3]!);
    if (tag !== 'Xing' && tag !== 'Info') continue;
    const dv = new DataView(frame.buffer, frame.byteOffset + i + 4);
    const flags = dv.getUint32(0);
    const frames = flags & 1 ? dv.getUint32(4) + 1 : null; // the count leaves out the Info frame itself
    const bytes = flags & 2 ? dv.getUint32(flags & 1 ? 8 : 4) : null;
    return { bytes, frames };
  }
  return { bytes: null, frames: null };
}

/**
 * Walks the MPEG frames from the start (after an ID3v2 tag); throws when the last one runs past the end of `b`, or when
 * fewer bytes or frames are there than a LAME/Xing header declares. A file without that header cut exactly between two
 * frames cannot be told from a shorter file.
 */
export function checkMpegEnd(b: Uint8Array, path: string): void {
  const start = id3v2Length(b);
  let p = start;
  let frames = 0;
  const declared = isMpegFrameHeader(b, p) ? xingDeclared(b, p, mpegFrameLength(b, p)) : { bytes: null, frames: null };
  if (declared.bytes !== null && b.length - start < declared.bytes) {
    throw new AudioFileError(path, 'truncated', `truncated MPEG audio: the LAME/Xing header declares ${declared.bytes} bytes, ${b.length - start} are there`);
  }
  while (p + 4 <= b.length && isMpegFrameHeader(b, p)) {
    const len = mpegFrameLength(b, p);
    if (len === 0) return; // free format: lengths are not in the header; the decoder copes
    if (p + len > b.length) {
      throw new AudioFileError(path, 'truncated', `truncated MPEG audio: frame ${frames} at byte ${p} needs ${len} bytes, ${b.length - p} are left`);
    }
    p += len;
    frames++;
  }
  if (declared.frames !== null && frames < declared.frames) {
    if (p + 4 <= b.length)
      throw new AudioFileError(path, 'format', `corrupt MPEG audio: no valid frame header at byte ${p} (frame ${frames} of ${declared.frames})`);
    throw new AudioFileError(path, 'truncated', `truncated MPEG audio: the LAME/Xing header declares ${declared.frames} frames, ${frames} are there`);
  }
  // what follows the frames (an ID3v1 or APE tag, or junk the decoder resyncs over) is left to the decoder
  if (p + 4 > b.length && p < b.length && frames > 0 && b[p] === 0xff) {
    throw new AudioFileError(path, 'truncated', `truncated MPEG audio: a frame header at byte ${p} is cut off`);
  }
}
