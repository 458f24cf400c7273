// RIFF/WAVE reading (PCM 8/16/24/32, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE) and PCM16 writing.
// Provenance: the conversions match soundfile/libsndfile as NeMo's AudioSegment.from_file reads audio (int16 / 32768 etc.).
import { closeSync, existsSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';

/** A decoding error that always names the file. */
/** The highest sample rate accepted (768 kHz, the top of common audio hardware). */
export const MAX_WAV_SAMPLE_RATE = 768_000;

export class AudioFileError extends Error {
  constructor(
    readonly path: string,
    readonly reason: 'missing' | 'format' | 'truncated' | 'unsupported' | 'empty' | 'nonfinite' | 'io',
    msg: string,
  ) {
    super(`${path}: ${msg}`);
    this.name = 'AudioFileError';
  }
}

export type SampleEncoding = 'pcm' | 'float';

export interface WavInfo {
  path: string;
  sampleRate: number;
  numChannels: number;
  bitsPerSample: number;
  /** Bytes per sample frame (all channels). */
  blockAlign: number;
  encoding: SampleEncoding;
  /** Byte offset of the first sample in the file. */
  dataOffset: number;
  /** Sample frames in the data chunk. */
  numFrames: number;
  /** Seconds. */
  duration: number;
}

export interface AudioWindow {
  /** Seconds from the start (NeMo: int(offset * sample_rate) frames are skipped). */
  offset?: number;
  /** Seconds to read (NeMo: int(duration * sample_rate) frames); 0 or undefined = to the end. */
  duration?: number;
}

export interface DecodedAudio {
  sampleRate: number;
  /** One Float32Array per channel, all the same length. */
  channels: Float32Array[];
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Opens a file for reading; an AudioFileError naming it when it is missing or cannot be opened. */
export function openOrThrow(path: string): number {
  if (!existsSync(path)) throw new AudioFileError(path, 'missing', 'no such file');
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new AudioFileError(path, 'io', `cannot open: ${(e as Error).message}`);
  }
}

/** Up to `length` bytes at `position` (fewer at the end of the file). */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Positioned reads of a WAV held in a file or in memory. */
interface WavBytes {
  size: number;
  read(position: number, length: number): Buffer;
}

function fileBytes(fd: number): WavBytes {
  return { size: fstatSync(fd).size, read: (p, n) => readAt(fd, p, n) };
}

function memoryBytes(b: Uint8Array): WavBytes {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return { size: buf.length, read: (p, n) => buf.subarray(p, p + n) };
}

/** Parses the RIFF header and chunk list up to the data chunk, reading only headers. */
function parseHeader(src: WavBytes, path: string): WavInfo {
  const fileSize = src.size;
  const riff = src.read(0, 12);
  if (riff.length < 12 || riff.toString('latin1', 0, 4) !== 'RIFF' || riff.toString('latin1', 8, 12) !== 'WAVE') {
    const tag = riff.toString('latin1', 0, Math.min(4, riff.length));
    throw new AudioFileError(path, 'format', tag === 'RF64' ? 'RF64 WAV files are not supported' : 'not a RIFF/WAVE file');
  }
  let pos = 12;
  let fmt: Buffer | null = null;
  while (pos + 8 <= fileSize) {
    const head = src.read(pos, 8);
    const id = head.toString('latin1', 0, 4);
    const size = head.readUInt32LE(4);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + size > fileSize) throw new AudioFileError(path, 'truncated', 'truncated fmt chunk');
      fmt = src.read(body, size);
    } else if (id === 'data') {
      if (!fmt) throw new AudioFileError(path, 'format', "data chunk before the 'fmt ' chunk");
      return describe(path, fmt, body, size, fileSize);
    }
    pos = body + size + (size % 2); // chunks are padded to even sizes
  }
  throw new AudioFileError(path, fmt ? 'truncated' : 'format', fmt ? 'no data chunk (truncated file?)' : "no 'fmt ' chunk");
}

