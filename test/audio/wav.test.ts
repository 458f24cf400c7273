// WAV decoding: every encoding, channel mixing, offset/duration windows, PCM16 writing, and one test per bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AudioFileError, decodeWav, encodeWavPcm16, readWav, readWavInfo, writeWav } from '../../src/audio/wav.js';
import { REPO_ROOT, GOLDEN } from '../helpers/assert.js';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'audio');
const dir = mkdtempSync(join(tmpdir(), 'streamnest-wav-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Builds a WAV file byte by byte (independent of the module's writer). */
function buildWav(o: {
  format: number;
  channels: number;
  rate?: number;
  bits: number;
  data: Buffer;
  extensible?: boolean;
  declaredDataSize?: number;
  extraChunk?: boolean;
}): Buffer {
  const rate = o.rate ?? 16000;
  const block = (o.channels * o.bits) / 8;
  const fmt = Buffer.alloc(o.extensible ? 40 : 16);
  fmt.writeUInt16LE(o.extensible ? 0xfffe : o.format, 0);
  fmt.writeUInt16LE(o.channels, 2);
  fmt.writeUInt32LE(rate, 4);
  fmt.writeUInt32LE(rate * block, 8);
  fmt.writeUInt16LE(block, 12);
  fmt.writeUInt16LE(o.bits, 14);
  if (o.extensible) {
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(o.bits, 18);
    fmt.writeUInt32LE(0, 20);
    fmt.writeUInt16LE(o.format, 24);
    Buffer.from('000000001000800000aa00389b71', 'hex').copy(fmt, 26);
  }
  const chunk = (id: string, body: Buffer, size = body.length): Buffer => {
    const h = Buffer.alloc(8);
    h.write(id, 0, 'latin1');
    h.writeUInt32LE(size, 4);
    return Buffer.concat([h, body, Buffer.alloc(body.length % 2)]);
  };
  const parts = [chunk('fmt ', fmt)];
  if (o.extraChunk) parts.push(chunk('LIST', Buffer.from('INFOISFT\x05\x00\x00\x00abc\x00\x00', 'latin1')));
  parts.push(chunk('data', o.data, o.declaredDataSize ?? o.data.length));
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...parts]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

function file(name: string, bytes: Buffer | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

test('PCM16 is int16 / 32768 exactly, including the extremes', () => {
  const ints = [0, 1, -1, 32767, -32768, 12345, -23456];
  const data = Buffer.alloc(ints.length * 2);
  ints.forEach((v, i) => {
    data.writeInt16LE(v, i * 2);
  });
  const p = file('pcm16.wav', buildWav({ format: 1, channels: 1, bits: 16, data, extraChunk: true }));
  const a = readWav(p);
  assert.equal(a.sampleRate, 16000);
  assert.deepEqual(
    Array.from(a.samples),
    ints.map((v) => Math.fround(v / 32768)),
  );
});

test('PCM 8/24/32, float32/64 and WAVE_FORMAT_EXTENSIBLE decode to the same values', () => {
  const vals = [0, 0.5, -0.5, -1, 0.25];
  const p8 = Buffer.from(vals.map((v) => Math.round(v * 128) + 128).map((v) => Math.min(255, v)));
  const p24 = Buffer.alloc(15);
  vals.forEach((v, i) => {
    p24.writeIntLE(Math.round(v * 8388608), i * 3, 3);
  });
  const p32 = Buffer.alloc(20);
  vals.forEach((v, i) => {
    p32.writeInt32LE(Math.max(-2147483648, Math.round(v * 2147483648)), i * 4);
  });
  const f32 = Buffer.alloc(20);
  vals.forEach((v, i) => {
    f32.writeFloatLE(v, i * 4);
  });
  const f64 = Buffer.alloc(40);
  vals.forEach((v, i) => {
    f64.writeDoubleLE(v, i * 8);
  });
  const cases: [string, Buffer][] = [
    ['p8', buildWav({ format: 1, channels: 1, bits: 8, data: p8 })],
    ['p24', buildWav({ format: 1, channels: 1, bits: 24, data: p24 })],
    ['p24x', buildWav({ format: 1, channels: 1, bits: 24, data: p24, extensible: true })],
    ['p32', buildWav({ format: 1, channels: 1, bits: 32, data: p32 })],
    ['f32', buildWav({ format: 3, channels: 1, bits: 32, data: f32 })],
    ['f64x', buildWav({ format: 3, channels: 1, bits: 64, data: f64, extensible: true })],
  ];
  for (const [name, bytes] of cases) assert.deepEqual(Array.from(readWav(file(`${name}.wav`, bytes)).samples), vals, name);
});

test('SoX-written 24/32-bit (extensible) and float WAVs equal the 16-bit source exactly; 8-bit within 1/128', () => {
  const ref = decodeWav(join(FIX, 'stereo16.wav'));
  assert.equal(ref.channels.length, 2);
  for (const f of ['stereo24.wav', 'stereo32.wav', 'stereof32.wav', 'stereof64.wav']) {
    const d = decodeWav(join(FIX, f));
    assert.deepEqual(d.channels, ref.channels, f);
  }
  const d8 = decodeWav(join(FIX, 'stereo8.wav'));
  for (let c = 0; c < 2; c++) for (let i = 0; i < ref.channels[0]!.length; i++) assert.ok(Math.abs(d8.channels[c]![i]! - ref.channels[c]![i]!) <= 2 / 128);
});

test('multi-channel audio is mixed to mono by the mean', () => {
  const d = decodeWav(join(FIX, 'stereo16.wav'));
  const m = readWav(join(FIX, 'stereo16.wav')).samples;
  for (let i = 0; i < m.length; i++) assert.equal(m[i], Math.fround((d.channels[0]![i]! + d.channels[1]![i]!) / 2));
});

test('offset/duration windows read only that range and match a slice of the whole clip', () => {
  const path = join(GOLDEN, 'audio', 'speech_hello.wav');
  const whole = readWav(path).samples;
  const w = readWav(path, { offset: 0.1234, duration: 0.5 }).samples;
  const start = Math.trunc(0.1234 * 16000);
  assert.equal(w.length, Math.trunc(0.5 * 16000));
  assert.deepEqual(w, whole.subarray(start, start + w.length));
  const tail = readWav(path, { offset: 1.0 }).samples;
  assert.deepEqual(tail, whole.subarray(16000));
  const past = readWav(path, { offset: 1.0, duration: 100 }).samples;
  assert.equal(past.length, whole.length - 16000);
  const info = readWavInfo(path);
  assert.equal(info.numFrames, 17383);
  assert.equal(info.dataOffset, 44);
});

test('writeWav round-trips PCM16 exactly and clips out-of-range samples', () => {
  const src = readWav(join(GOLDEN, 'audio', 'speech_edge.wav')).samples;
  const p = join(dir, 'rt.wav');
  writeWav(p, src, 16000);
  assert.deepEqual(readWav(p).samples, src);
  const clipped = readWav(file('clip.wav', encodeWavPcm16(new Float32Array([2, -2, 0.99999]), 8000)));
  assert.equal(clipped.sampleRate, 8000);
  assert.deepEqual(Array.from(clipped.samples), [32767 / 32768, -1, 32767 / 32768].map(Math.fround));
  assert.deepEqual(readFileSync(p).subarray(0, 4).toString(), 'RIFF');
});

function expectError(fn: () => unknown, reason: AudioFileError['reason'], path: string, msg: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AudioFileError, `expected AudioFileError, got ${String(e)}`);
    assert.equal(e.reason, reason);
    assert.ok(e.message.includes(path), `message names the file: ${e.message}`);
    assert.match(e.message, msg);
    return true;
  });
}

