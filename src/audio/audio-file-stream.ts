// Audio read from the file in blocks with bounded memory: mono float32 pieces of a fixed size, resampled on the way
// when the file's rate differs from the target. WAV and FLAC are read at offsets (a block of at most ~256 KiB at a
// time, never the whole file); the compressed formats (MP3, Opus, Vorbis) have only whole-stream WebAssembly decoders
// (compressed.ts), so they are decoded whole, below a size limit. The pieces, joined, equal loadAudio/loadAudioAsync
// of the same file and window (same decoding, the same channel mean, Resampler.push/flush = Resampler.process).
// Provenance: NeMo's AudioSegment.from_file semantics (offset/duration, mono mean, target_sr) as load-audio.ts, read as
// soundfile.SoundFile.blocks reads a file.
import { closeSync, fstatSync, readFileSync, statSync } from 'node:fs';
import { decodeCompressed } from './compressed.js';
import { readFrame, readMetadata, type FlacInfo } from './flac.js';
import { Resampler } from './resample.js';
import { FORMAT_NAMES, id3v2Length, type AudioFormat } from './sniff.js';
import { sniffAudioFormat } from './load-audio.js';
import { AudioFileError, decodeFrames, mixToMono, openOrThrow, readAt, readWavInfo, windowFrames, type AudioWindow, type WavInfo } from './wav.js';

/** Bytes read from a WAV/FLAC file at a time. */
const BLOCK_BYTES = 256 * 1024;
/** A FLAC frame is at most 65535 samples x 8 channels x 24 bits plus headers (~1.5 MiB): a larger window means corruption. */
const MAX_FLAC_WINDOW_BYTES = 8 * 1024 * 1024;
/** FLAC metadata (with pictures and an ID3v2 tag) larger than this is refused rather than read into memory. */
const MAX_FLAC_METADATA_BYTES = 64 * 1024 * 1024;
/** Default limit for formats decoded whole (MP3/Opus/Vorbis): 16 MiB of file, about 17 min of 128 kbit/s MP3. */
export const DEFAULT_MAX_WHOLE_FILE_BYTES = 16 * 1024 * 1024;

export interface AudioStreamOptions extends AudioWindow {
  /** Samples per piece (> 0); every piece has exactly this many samples except the last, which may have fewer. */
  pieceSamples: number;
  /** Resample to this rate (Hz) when the file's rate differs. */
  targetSampleRate?: number;
  /** Formats that cannot be read in pieces are decoded whole only when the file is at most this big (bytes). */
  maxWholeFileBytes?: number;
}

/** A file's mono pieces; iterate once. Header errors are thrown by openAudioStream, data errors by the iteration. */
export interface AudioStream extends AsyncIterable<Float32Array> {
  readonly path: string;
  readonly format: AudioFormat;
  /** The pieces' rate (the target, else the file's); null for a compressed file without a target until decoded. */
  readonly sampleRate: number | null;
  /** How many samples the pieces will hold in all, when the header says (null: a compressed file, or FLAC without a length). */
  readonly numSamples: number | null;
  /** True when the file is read in blocks (WAV, FLAC); false when it is decoded whole (compressed formats). */
  readonly blockwise: boolean;
}

/** Mono blocks at the file's rate, for the window; `rate` once known. */
interface MonoSource {
  rate: number | null;
  /** Frames the window holds (null: unknown until the end). */
  frames: number | null;
  blocks: () => AsyncGenerator<{ rate: number; samples: Float32Array }>;
}

/**
 * Opens `path` (format by content) for reading in pieces: mono float32, resampled to targetSampleRate, `pieceSamples`
 * at a time. Missing files, bad headers and unsupported encodings throw AudioFileError naming the file here;
 * corrupt data throws while iterating (after the pieces before it), with the whole-file reader's message.
 */
export function openAudioStream(path: string, o: AudioStreamOptions): AudioStream {
  if (!Number.isInteger(o.pieceSamples) || o.pieceSamples < 1) throw new RangeError(`${path}: pieceSamples must be a positive integer, got ${o.pieceSamples}`);
  const format = sniffAudioFormat(path);
  const source = format === 'wav' ? wavSource(path, o) : format === 'flac' ? flacSource(path, o) : wholeFileSource(path, format, o);
  const target = o.targetSampleRate;
  const outRate = target ?? source.rate;
  const numSamples =
    source.frames === null || source.rate === null
      ? null
      : target === undefined || target === source.rate
        ? source.frames
        : new Resampler(source.rate, target).outputLength(source.frames);
  return {
    path,
    format,
    sampleRate: outRate,
    numSamples,
    blockwise: format === 'wav' || format === 'flac',
    [Symbol.asyncIterator]: () => cutPieces(resampled(source.blocks(), target), o.pieceSamples),
  };
}

