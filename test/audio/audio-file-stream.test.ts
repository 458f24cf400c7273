// openAudioStream against the whole-file reader on real files: every WAV sample format, stereo, FLAC (the fixtures, and
// a 0.9 MB FLAC made of the speech fixture's frames repeated, read through many windows), odd piece sizes, windows,
// resampling 44.1 kHz -> 16 kHz over many blocks, the same header errors, and the size limit of the compressed path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAudioStream, type AudioStreamOptions } from '../../src/audio/audio-file-stream.js';
import { readMetadata } from '../../src/audio/flac.js';
import { loadAudio, loadAudioAsync } from '../../src/audio/load-audio.js';
import { resample } from '../../src/audio/resample.js';
import { AudioFileError, writeWav } from '../../src/audio/wav.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'audio');
const dir = mkdtempSync(join(tmpdir(), 'streamnest-audio-stream-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** All pieces joined; fails when a piece is larger than asked or a piece before the last is smaller. */
async function readAll(path: string, o: AudioStreamOptions): Promise<Float32Array> {
  const s = openAudioStream(path, o);
  const pieces: Float32Array[] = [];
  for await (const p of s) pieces.push(p);
  for (const [i, p] of pieces.entries()) {
    if (i < pieces.length - 1) assert.equal(p.length, o.pieceSamples, `${path}: piece ${i} of ${pieces.length}`);
    else assert.ok(p.length >= 1 && p.length <= o.pieceSamples, `${path}: last piece has ${p.length} samples`);
  }
  const out = new Float32Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  if (s.numSamples !== null) assert.equal(out.length, s.numSamples, `${path}: numSamples`);
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'lengths');
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

const FILES = ['stereo8.wav', 'stereo16.wav', 'stereo24.wav', 'stereo32.wav', 'stereof32.wav', 'stereof64.wav', 'ms16.wav', 'noise24.wav'];
const FLACS = ['stereo8.flac', 'stereo16.flac', 'stereo24.flac', 'ms16.flac', 'noise24.flac', 'speech_hello.flac'];

test('WAV (8/16/24/32-bit PCM, float32/64, stereo) and FLAC in odd piece sizes equal loadAudio bit for bit', async () => {
  for (const f of [...FILES, ...FLACS]) {
    const path = join(FIX, f);
    const whole = loadAudio(path).samples;
    for (const pieceSamples of [1, 7, 1000, 4097, whole.length + 5]) {
      if (pieceSamples === 1 && whole.length > 5000) continue; // one-sample pieces of the longer files: slow, nothing new
      const got = await readAll(path, { pieceSamples });
      assert.equal(maxAbsDiff(got, whole), 0, `${f}, pieces of ${pieceSamples}`);
    }
  }
});

test('offset/duration windows equal the whole-file reader (WAV read at offsets, FLAC frames skipped)', async () => {
  for (const f of ['stereo24.wav', 'stereof64.wav', 'stereo16.flac', 'speech_hello.flac']) {
    const path = join(FIX, f);
    for (const w of [{ offset: 0.0371 }, { offset: 0.05, duration: 0.1 }, { duration: 0.013 }]) {
      const whole = loadAudio(path, w).samples;
      assert.equal(maxAbsDiff(await readAll(path, { pieceSamples: 333, ...w }), whole), 0, `${f} ${JSON.stringify(w)}`);
    }
  }
});

test('a 44.1 kHz stereo WAV of several blocks, resampled to 16 kHz in pieces, equals the whole-file resample', async () => {
  const fox = loadAudio(join(GOLDEN, 'audio', 'speech_fox.wav')).samples;
  const speech = new Float32Array(3 * fox.length);
  for (let k = 0; k < 3; k++) speech.set(fox, k * fox.length);
  const left = resample(speech, 16000, 44100);
  const right = left.map((v, i) => 0.5 * v * Math.cos(i / 900));
  const path = join(dir, 'fox44k.wav');
  writeWav(path, [left, right], 44100);
  assert.ok(readFileSync(path).length > 3 * 256 * 1024, 'more than three read blocks');
  const whole = loadAudio(path, { targetSampleRate: 16000 });
  assert.equal(whole.sampleRate, 16000);
  for (const pieceSamples of [8000, 1237]) {
    const s = openAudioStream(path, { pieceSamples, targetSampleRate: 16000 });
    assert.equal(s.sampleRate, 16000);
    assert.equal(s.numSamples, whole.samples.length);
    const d = maxAbsDiff(await readAll(path, { pieceSamples, targetSampleRate: 16000 }), whole.samples);
    assert.equal(d, 0, `pieces of ${pieceSamples}: max |stream - whole| = ${d}`); // push/flush computes each output as process() does
  }
  // and upsampling a FLAC (8 kHz -> 16 kHz is not what a model wants, but the same streaming path)
  const flac = join(FIX, 'speech_hello.flac');
  const up = loadAudio(flac, { targetSampleRate: 22050 }).samples;
  assert.ok(maxAbsDiff(await readAll(flac, { pieceSamples: 999, targetSampleRate: 22050 }), up) <= 1e-6);
});

/** speech_hello.flac with its frames repeated `times` (frame numbers are not checked by decoders of fixed-size blocks). */
function repeatedFlac(times: number, totalKnown: boolean): string {
  const bytes = readFileSync(join(FIX, 'speech_hello.flac'));
  const { info, framesStart } = readMetadata(bytes, 'speech_hello.flac');
  const head = Buffer.from(bytes.subarray(0, framesStart));
  // STREAMINFO's 36-bit total sample count: the low 4 bits of body byte 13 and bytes 14-17 (body starts at byte 8)
  const total = totalKnown ? info.totalFrames * times : 0;
  head[8 + 13] = (head[8 + 13]! & 0xf0) | Math.floor(total / 2 ** 32);
  head.writeUInt32BE(total % 2 ** 32, 8 + 14);
  const frames = bytes.subarray(framesStart);
  const path = join(dir, `repeat${times}-${totalKnown}.flac`);
  writeFileSync(path, Buffer.concat([head, ...Array.from({ length: times }, () => frames)]));
  return path;
}

test('a 0.9 MB FLAC is read through many windows and equals the whole-file decode; numSamples from STREAMINFO', async () => {
  for (const known of [true, false]) {
    const path = repeatedFlac(60, known);
    const whole = loadAudio(path, { offset: 0.5 }).samples;
    const s = openAudioStream(path, { pieceSamples: 4000, offset: 0.5 });
    assert.equal(s.numSamples, known ? whole.length : null);
    assert.equal(maxAbsDiff(await readAll(path, { pieceSamples: 4000, offset: 0.5 }), whole), 0, `total known: ${known}`);
  }
});

test('errors name the file as the whole-file reader does: missing, not audio, truncated, bad piece size, compressed size limit', async () => {
  const missing = join(dir, 'nope.wav');
  assert.throws(
    () => openAudioStream(missing, { pieceSamples: 10 }),
    (e: unknown) => e instanceof AudioFileError && e.reason === 'missing' && e.message.includes(missing),
  );
  const text = join(dir, 'text.wav');
  writeFileSync(text, 'hello, this is not audio at all\n');
  assert.throws(() => openAudioStream(text, { pieceSamples: 10 }), new RegExp(`${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  // a WAV whose data chunk claims more than the file holds: the same message as loadAudio
  const good = readFileSync(join(FIX, 'stereo16.wav'));
  const cut = join(dir, 'cut.wav');
  writeFileSync(cut, good.subarray(0, good.length - 100));
  let wholeMsg = '';
  try {
    loadAudio(cut);
  } catch (e) {
    wholeMsg = (e as Error).message;
  }
  assert.match(wholeMsg, /truncated data/);
  assert.throws(
    () => openAudioStream(cut, { pieceSamples: 10 }),
    (e: unknown) => e instanceof AudioFileError && e.message === wholeMsg,
  );
  // a FLAC cut inside a frame: the error comes while reading, after the pieces before it
  const flac = readFileSync(repeatedFlac(4, true));
  const cutFlac = join(dir, 'cut.flac');
  writeFileSync(cutFlac, flac.subarray(0, flac.length - 3000));
  await assert.rejects(readAll(cutFlac, { pieceSamples: 100 }), (e: unknown) => e instanceof AudioFileError && e.message.startsWith(`${cutFlac}: `));
  assert.throws(() => openAudioStream(join(FIX, 'stereo16.wav'), { pieceSamples: 0 }), /pieceSamples must be a positive integer/);
  // compressed formats are decoded whole, under a size limit
  const mp3 = join(FIX, 'compressed', 'speech_hello.mp3');
  assert.throws(
    () => openAudioStream(mp3, { pieceSamples: 100, maxWholeFileBytes: 1000 }),
    /speech_hello\.mp3: MPEG audio \(MP3\) cannot be read in pieces .* convert it to FLAC or WAV/,
  );
  const s = openAudioStream(mp3, { pieceSamples: 1600, targetSampleRate: 16000 });
  assert.equal(s.blockwise, false);
  const whole = (await loadAudioAsync(mp3, { targetSampleRate: 16000 })).samples;
  assert.ok(maxAbsDiff(await readAll(mp3, { pieceSamples: 1600, targetSampleRate: 16000 }), whole) <= 1e-6);
});