test('error: missing file', () => {
  const p = join(dir, 'nope.wav');
  expectError(() => readWav(p), 'missing', p, /no such file/);
});

test('error: not RIFF', () => {
  const p = file('text.wav', Buffer.from('hello, this is not audio at all'));
  expectError(() => readWav(p), 'format', p, /not a RIFF\/WAVE/);
});

test('error: truncated data', () => {
  const data = Buffer.alloc(100);
  const p = file('trunc.wav', buildWav({ format: 1, channels: 1, bits: 16, data, declaredDataSize: 400 }));
  expectError(() => readWav(p), 'truncated', p, /truncated data/);
  const whole = readFileSync(join(GOLDEN, 'audio', 'speech_hello.wav'));
  const cut = file('cut.wav', whole.subarray(0, 1001));
  expectError(() => readWav(cut), 'truncated', cut, /truncated data/);
});

test('error: unsupported encoding', () => {
  const p = file('alaw.wav', buildWav({ format: 6, channels: 1, bits: 8, data: Buffer.alloc(10) }));
  expectError(() => readWav(p), 'unsupported', p, /unsupported encoding/);
  const p12 = file('pcm12.wav', buildWav({ format: 1, channels: 1, bits: 16, data: Buffer.alloc(10) }).fill(12, 34, 35));
  expectError(() => readWav(p12), 'unsupported', p12, /unsupported encoding/);
});

test('error: zero-length clip (empty data, or an offset past the end)', () => {
  const p = file('empty.wav', buildWav({ format: 1, channels: 1, bits: 16, data: Buffer.alloc(0) }));
  expectError(() => readWav(p), 'empty', p, /zero-length/);
  const hello = join(GOLDEN, 'audio', 'speech_hello.wav');
  expectError(() => readWav(hello, { offset: 5 }), 'empty', hello, /zero-length/);
});

test('error: NaN/Inf samples in a float WAV', () => {
  const f = Buffer.alloc(16);
  f.writeFloatLE(0.1, 0);
  f.writeFloatLE(Number.NaN, 4);
  const p = file('nan.wav', buildWav({ format: 3, channels: 1, bits: 32, data: f }));
  expectError(() => readWav(p), 'nonfinite', p, /sample 1 .*NaN/);
  const g = Buffer.alloc(16);
  g.writeDoubleLE(Number.POSITIVE_INFINITY, 8);
  const q = file('inf.wav', buildWav({ format: 3, channels: 1, bits: 64, data: g }));
  expectError(() => readWav(q), 'nonfinite', q, /Infinity/);
});
