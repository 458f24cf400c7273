// The Opus identification header (OpusHead) of Ogg and WebM streams, and the Ogg end trimming of RFC 7845 §4.
// Provenance: RFC 7845 §5.1 (header fields) and §4.4-4.5 (pre-skip, end trimming by the last granule position), as
// libopusfile applies them.
import { AudioFileError, type DecodedAudio } from './wav.js';

export interface OpusHead {
  channels: number;
  /** Samples at 48 kHz to drop from the start. */
  preSkip: number;
  /** Output gain to apply, in dB. */
  gainDb: number;
  family: number;
  mapping: number[] | null;
  streams: number;
  coupled: number;
}

/** The OpusHead fields the decoder needs (RFC 7845 §5.1). */
export function parseOpusHead(h: Uint8Array, path: string): OpusHead {
  if (h.length < 19 || String.fromCharCode(...h.subarray(0, 8)) !== 'OpusHead') throw new AudioFileError(path, 'format', 'corrupt Opus header (no OpusHead)');
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const channels = h[9]!;
  const family = h[18]!;
  if (channels === 0) throw new AudioFileError(path, 'format', 'corrupt Opus header (0 channels)');
  let streams = 1;
  let coupled = channels > 1 ? 1 : 0;
  let mapping: number[] | null = null;
  if (family !== 0) {
    if (h.length < 21 + channels) throw new AudioFileError(path, 'format', 'corrupt Opus header (channel mapping cut off)');
    streams = h[19]!;
    coupled = h[20]!;
    mapping = [...h.subarray(21, 21 + channels)];
  }
  return { channels, preSkip: dv.getUint16(10, true), gainDb: dv.getInt16(16, true) / 256, family, mapping, streams, coupled };
}

/** The OpusHead packet of an Ogg Opus stream (the first packet of the first page; sniff.ts checked the page is there). */
export function oggOpusHead(b: Uint8Array, path: string): OpusHead {
  const at = 27 + (b[26] ?? 0);
  return parseOpusHead(b.subarray(at, at + 19 + 255), path);
}

/** Granule position of the last Ogg page (the end of the stream at 48 kHz, pre-skip included), or null. */
export function lastOggGranule(b: Uint8Array): number | null {
  for (let p = b.length - 27; p >= 0; p--) {
    if (b[p] === 0x4f && b[p + 1] === 0x67 && b[p + 2] === 0x67 && b[p + 3] === 0x53 && b[p + 4] === 0) {
      const dv = new DataView(b.buffer, b.byteOffset + p + 6, 8);
      const g = dv.getBigInt64(0, true);
      return g >= 0n && g <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(g) : null;
    }
  }
  return null;
}

/** The OpusHead output gain (RFC 7845 §5.1: Q7.8 dB), which the WebAssembly decoders do not apply. */
export function applyOpusGain(a: DecodedAudio, gainDb: number): DecodedAudio {
  if (gainDb === 0) return a;
  const g = 10 ** (gainDb / 20);
  return { sampleRate: a.sampleRate, channels: a.channels.map((c) => c.map((x) => x * g)) };
}