function describe(path: string, fmt: Buffer, dataOffset: number, dataSize: number, fileSize: number): WavInfo {
  let format = fmt.readUInt16LE(0);
  const numChannels = fmt.readUInt16LE(2);
  const sampleRate = fmt.readUInt32LE(4);
  const blockAlign = fmt.readUInt16LE(12);
  const bitsPerSample = fmt.readUInt16LE(14);
  if (format === WAVE_FORMAT_EXTENSIBLE) {
    if (fmt.length < 40) throw new AudioFileError(path, 'format', 'WAVE_FORMAT_EXTENSIBLE fmt chunk is too short');
    format = fmt.readUInt16LE(24); // first two bytes of the SubFormat GUID
  }
  let encoding: SampleEncoding;
  if (format === WAVE_FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample)) encoding = 'pcm';
  else if (format === WAVE_FORMAT_IEEE_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64)) encoding = 'float';
  else throw new AudioFileError(path, 'unsupported', `unsupported encoding (format tag 0x${format.toString(16)}, ${bitsPerSample} bits)`);
  if (numChannels < 1) throw new AudioFileError(path, 'format', 'zero channels');
  if (sampleRate < 1) throw new AudioFileError(path, 'format', 'sample rate 0');
  // (a corrupt rate in the GHz would also make resampling to the model's rate build a filter bank of gigabytes)
  if (sampleRate > MAX_WAV_SAMPLE_RATE)
    throw new AudioFileError(path, 'format', `sample rate ${sampleRate} Hz is above ${MAX_WAV_SAMPLE_RATE} Hz (corrupt header?)`);
  if (blockAlign !== numChannels * (bitsPerSample / 8)) {
    throw new AudioFileError(path, 'unsupported', `block align ${blockAlign} does not match ${numChannels} x ${bitsPerSample}-bit samples`);
  }
  const available = fileSize - dataOffset;
  if (dataSize > available) {
    throw new AudioFileError(path, 'truncated', `truncated data: the data chunk declares ${dataSize} bytes but only ${available} follow`);
  }
  if (dataSize % blockAlign !== 0)
    throw new AudioFileError(path, 'truncated', `truncated data: ${dataSize} bytes is not a whole number of ${blockAlign}-byte frames`);
  const numFrames = dataSize / blockAlign;
  return { path, sampleRate, numChannels, bitsPerSample, blockAlign, encoding, dataOffset, numFrames, duration: numFrames / sampleRate };
}

/** Header facts of a WAV file (reads only the headers). */
export function readWavInfo(path: string): WavInfo {
  const fd = openOrThrow(path);
  try {
    return parseHeader(fileBytes(fd), path);
  } finally {
    closeSync(fd);
  }
}

/** Frame range [start, start + count) for an offset/duration window, as NeMo/soundfile compute it. */
export function windowFrames(path: string, numFrames: number, sampleRate: number, w: AudioWindow = {}): { start: number; count: number } {
  const offset = w.offset ?? 0;
  const duration = w.duration ?? 0;
  if (!(offset >= 0) || !(duration >= 0)) throw new RangeError(`${path}: offset and duration must be non-negative, got ${offset}, ${duration}`);
  const start = offset > 0 ? Math.min(Math.trunc(offset * sampleRate), numFrames) : 0;
  const count = duration > 0 ? Math.min(Math.trunc(duration * sampleRate), numFrames - start) : numFrames - start;
  return { start, count };
}

/** Per-channel float32 of `frames` sample frames in `bytes`; `firstFrame` (the frames' index in the data) names a bad sample. */
export function decodeFrames(info: WavInfo, bytes: Buffer, frames: number, firstFrame = 0): Float32Array[] {
  const ch = info.numChannels;
  const out = Array.from({ length: ch }, () => new Float32Array(frames));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bytesPer = info.bitsPerSample / 8;
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < ch; c++) {
      const p = (f * ch + c) * bytesPer;
      let v: number;
      if (info.encoding === 'float') {
        v = bytesPer === 4 ? dv.getFloat32(p, true) : dv.getFloat64(p, true);
        if (!Number.isFinite(v)) {
          throw new AudioFileError(info.path, 'nonfinite', `sample ${firstFrame + f} of channel ${c} is ${v} (NaN/Inf in a float WAV)`);
        }
      } else if (bytesPer === 2) v = dv.getInt16(p, true) / 32768;
      else if (bytesPer === 1) v = (dv.getUint8(p) - 128) / 128;
      else if (bytesPer === 3) v = (dv.getUint8(p) | (dv.getUint8(p + 1) << 8) | (dv.getInt8(p + 2) << 16)) / 8388608;
      else v = dv.getInt32(p, true) / 2147483648;
      out[c]![f] = v;
    }
  }
  return out;
}

