// Opus in WebM/Matroska: a small EBML demuxer (the audio track's OpusHead from CodecPrivate, its frames from SimpleBlocks
// and BlockGroups, DiscardPadding at the end) feeding opus-decoder (libopus in WebAssembly). Own code, because the npm
// EBML parsers are event/stream based and unmaintained, and this needs ~150 lines: master elements are entered, every
// other element skipped by its size, so unknown-size Segments and Clusters (as MediaRecorder writes them) need nothing
// special. Provenance: the Matroska spec (RFC 9559) and its Opus codec mapping; ffmpeg's matroskadec reads the same.
import { OpusDecoder } from 'opus-decoder';
import { AudioFileError, type DecodedAudio } from './wav.js';
import { applyOpusGain, parseOpusHead } from './opus-head.js';
import { quietly, withDecoder } from './wasm-decoder.js';

const ID = {
  EBML: 0x1a45dfa3,
  DocType: 0x4282,
  Segment: 0x18538067,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Cluster: 0x1f43b675,
  BlockGroup: 0xa0,
  Block: 0xa1,
  SimpleBlock: 0xa3,
  DiscardPadding: 0x75a2,
} as const;

/** Master elements whose children are walked; everything else is read or skipped by size. */
const MASTERS = new Set<number>([ID.Segment, ID.Tracks, ID.TrackEntry, ID.Cluster, ID.BlockGroup]);

interface Vint {
  value: number;
  length: number;
  /** All value bits set: an element of unknown size. */
  unknown: boolean;
}

