// A compact FLAC decoder: STREAMINFO, CONSTANT/VERBATIM/FIXED/LPC subframes, Rice partitions, stereo decorrelation,
// 4-24-bit samples, frame CRC checks. Samples become float32 as libsndfile gives them (int / 2^(bits-1)).
// Provenance: the FLAC format specification (RFC 9639); no npm package is a maintained pure-JS synchronous decoder.
import { existsSync, readFileSync } from 'node:fs';
import { AudioFileError, windowFrames, type AudioWindow, type DecodedAudio } from './wav.js';

export interface FlacInfo {
  sampleRate: number;
  numChannels: number;
  bitsPerSample: number;
  /** Total sample frames (0 when STREAMINFO does not know). */
  totalFrames: number;
  minBlockSize: number;
  maxBlockSize: number;
}

class BitReader {
  pos = 0; // bit position
  constructor(
    readonly buf: Uint8Array,
    readonly path: string,
  ) {}
  get bytePos(): number {
    return this.pos >>> 3;
  }
  private truncated(): never {
    throw new AudioFileError(this.path, 'truncated', `truncated data: stream ends inside a frame (byte ${this.buf.length})`);
  }
  bit(): number {
    const p = this.pos;
    if (p >>> 3 >= this.buf.length) this.truncated();
    this.pos = p + 1;
    return (this.buf[p >>> 3]! >>> (7 - (p & 7))) & 1;
  }
  /** Unsigned value of n <= 32 bits. */
  bits(n: number): number {
    if (n === 0) return 0;
    if ((this.pos + n + 7) >>> 3 > this.buf.length) {
      if (this.pos + n > this.buf.length * 8) this.truncated();
    }
    let v = 0;
    let left = n;
    while (left > 0) {
      const p = this.pos;
      const avail = 8 - (p & 7);
      const take = Math.min(avail, left);
      const byte = this.buf[p >>> 3]!;
      const chunk = (byte >>> (avail - take)) & ((1 << take) - 1);
      v = v * (1 << take) + chunk;
      this.pos = p + take;
      left -= take;
    }
    return v;
  }
  /** Two's-complement signed value of n <= 32 bits. */
  signed(n: number): number {
    if (n === 0) return 0;
    const v = this.bits(n);
    return v >= 2 ** (n - 1) ? v - 2 ** n : v;
  }
  /** Count of 0 bits before the next 1 bit. */
  unary(): number {
    let n = 0;
    for (;;) {
      const p = this.pos;
      if (p >>> 3 >= this.buf.length) this.truncated();
      if ((p & 7) === 0) {
        const byte = this.buf[p >>> 3]!;
        if (byte === 0) {
          n += 8;
          this.pos = p + 8;
          continue;
        }
      }
      if (this.bit() === 1) return n;
      n++;
    }
  }
  alignToByte(): void {
    this.pos = (this.pos + 7) & ~7;
  }
}

const CRC8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
    t[i] = c;
  }
  return t;
})();
const CRC16 = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();
function crc8(b: Uint8Array, from: number, to: number): number {
  let c = 0;
  for (let i = from; i < to; i++) c = CRC8[c ^ b[i]!]!;
  return c;
}
function crc16(b: Uint8Array, from: number, to: number): number {
  let c = 0;
  for (let i = from; i < to; i++) c = ((c << 8) & 0xffff) ^ CRC16[(c >>> 8) ^ b[i]!]!;
  return c;
}

const SAMPLE_RATES = [0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000];
const SAMPLE_SIZES = [0, 8, 12, -1, 16, 20, 24, 32];

export function isFlac(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x66 && head[1] === 0x4c && head[2] === 0x61 && head[3] === 0x43; // "fLaC"
}

/** Skips an ID3v2 tag if present; returns the offset of "fLaC". */
function streamStart(buf: Uint8Array): number {
  if (buf.length >= 10 && buf[0] === 0x49 && buf[1] === 0x44 && buf[2] === 0x33) {
    const size = ((buf[6]! & 0x7f) << 21) | ((buf[7]! & 0x7f) << 14) | ((buf[8]! & 0x7f) << 7) | (buf[9]! & 0x7f);
    return 10 + size + (buf[5]! & 0x10 ? 10 : 0);
  }
  return 0;
}