/** Decodes a WAV file (or an offset/duration window of it, reading only that byte range) into per-channel float32. */
export function decodeWav(path: string, w: AudioWindow = {}): DecodedAudio {
  const fd = openOrThrow(path);
  try {
    return decodeWavBytes(fileBytes(fd), path, w);
  } finally {
    closeSync(fd);
  }
}

/** decodeWav over a WAV held in memory (a tar member, say); `path` names it in errors. */
export function decodeWavBuffer(bytes: Uint8Array, path: string, w: AudioWindow = {}): DecodedAudio {
  return decodeWavBytes(memoryBytes(bytes), path, w);
}

function decodeWavBytes(src: WavBytes, path: string, w: AudioWindow): DecodedAudio {
  const info = parseHeader(src, path);
  if (info.numFrames === 0) throw new AudioFileError(path, 'empty', 'zero-length clip (the data chunk is empty)');
  const { start, count } = windowFrames(path, info.numFrames, info.sampleRate, w);
  if (count <= 0) throw new AudioFileError(path, 'empty', `zero-length clip: offset ${w.offset ?? 0}s is at or past the end (${info.duration}s)`);
  const bytes = src.read(info.dataOffset + start * info.blockAlign, count * info.blockAlign);
  if (bytes.length < count * info.blockAlign) throw new AudioFileError(path, 'truncated', 'truncated data (file shrank while reading)');
  return { sampleRate: info.sampleRate, channels: decodeFrames(info, bytes, count) };
}

/** Mean over channels (NeMo: np.mean(samples, axis=1)); returns the input itself for mono. */
export function mixToMono(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 0) throw new RangeError('mixToMono: no channels');
  if (channels.length === 1) return channels[0]!;
  const n = channels[0]!.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const c of channels) s += c[i]!;
    out[i] = s / channels.length;
  }
  return out;
}

export interface MonoAudio {
  sampleRate: number;
  /** float32 mono samples in [-1, 1] */
  samples: Float32Array;
}

/** Reads a WAV file as mono float32 (multi-channel mixed down by the mean). */
export function readWav(path: string, w: AudioWindow = {}): MonoAudio {
  const d = decodeWav(path, w);
  return { sampleRate: d.sampleRate, samples: mixToMono(d.channels) };
}

/** Round half to even, as lrintf does under the default rounding mode. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Encodes samples (mono or per-channel) as a PCM16 WAV: round(x * 32768), clipped to [-32768, 32767]. */
export function encodeWavPcm16(channels: Float32Array | readonly Float32Array[], sampleRate: number): Buffer {
  const chans = channels instanceof Float32Array ? [channels] : [...channels];
  if (chans.length === 0) throw new RangeError('encodeWavPcm16: no channels');
  const n = chans[0]!.length;
  if (chans.some((c) => c.length !== n)) throw new RangeError('encodeWavPcm16: channels differ in length');
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new RangeError(`encodeWavPcm16: bad sample rate ${sampleRate}`);
  const ch = chans.length;
  const dataSize = n * ch * 2;
  const buf = Buffer.alloc(44 + dataSize);
  buf.write('RIFF', 0, 'latin1');
  buf.writeUInt32LE(36 + dataSize, 4);
  buf.write('WAVE', 8, 'latin1');
  buf.write('fmt ', 12, 'latin1');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  buf.writeUInt16LE(ch, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * ch * 2, 28);
  buf.writeUInt16LE(ch * 2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'latin1');
  buf.writeUInt32LE(dataSize, 40);
  let p = 44;
  for (let i = 0; i < n; i++) {
    for (const c of chans) {
      const v = c[i]!;
      const q = Number.isNaN(v) ? 0 : Math.max(-32768, Math.min(32767, rint(v * 32768)));
      buf.writeInt16LE(q, p);
      p += 2;
    }
  }
  return buf;
}

export function writeWav(path: string, channels: Float32Array | readonly Float32Array[], sampleRate: number): void {
  writeFileSync(path, encodeWavPcm16(channels, sampleRate));
}
