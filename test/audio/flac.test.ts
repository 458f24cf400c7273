// FLAC decoding against the WAV each fixture was made from (bit-exact), windows, loadAudio dispatch and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFlac, readFlacInfo } from '../../src/audio/flac.js';
import { AudioFileError, decodeWav, readWav } from '../../src/audio/wav.js';
import { loadAudio, sniffAudioFormat } from '../../src/audio/load-audio.js';
import { resample } from '../../src/audio/resample.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'audio');
const dir = mkdtempSync(join(tmpdir(), 'streamnest-flac-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

for (const [flac, wav, bits] of [
  ['stereo16.flac', join(FIX, 'stereo16.wav'), 16],
  ['stereo24.flac', join(FIX, 'stereo24.wav'), 24],
  ['stereo8.flac', join(FIX, 'stereo8.wav'), 8],
  ['speech_hello.flac', join(GOLDEN, 'audio', 'speech_hello.wav'), 16],
  ['ms16.flac', join(FIX, 'ms16.wav'), 16],
  ['noise24.flac', join(FIX, 'noise24.wav'), 24],
] as const) {
  test(`${flac} decodes bit-exactly to the WAV it was made from`, () => {
    const info = readFlacInfo(join(FIX, flac));
    assert.equal(info.bitsPerSample, bits);
    assert.equal(info.sampleRate, 16000);
    const f = decodeFlac(join(FIX, flac));
    const w = decodeWav(wav);
    assert.equal(f.channels.length, w.channels.length);
    assert.equal(info.totalFrames, w.channels[0]!.length);
    assert.deepEqual(f.channels, w.channels);
  });
}

test('FLAC offset/duration windows equal slices of the whole decode', () => {
  const p = join(FIX, 'speech_hello.flac');
  const whole = decodeFlac(p).channels[0]!;
  const win = decodeFlac(p, { offset: 0.3, duration: 0.4 }).channels[0]!;
  const start = Math.trunc(0.3 * 16000);
  assert.deepEqual(win, whole.subarray(start, start + Math.trunc(0.4 * 16000)));
});

test('loadAudio picks the decoder by magic bytes, mixes to mono and resamples', () => {
  assert.equal(sniffAudioFormat(join(FIX, 'stereo16.flac')), 'flac');
  assert.equal(sniffAudioFormat(join(FIX, 'stereo16.wav')), 'wav');
  // a FLAC file named .wav still decodes as FLAC
  const disguised = join(dir, 'really-flac.wav');
  writeFileSync(disguised, readFileSync(join(FIX, 'stereo16.flac')));
  assert.deepEqual(loadAudio(disguised).samples, readWav(join(FIX, 'stereo16.wav')).samples);
  const hello = loadAudio(join(FIX, 'speech_hello.flac'), { offset: 0.1, duration: 0.5, targetSampleRate: 8000 });
  assert.equal(hello.sampleRate, 8000);
  const ref = readWav(join(GOLDEN, 'audio', 'speech_hello.wav'), { offset: 0.1, duration: 0.5 }).samples;
  assert.deepEqual(hello.samples, resample(ref, 16000, 8000));
  const text = join(dir, 'x.mp3');
  writeFileSync(text, 'ID4 not audio at all');
  assert.throws(
    () => loadAudio(text),
    (e: unknown) => e instanceof AudioFileError && e.reason === 'format' && e.message.includes(text),
  );
  assert.throws(
    () => loadAudio(join(dir, 'missing.flac')),
    (e: unknown) => e instanceof AudioFileError && e.reason === 'missing',
  );
});

test('truncated and corrupt FLAC streams are reported with the file name', () => {
  const bytes = readFileSync(join(FIX, 'stereo16.flac'));
  const cut = join(dir, 'cut.flac');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  assert.throws(
    () => decodeFlac(cut),
    (e: unknown) => e instanceof AudioFileError && /truncated|CRC|sync/.test(e.message) && e.message.includes(cut),
  );
  const bad = Buffer.from(bytes);
  bad[bad.length - 100] = bad[bad.length - 100]! ^ 0xff;
  const corrupt = join(dir, 'corrupt.flac');
  writeFileSync(corrupt, bad);
  assert.throws(
    () => decodeFlac(corrupt),
    (e: unknown) => e instanceof AudioFileError && e.message.includes(corrupt),
  );
  const notFlac = join(dir, 'nf.flac');
  writeFileSync(notFlac, 'fLaX....');
  assert.throws(() => decodeFlac(notFlac), /not a FLAC stream/);
});

/** A tiny FLAC writer for the cases SoX's encoder never emits (VERBATIM, left/side, wasted bits, escape codes, LPC by hand). */
class BitWriter {
  readonly bytes: number[] = [];
  private acc = 0;
  private n = 0;
  put(value: number, bits: number): void {
    const v = value < 0 ? value + 2 ** bits : value; // two's complement
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | (Math.floor(v / 2 ** i) & 1);
      if (++this.n === 8) {
        this.bytes.push(this.acc);
        this.acc = 0;
        this.n = 0;
      }
    }
  }
  unary(q: number): void {
    for (let i = 0; i < q; i++) this.put(0, 1);
    this.put(1, 1);
  }
  rice(v: number, k: number): void {
    const u = v >= 0 ? 2 * v : -2 * v - 1;
    this.unary(Math.floor(u / 2 ** k));
    this.put(u % 2 ** k, k);
  }
  align(): void {
    while (this.n !== 0) this.put(0, 1);
  }
}

function crc(bytes: number[], poly: number, width: number): number {
  let c = 0;
  const top = 1 << (width - 1);
  const mask = (1 << width) - 1;
  for (const b of bytes) {
    c ^= b << (width - 8);
    for (let k = 0; k < 8; k++) c = c & top ? ((c << 1) ^ poly) & mask : (c << 1) & mask;
  }
  return c;
}

test('hand-built FLAC: VERBATIM with wasted bits, left/side, escaped and 5-bit Rice partitions, CONSTANT, LPC, odd block sizes', () => {
  const left1 = Array.from({ length: 20 }, (_, i) => 4 * Math.round(3000 * Math.sin(i / 3))); // multiples of 4: 2 wasted bits
  const right1 = left1.map((v, i) => v - 37 * i + 500);
  const side1 = left1.map((v, i) => v - right1[i]!);
  const left2 = [-7, -7, -7, -7, -7];
  const right2 = [100, 150, 225, 337, 505]; // LPC order 1, coefficient 3, shift 1: s[i] = floor(3 * s[i-1] / 2) + r[i]
  const w = new BitWriter();
  for (const ch of 'fLaC') w.put(ch.charCodeAt(0), 8);
  w.put(0x80, 8); // last metadata block, STREAMINFO
  w.put(34, 24);
  w.put(5, 16);
  w.put(20, 16);
  w.put(0, 24);
  w.put(0, 24);
  w.put(16000, 20);
  w.put(1, 3); // 2 channels
  w.put(15, 5); // 16 bits
  w.put(0, 4);
  w.put(25, 32); // total samples
  for (let i = 0; i < 16; i++) w.put(0, 8);
  // Frame 1: 20 samples (block size code 6), left/side, 16-bit.
  let start = w.bytes.length;
  w.put(0x3ffe, 14);
  w.put(0, 2);
  w.put(6, 4);
  w.put(0, 4);
  w.put(8, 4);
  w.put(4, 3);
  w.put(0, 1);
  w.put(0, 8); // frame number 0
  w.put(19, 8); // block size - 1
  w.put(crc(w.bytes.slice(start), 0x07, 8), 8);
  w.put(0, 1); // left: VERBATIM, 2 wasted bits
  w.put(1, 6);
  w.put(1, 1);
  w.unary(1);
  for (const v of left1) w.put(v / 4, 14);
  w.put(0, 1); // side (17 bits): FIXED order 2
  w.put(8 + 2, 6);
  w.put(0, 1);
  w.put(side1[0]!, 17);
  w.put(side1[1]!, 17);
  const res = side1.map((v, i) => (i < 2 ? 0 : v - (2 * side1[i - 1]! - side1[i - 2]!)));
  w.put(1, 2); // 5-bit Rice parameters
  w.put(1, 4); // partition order 1: 10 + 10 samples
  w.put(31, 5); // partition 0 escaped: 8 raw residuals of 12 bits
  w.put(12, 5);
  for (let i = 2; i < 10; i++) w.put(res[i]!, 12);
  w.put(3, 5); // partition 1: Rice k = 3
  for (let i = 10; i < 20; i++) w.rice(res[i]!, 3);
  w.align();
  let frame = w.bytes.slice(start);
  w.put(crc(frame, 0x8005, 16), 16);
  // Frame 2: 5 samples (block size code 7), independent stereo, sample rate code 13 (16-bit Hz).
  start = w.bytes.length;
  w.put(0x3ffe, 14);
  w.put(0, 2);
  w.put(7, 4);
  w.put(13, 4);
  w.put(1, 4);
  w.put(0, 3);
  w.put(0, 1);
  w.put(1, 8); // frame number 1
  w.put(4, 16);
  w.put(16000, 16);
  w.put(crc(w.bytes.slice(start), 0x07, 8), 8);
  w.put(0, 1); // left: CONSTANT
  w.put(0, 6);
  w.put(0, 1);
  w.put(-7, 16);
  w.put(0, 1); // right: LPC order 1
  w.put(32, 6);
  w.put(0, 1);
  w.put(right2[0]!, 16);
  w.put(3, 4); // precision 4
  w.put(1, 5); // shift 1
  w.put(3, 4); // coefficient 3
  w.put(0, 2);
  w.put(0, 4);
  w.put(2, 4); // Rice k = 2
  for (let i = 1; i < 5; i++) w.rice(right2[i]! - Math.floor((3 * right2[i - 1]!) / 2), 2);
  w.align();
  frame = w.bytes.slice(start);
  w.put(crc(frame, 0x8005, 16), 16);
  const p = join(dir, 'hand.flac');
  writeFileSync(p, Buffer.from(w.bytes));
  const d = decodeFlac(p);
  assert.equal(d.sampleRate, 16000);
  assert.deepEqual(
    Array.from(d.channels[0]!),
    [...left1, ...left2].map((v) => v / 32768),
  );
  assert.deepEqual(
    Array.from(d.channels[1]!),
    [...right1, ...right2].map((v) => v / 32768),
  );
});