/** STREAMINFO and the byte offset of the first frame; `buf` must hold the file's start up to the last metadata block. */
export function readMetadata(buf: Uint8Array, path: string): { info: FlacInfo; framesStart: number } {
  const start = streamStart(buf);
  if (!isFlac(buf.subarray(start, start + 4))) throw new AudioFileError(path, 'format', 'not a FLAC stream (no fLaC marker)');
  let p = start + 4;
  let info: FlacInfo | null = null;
  for (;;) {
    if (p + 4 > buf.length) throw new AudioFileError(path, 'truncated', 'truncated metadata');
    const last = (buf[p]! & 0x80) !== 0;
    const type = buf[p]! & 0x7f;
    const len = (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    p += 4;
    if (p + len > buf.length) throw new AudioFileError(path, 'truncated', 'truncated metadata block');
    if (type === 0) {
      const r = new BitReader(buf.subarray(p, p + len), path);
      const minBlockSize = r.bits(16);
      const maxBlockSize = r.bits(16);
      r.bits(24);
      r.bits(24);
      const sampleRate = r.bits(20);
      const numChannels = r.bits(3) + 1;
      const bitsPerSample = r.bits(5) + 1;
      const totalFrames = r.bits(4) * 2 ** 32 + r.bits(32);
      info = { sampleRate, numChannels, bitsPerSample, totalFrames, minBlockSize, maxBlockSize };
    }
    p += len;
    if (last) break;
  }
  if (!info) throw new AudioFileError(path, 'format', 'no STREAMINFO block');
  if (info.bitsPerSample > 24) throw new AudioFileError(path, 'unsupported', `unsupported encoding: ${info.bitsPerSample}-bit FLAC (4-24 bits are supported)`);
  return { info, framesStart: p };
}

function readResidual(r: BitReader, out: Int32Array | Float64Array, blockSize: number, order: number): void {
  const method = r.bits(2);
  if (method > 1) throw new AudioFileError(r.path, 'format', `reserved residual coding method ${method}`);
  const paramBits = method === 0 ? 4 : 5;
  const escapeCode = method === 0 ? 15 : 31;
  const partOrder = r.bits(4);
  const parts = 1 << partOrder;
  const perPart = blockSize >>> partOrder;
  let i = order;
  for (let part = 0; part < parts; part++) {
    const n = part === 0 ? perPart - order : perPart;
    if (n < 0) throw new AudioFileError(r.path, 'format', 'residual partition smaller than the predictor order');
    const k = r.bits(paramBits);
    if (k === escapeCode) {
      const nb = r.bits(5);
      for (let j = 0; j < n; j++) out[i++] = r.signed(nb);
    } else {
      for (let j = 0; j < n; j++) {
        const q = r.unary();
        const u = q * 2 ** k + r.bits(k);
        out[i++] = u % 2 === 0 ? u / 2 : -(u + 1) / 2; // zig-zag
      }
    }
  }
}

const FIXED_COEFFS = [[], [1], [2, -1], [3, -3, 1], [4, -6, 4, -1]];

function readSubframe(r: BitReader, blockSize: number, bps: number): Float64Array {
  if (r.bit() !== 0) throw new AudioFileError(r.path, 'format', 'bad subframe padding bit');
  const type = r.bits(6);
  let wasted = 0;
  if (r.bit() === 1) wasted = r.unary() + 1;
  const bits = bps - wasted;
  const s = new Float64Array(blockSize);
  if (type === 0) {
    s.fill(r.signed(bits));
  } else if (type === 1) {
    for (let i = 0; i < blockSize; i++) s[i] = r.signed(bits);
  } else if (type >= 8 && type <= 12) {
    const order = type - 8;
    for (let i = 0; i < order; i++) s[i] = r.signed(bits);
    readResidual(r, s, blockSize, order);
    const c = FIXED_COEFFS[order]!;
    for (let i = order; i < blockSize; i++) {
      let pred = 0;
      for (let j = 0; j < order; j++) pred += c[j]! * s[i - 1 - j]!;
      s[i] = s[i]! + pred;
    }
  } else if (type >= 32) {
    const order = type - 31;
    for (let i = 0; i < order; i++) s[i] = r.signed(bits);
    const precision = r.bits(4) + 1;
    if (precision === 16) throw new AudioFileError(r.path, 'format', 'invalid LPC coefficient precision');
    const shift = r.signed(5);
    if (shift < 0) throw new AudioFileError(r.path, 'format', 'negative LPC shift');
    const coefs = new Float64Array(order);
    for (let i = 0; i < order; i++) coefs[i] = r.signed(precision);
    readResidual(r, s, blockSize, order);
    const div = 2 ** shift;
    for (let i = order; i < blockSize; i++) {
      let sum = 0;
      for (let j = 0; j < order; j++) sum += coefs[j]! * s[i - 1 - j]!;
      s[i] = s[i]! + Math.floor(sum / div); // arithmetic shift right
    }
  } else {
    throw new AudioFileError(r.path, 'format', `reserved subframe type ${type}`);
  }
  if (wasted > 0) for (let i = 0; i < blockSize; i++) s[i] = s[i]! * 2 ** wasted;
  return s;
}

/**
 * Decodes one frame at byte offset `at` of `buf`; returns per-channel integer samples and the next frame's offset.
 * `byteBase`: where `buf` starts in the file (a window of it), so that errors name file offsets.
 */
export function readFrame(buf: Uint8Array, at: number, info: FlacInfo, path: string, byteBase = 0): { channels: Float64Array[]; next: number } {
  const r = new BitReader(buf, path);
  r.pos = at * 8;
  const sync = r.bits(14);
  if (sync !== 0x3ffe) throw new AudioFileError(path, 'format', `lost frame sync at byte ${byteBase + at}`);
  r.bits(2); // reserved, blocking strategy
  const bsCode = r.bits(4);
  const srCode = r.bits(4);
  const chCode = r.bits(4);
  const ssCode = r.bits(3);
  r.bit();
  // UTF-8-style coded frame/sample number
  const first = r.bits(8);
  let extra = 0;
  for (let m = 0x80; first & m && m > 1; m >>= 1) extra++;
  for (let i = 1; i < extra; i++) r.bits(8);
  let blockSize: number;
  if (bsCode === 1) blockSize = 192;
  else if (bsCode >= 2 && bsCode <= 5) blockSize = 576 << (bsCode - 2);
  else if (bsCode === 6) blockSize = r.bits(8) + 1;
  else if (bsCode === 7) blockSize = r.bits(16) + 1;
  else if (bsCode >= 8) blockSize = 256 << (bsCode - 8);
  else throw new AudioFileError(path, 'format', 'reserved block size code');
  if (srCode === 12) r.bits(8);
  else if (srCode === 13 || srCode === 14) r.bits(16);
  else if (srCode === 15) throw new AudioFileError(path, 'format', 'invalid sample rate code');
  else if (srCode !== 0 && SAMPLE_RATES[srCode] !== info.sampleRate) {
    throw new AudioFileError(path, 'unsupported', 'unsupported encoding: the sample rate changes mid-stream');
  }
  const headerEnd = r.bytePos;
  if (r.bits(8) !== crc8(buf, at, headerEnd)) throw new AudioFileError(path, 'format', `frame header CRC mismatch at byte ${byteBase + at}`);
  const bps = ssCode === 0 ? info.bitsPerSample : SAMPLE_SIZES[ssCode]!;
  if (bps <= 0 || bps > 24) throw new AudioFileError(path, 'unsupported', `unsupported encoding: sample size code ${ssCode}`);
  const nch = chCode < 8 ? chCode + 1 : chCode <= 10 ? 2 : -1;
  if (nch < 0) throw new AudioFileError(path, 'format', `reserved channel assignment ${chCode}`);
  if (nch !== info.numChannels) throw new AudioFileError(path, 'unsupported', 'unsupported encoding: the channel count changes mid-stream');
  const channels: Float64Array[] = [];
  for (let c = 0; c < nch; c++) {
    const sideBits = (chCode === 8 && c === 1) || (chCode === 9 && c === 0) || (chCode === 10 && c === 1) ? 1 : 0;
    channels.push(readSubframe(r, blockSize, bps + sideBits));
  }
  r.alignToByte();
  const end = r.bytePos;
  if (end + 2 > buf.length) throw new AudioFileError(path, 'truncated', 'truncated data: stream ends inside a frame footer');
  const crc = (buf[end]! << 8) | buf[end + 1]!;
  if (crc !== crc16(buf, at, end)) throw new AudioFileError(path, 'format', `frame CRC-16 mismatch at byte ${byteBase + at} (corrupt or truncated)`);
  if (chCode >= 8) {
    const [a, b] = channels as [Float64Array, Float64Array];
    for (let i = 0; i < blockSize; i++) {
      if (chCode === 8)
        b[i] = a[i]! - b[i]!; // left/side: right = left - side
      else if (chCode === 9)
        a[i] = a[i]! + b[i]!; // side/right: left = side + right
      else {
        const side = b[i]!;
        const mid = a[i]! * 2 + (side & 1 ? 1 : 0);
        a[i] = Math.floor((mid + side) / 2);
        b[i] = Math.floor((mid - side) / 2);
      }
    }
  }
  return { channels, next: end + 2 };
}

/** Header facts of a FLAC file. */
export function readFlacInfo(path: string): FlacInfo {
  if (!existsSync(path)) throw new AudioFileError(path, 'missing', 'no such file');
  return readMetadata(readFileSync(path), path).info;
}

/** Decodes FLAC bytes to per-channel float32 (int / 2^(bits-1)), optionally only an offset/duration window. */
export function decodeFlacBuffer(buf: Uint8Array, path: string, w: AudioWindow = {}): DecodedAudio {
  const { info, framesStart } = readMetadata(buf, path);
  const known = info.totalFrames > 0 ? info.totalFrames : Number.MAX_SAFE_INTEGER;
  const { start, count } = windowFrames(path, known, info.sampleRate, w);
  const want = Math.min(count, known - start);
  const scale = 2 ** (info.bitsPerSample - 1);
  const parts: Float64Array[][] = [];
  let pos = framesStart;
  let decodedFrames = 0; // sample frames decoded so far (absolute)
  let collected = 0;
  while (pos < buf.length && collected < want) {
    if (buf.length - pos < 2) break;
    const { channels, next } = readFrame(buf, pos, info, path);
    const n = channels[0]!.length;
    const lo = Math.max(0, start - decodedFrames);
    const hi = Math.min(n, start + want - decodedFrames);
    if (hi > lo) {
      parts.push(channels.map((c) => c.subarray(lo, hi)));
      collected += hi - lo;
    }
    decodedFrames += n;
    pos = next;
  }
  if (info.totalFrames > 0 && collected < want) {
    throw new AudioFileError(path, 'truncated', `truncated data: STREAMINFO promises ${info.totalFrames} samples, the frames hold ${decodedFrames}`);
  }
  if (collected === 0) throw new AudioFileError(path, 'empty', 'zero-length clip');
  const out = Array.from({ length: info.numChannels }, () => new Float32Array(collected));
  let o = 0;
  for (const p of parts) {
    for (let c = 0; c < info.numChannels; c++) {
      const src = p[c]!;
      const dst = out[c]!;
      for (let i = 0; i < src.length; i++) dst[o + i] = src[i]! / scale;
    }
    o += p[0]!.length;
  }
  return { sampleRate: info.sampleRate, channels: out };
}

export function decodeFlac(path: string, w: AudioWindow = {}): DecodedAudio {
  if (!existsSync(path)) throw new AudioFileError(path, 'missing', 'no such file');
  return decodeFlacBuffer(readFileSync(path), path, w);
}