/** WAV: the window's frames, BLOCK_BYTES at a time, mixed to mono. */
function wavSource(path: string, w: AudioWindow): MonoSource {
  const info = readWavInfo(path);
  if (info.numFrames === 0) throw new AudioFileError(path, 'empty', 'zero-length clip (the data chunk is empty)');
  const { start, count } = windowFrames(path, info.numFrames, info.sampleRate, w);
  if (count <= 0) throw new AudioFileError(path, 'empty', `zero-length clip: offset ${w.offset ?? 0}s is at or past the end (${info.duration}s)`);
  return { rate: info.sampleRate, frames: count, blocks: () => wavBlocks(info, start, count) };
}

async function* wavBlocks(info: WavInfo, start: number, count: number): AsyncGenerator<{ rate: number; samples: Float32Array }> {
  const perBlock = Math.max(1, Math.floor(BLOCK_BYTES / info.blockAlign));
  const fd = openOrThrow(info.path);
  try {
    for (let done = 0; done < count; ) {
      const n = Math.min(perBlock, count - done);
      const bytes = readAt(fd, info.dataOffset + (start + done) * info.blockAlign, n * info.blockAlign);
      if (bytes.length < n * info.blockAlign) throw new AudioFileError(info.path, 'truncated', 'truncated data (file shrank while reading)');
      yield { rate: info.sampleRate, samples: mixToMono(decodeFrames(info, bytes, n, done)) };
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** FLAC: STREAMINFO from the file's first bytes, then frame by frame from a window of the file. */
function flacSource(path: string, w: AudioWindow): MonoSource {
  const { info, framesStart } = readFlacHead(path);
  const known = info.totalFrames > 0 ? info.totalFrames : Number.MAX_SAFE_INTEGER;
  const { start, count } = windowFrames(path, known, info.sampleRate, w);
  const want = Math.min(count, known - start);
  return { rate: info.sampleRate, frames: info.totalFrames > 0 ? want : null, blocks: () => flacBlocks(path, info, framesStart, start, want) };
}

/** readMetadata over a growing prefix of the file (metadata blocks are usually a few KiB). */
function readFlacHead(path: string): { info: FlacInfo; framesStart: number } {
  const fd = openOrThrow(path);
  try {
    const size = fstatSync(fd).size;
    for (let span = id3v2Length(readAt(fd, 0, 10)) + BLOCK_BYTES; ; span *= 2) {
      const head = readAt(fd, 0, Math.min(span, size));
      try {
        return readMetadata(head, path);
      } catch (e) {
        const truncated = e instanceof AudioFileError && e.reason === 'truncated';
        if (!truncated || head.length >= size) throw e;
        if (span >= MAX_FLAC_METADATA_BYTES)
          throw new AudioFileError(path, 'unsupported', `FLAC metadata larger than ${MAX_FLAC_METADATA_BYTES >> 20} MiB is not read`);
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function* flacBlocks(
  path: string,
  info: FlacInfo,
  framesStart: number,
  start: number,
  want: number,
): AsyncGenerator<{ rate: number; samples: Float32Array }> {
  const scale = 2 ** (info.bitsPerSample - 1);
  const fd = openOrThrow(path);
  try {
    const size = fstatSync(fd).size;
    let span = BLOCK_BYTES;
    let base = framesStart; // the window buf holds file bytes [base, base + buf.length)
    let buf = readAt(fd, base, span);
    let pos = 0;
    let decoded = 0; // sample frames decoded so far
    let collected = 0;
    while (collected < want && size - (base + pos) >= 2) {
      const atEnd = base + buf.length >= size;
      if (!atEnd && buf.length - pos < BLOCK_BYTES / 4) {
        base += pos;
        buf = readAt(fd, base, span);
        pos = 0;
      }
      let frame: { channels: Float64Array[]; next: number };
      try {
        frame = readFrame(buf, pos, info, path, base);
      } catch (e) {
        // the frame runs past the window: read a larger one from its start (at the file's end it is truly truncated)
        if (!(e instanceof AudioFileError && e.reason === 'truncated') || base + buf.length >= size) throw e;
        if (span >= MAX_FLAC_WINDOW_BYTES)
          throw new AudioFileError(path, 'format', `no complete FLAC frame within ${MAX_FLAC_WINDOW_BYTES >> 20} MiB at byte ${base + pos}`);
        span *= 2;
        base += pos;
        buf = readAt(fd, base, span);
        pos = 0;
        continue;
      }
      const n = frame.channels[0]!.length;
      const lo = Math.max(0, start - decoded);
      const hi = Math.min(n, start + want - decoded);
      if (hi > lo) {
        const channels = frame.channels.map((c) => {
          const out = new Float32Array(hi - lo);
          for (let i = 0; i < out.length; i++) out[i] = c[lo + i]! / scale;
          return out;
        });
        collected += hi - lo;
        yield { rate: info.sampleRate, samples: mixToMono(channels) };
      }
      decoded += n;
      pos = frame.next;
    }
    if (info.totalFrames > 0 && collected < want) {
      throw new AudioFileError(path, 'truncated', `truncated data: STREAMINFO promises ${info.totalFrames} samples, the frames hold ${decoded}`);
    }
    if (collected === 0) throw new AudioFileError(path, 'empty', 'zero-length clip');
  } finally {
    closeSync(fd);
  }
}

/** Compressed formats: the WebAssembly decoders take the whole stream, so the file is decoded whole, below a size limit. */
function wholeFileSource(path: string, format: Exclude<AudioFormat, 'wav' | 'flac'>, o: AudioStreamOptions): MonoSource {
  const limit = o.maxWholeFileBytes ?? DEFAULT_MAX_WHOLE_FILE_BYTES;
  const size = statSync(path).size;
  if (size > limit) {
    throw new AudioFileError(
      path,
      'unsupported',
      `${FORMAT_NAMES[format]} cannot be read in pieces (only WAV and FLAC stream from the file) and this file (${mib(size)}) is above the ${mib(limit)} limit for decoding it whole: convert it to FLAC or WAV (e.g. ffmpeg -i in -ac 1 out.flac)`,
    );
  }
  return {
    rate: null,
    frames: null,
    blocks: async function* () {
      const d = await decodeCompressed(format, readFileSync(path), path);
      const mono = mixToMono(d.channels);
      const { start, count } = windowFrames(path, mono.length, d.sampleRate, o);
      if (count <= 0)
        throw new AudioFileError(
          path,
          'empty',
          `zero-length clip: offset ${o.offset ?? 0}s is at or past the end (${(mono.length / d.sampleRate).toFixed(3)}s)`,
        );
      yield { rate: d.sampleRate, samples: mono.subarray(start, start + count) };
    },
  };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The blocks at `target` Hz (a streaming Resampler when the rates differ; its output equals resample() of the whole). */
async function* resampled(blocks: AsyncIterable<{ rate: number; samples: Float32Array }>, target: number | undefined): AsyncGenerator<Float32Array> {
  let resampler: Resampler | null = null;
  let state: ReturnType<Resampler['initState']> | null = null;
  for await (const b of blocks) {
    if (target === undefined || target === b.rate) {
      yield b.samples;
      continue;
    }
    resampler ??= new Resampler(b.rate, target);
    state ??= resampler.initState();
    const r = resampler.push(b.samples, state);
    state = r.state;
    if (r.samples.length > 0) yield r.samples;
  }
  if (resampler && state) {
    const r = resampler.flush(state);
    if (r.samples.length > 0) yield r.samples;
  }
}

/** Re-cuts blocks into pieces of exactly `n` samples (the last one shorter); each piece is a fresh array. */
async function* cutPieces(blocks: AsyncIterable<Float32Array>, n: number): AsyncGenerator<Float32Array> {
  let piece = new Float32Array(n);
  let filled = 0;
  for await (const b of blocks) {
    for (let at = 0; at < b.length; ) {
      const take = Math.min(n - filled, b.length - at);
      piece.set(b.subarray(at, at + take), filled);
      filled += take;
      at += take;
      if (filled === n) {
        yield piece;
        piece = new Float32Array(n);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield piece.subarray(0, filled);
}
