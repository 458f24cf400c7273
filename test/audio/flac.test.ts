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
  assert.throws(() => loadAudio(text), (e: unknown) => e instanceof AudioFileError && e.reason === 'format' && e.message.includes(text));
  assert.throws(() => loadAudio(join(dir, 'missing.flac')), (e: unknown) => e instanceof AudioFileError && e.reason === 'missing');
});

test('truncated and corrupt FLAC streams are reported with the file name', () => {
  const bytes = readFileSync(join(FIX, 'stereo16.flac'));
  const cut = join(dir, 'cut.flac');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  assert.throws(() => decodeFlac(cut), (e: unknown) => e instanceof AudioFileError && /truncated|CRC|sync/.test(e.message) && e.message.includes(cut));
  const bad = Buffer.from(bytes);
  bad[bad.length - 100] = bad[bad.length - 100]! ^ 0xff;
  const corrupt = join(dir, 'corrupt.flac');
  writeFileSync(corrupt, bad);
  assert.throws(() => decodeFlac(corrupt), (e: unknown) => e instanceof AudioFileError && e.message.includes(corrupt));
  const notFlac = join(dir, 'nf.flac');
  writeFileSync(notFlac, 'fLaX....');
  assert.throws(() => decodeFlac(notFlac), /not a FLAC stream/);
});