/** An EBML variable-length integer at `p`; `keepMarker` for element IDs. Null when cut off or invalid. */
function vint(b: Uint8Array, p: number, keepMarker: boolean): Vint | null {
  if (p >= b.length) return null;
  const first = b[p]!;
  let length = 1;
  while (length <= 8 && !(first & (0x80 >> (length - 1)))) length++;
  if (length > 8 || p + length > b.length) return null;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + b[p + i]!;
    if (b[p + i] !== 0xff) allOnes = false;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

interface Track {
  number: number;
  type: number;
  codec: string;
  codecPrivate: Uint8Array | null;
}

interface Demuxed {
  track: Track;
  frames: Uint8Array[];
  /** Nanoseconds of padding to drop from the end (DiscardPadding of the last blocks). */
  discardNs: number;
}

function uint(b: Uint8Array): number {
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

/** Frames of one Block/SimpleBlock body (track number, timecode, flags, then unlaced, Xiph- or fixed-laced frames). */
function blockFrames(body: Uint8Array, fail: (m: string) => never): { track: number; frames: Uint8Array[] } {
  const t = vint(body, 0, false);
  if (t === null || body.length < t.length + 3) fail('truncated block header');
  let p = t.length + 3;
  const lacing = (body[t.length + 2]! >> 1) & 3;
  if (lacing === 0) return { track: t.value, frames: [body.subarray(p)] };
  const count = body[p++]! + 1;
  const sizes: number[] = [];
  if (lacing === 1) {
    for (let i = 0; i < count - 1; i++) {
      let s = 0;
      for (;;) {
        if (p >= body.length) fail('truncated Xiph lacing');
        const x = body[p++]!;
        s += x;
        if (x !== 255) break;
      }
      sizes.push(s);
    }
  } else if (lacing === 2) {
    const each = (body.length - p) / count;
    if (!Number.isInteger(each)) fail('fixed-size lacing does not divide the block');
    for (let i = 0; i < count - 1; i++) sizes.push(each);
  } else {
    fail('EBML lacing is not supported');
  }
  const frames: Uint8Array[] = [];
  for (const s of sizes) {
    if (p + s > body.length) fail('laced frame runs past its block');
    frames.push(body.subarray(p, p + s));
    p += s;
  }
  frames.push(body.subarray(p));
  return { track: t.value, frames };
}

/** Walks the EBML elements and collects the first audio track and its frames. */
export function demuxWebm(b: Uint8Array, path: string): Demuxed {
  const fail = (m: string): never => {
    throw new AudioFileError(path, 'format', `corrupt WebM/Matroska: ${m}`);
  };
  const tracks: Track[] = [];
  const blocks: { track: number; frames: Uint8Array[]; discardNs: number }[] = [];
  let docType = '';
  let p = 0;
  let truncated = false;
  while (p < b.length) {
    const id = vint(b, p, true);
    const size = id && vint(b, p + id.length, false);
    if (!id || !size) {
      truncated = true;
      break;
    }
    const body = p + id.length + size.length;
    if (MASTERS.has(id.value)) {
      if (id.value === ID.TrackEntry) tracks.push({ number: -1, type: -1, codec: '', codecPrivate: null });
      p = body; // enter: the children follow
      continue;
    }
    if (id.value === ID.EBML) {
      p = body; // the EBML header's children (DocType) follow
      continue;
    }
    if (size.unknown) fail(`element 0x${id.value.toString(16)} at byte ${p} has an unknown size`);
    const end = body + size.value;
    if (end > b.length) {
      truncated = true;
      break;
    }
    const data = b.subarray(body, end);
    const track = tracks[tracks.length - 1];
    switch (id.value) {
      case ID.DocType:
        docType = String.fromCharCode(...data);
        break;
      case ID.TrackNumber:
        if (track) track.number = uint(data);
        break;
      case ID.TrackType:
        if (track) track.type = uint(data);
        break;
      case ID.CodecID:
        if (track) track.codec = String.fromCharCode(...data);
        break;
      case ID.CodecPrivate:
        if (track) track.codecPrivate = data;
        break;
      case ID.SimpleBlock:
      case ID.Block:
        blocks.push({ ...blockFrames(data, fail), discardNs: 0 });
        break;
      case ID.DiscardPadding: {
        const last = blocks[blocks.length - 1];
        let v = uint(data);
        if (data.length > 0 && data[0]! & 0x80) v -= 2 ** (8 * data.length); // signed
        if (last && v > 0) last.discardNs = v;
        break;
      }
    }
    p = end;
  }
  if (docType !== '' && docType !== 'webm' && docType !== 'matroska') fail(`DocType '${docType}' is not WebM or Matroska`);
  const audio = tracks.find((t) => t.type === 2);
  if (!audio) {
    if (truncated) throw new AudioFileError(path, 'truncated', 'truncated WebM/Matroska (ends before any audio track)');
    return fail('no audio track');
  }
  if (audio.codec !== 'A_OPUS') {
    throw new AudioFileError(path, 'unsupported', `${audio.codec || 'an unnamed codec'} in WebM/Matroska: not supported (only A_OPUS)`);
  }
  if (truncated) throw new AudioFileError(path, 'truncated', `truncated WebM/Matroska: the element at byte ${p} runs past the end (${b.length} bytes)`);
  const mine = blocks.filter((k) => k.track === audio.number);
  return { track: audio, frames: mine.flatMap((k) => k.frames), discardNs: mine.length > 0 ? mine[mine.length - 1]!.discardNs : 0 };
}

/** Opus in WebM at 48 kHz: pre-skip from OpusHead, DiscardPadding trimmed from the end, the header's output gain applied. */
export async function decodeWebmOpus(bytes: Uint8Array, path: string): Promise<DecodedAudio> {
  const { track, frames, discardNs } = demuxWebm(bytes, path);
  if (!track.codecPrivate) throw new AudioFileError(path, 'format', 'corrupt WebM Opus: no CodecPrivate (OpusHead)');
  const head = parseOpusHead(track.codecPrivate, path);
  if (frames.length === 0) throw new AudioFileError(path, 'empty', 'no Opus frames in the WebM audio track');
  const a = await quietly(() =>
    withDecoder(
      () =>
        new OpusDecoder({
          channels: head.channels,
          preSkip: head.preSkip,
          streamCount: head.streams,
          coupledStreamCount: head.coupled,
          ...(head.mapping ? { channelMappingTable: head.mapping } : {}),
        }),
      (d) => d.decodeFrames(frames),
      path,
      'WebM Opus',
    ),
  );
  const drop = Math.min(Math.round((discardNs * 48000) / 1e9), a.channels[0]!.length - 1);
  const channels = drop > 0 ? a.channels.map((c) => c.subarray(0, c.length - drop)) : a.channels;
  return applyOpusGain({ sampleRate: a.sampleRate, channels }, head.gainDb);
}
