// MP3, Opus (Ogg, WebM) and Vorbis decoding against reference decodes by independent decoders (ffmpeg's mp3float and
// vorbis, libopus through ffmpeg; test/fixtures/audio/compressed/, made by tools/fixtures/make_compressed_audio.sh),
// content sniffing under a wrong extension, windows, and truncated/corrupt/unsupported input as AudioFileErrors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAudioAsync, decodeAudioBytes, loadAudio, loadAudioAsync, sniffAudioFormat } from '../../src/audio/load-audio.js';
import { sniffAudioBytes } from '../../src/audio/sniff.js';
import { AudioFileError, decodeWav, decodeWavBuffer } from '../../src/audio/wav.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'audio', 'compressed');
const dir = mkdtempSync(join(tmpdir(), 'streamnest-compressed-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function reference(file: string): Float32Array {
  const raw = readFileSync(join(FIX, file));
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
}

// [file, reference decode, format, rate, channels, expected length, tolerance (max |ours - reference|)]
const CASES = [
  // libmpg123 against ffmpeg's own float MP3 decoder: the same frames, float rounding apart
  ['speech_hello.mp3', 'speech_hello.mp3.mp3float.f32', 'mp3', 16000, 1, 19008, 2e-6],
  ['stereo16.mp3', 'stereo16.mp3.mp3float.f32', 'mp3', 16000, 2, 4000, 4e-6],
  // ogg-opus-decoder's libopus build differs from ffmpeg's libopus by at most half a 16-bit step
  ['speech_hello.opus', 'speech_hello.opus.libopus.f32', 'ogg-opus', 48000, 1, 52149, 2e-5],
  ['stereo16.opus', 'stereo16.opus.libopus.f32', 'ogg-opus', 48000, 2, 12000, 2e-5],
  // libvorbis against ffmpeg's vorbis decoder; ffmpeg keeps 25 samples past the last granule position, we trim them
  ['speech_hello.ogg', 'speech_hello.ogg.vorbis.f32', 'ogg-vorbis', 16000, 1, 17383, 1e-6],
  // opus-decoder (fed by our WebM demuxer) is bit-exact with ffmpeg's libopus
  ['speech_hello.webm', 'speech_hello.webm.libopus.f32', 'webm', 48000, 1, 52149, 0],
] as const;

for (const [file, ref, format, rate, channels, length, tol] of CASES) {
  test(`${file} decodes like the reference decoder (max difference ${tol})`, async () => {
    assert.equal(sniffAudioFormat(join(FIX, file)), format);
    const d = await decodeAudioAsync(join(FIX, file));
    assert.equal(d.sampleRate, rate);
    assert.equal(d.channels.length, channels);
    assert.equal(d.channels[0]!.length, length);
    const r = reference(ref);
    assert.ok(r.length >= length * channels, `reference has ${r.length / channels} frames`);
    let max = 0;
    for (let i = 0; i < length; i++) for (let c = 0; c < channels; c++) max = Math.max(max, Math.abs(d.channels[c]![i]! - r[i * channels + c]!));
    assert.ok(max <= tol, `max difference ${max} > ${tol}`);
    let energy = 0;
    for (const x of d.channels[0]!) energy += x * x;
    assert.ok(energy > 1, 'decoded audio is not silence');
  });
}

test('the format comes from the content: a wrong extension changes nothing', async () => {
  for (const [file, disguise] of [
    ['speech_hello.mp3', 'a.wav'],
    ['speech_hello.opus', 'b.mp3'],
    ['speech_hello.ogg', 'c.flac'],
    ['speech_hello.webm', 'd.ogg'],
  ] as const) {
    const p = join(dir, disguise);
    writeFileSync(p, readFileSync(join(FIX, file)));
    const a = await loadAudioAsync(p, { targetSampleRate: 16000 });
    const b = await loadAudioAsync(join(FIX, file), { targetSampleRate: 16000 });
    assert.deepEqual(a.samples, b.samples, `${file} as ${disguise}`);
    assert.equal(a.sampleRate, 16000);
  }
});

test('an ID3v2 tag before MPEG frames is MP3, before fLaC is FLAC', () => {
  const tag = Buffer.concat([Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x0a', 'latin1'), Buffer.alloc(10)]);
  assert.equal(sniffAudioBytes(Buffer.concat([tag, readFileSync(join(FIX, 'speech_hello.mp3'))]), 'x'), 'mp3');
  assert.equal(sniffAudioBytes(Buffer.concat([tag, readFileSync(join(FIX, '..', 'stereo16.flac'))]), 'x'), 'flac');
});

test('offset/duration windows of compressed audio are slices of the whole decode (as NeMo cuts them)', async () => {
  for (const file of ['speech_hello.mp3', 'speech_hello.opus', 'speech_hello.ogg', 'speech_hello.webm']) {
    const whole = await decodeAudioAsync(join(FIX, file));
    const win = await decodeAudioAsync(join(FIX, file), { offset: 0.2, duration: 0.5 });
    const sr = whole.sampleRate;
    const start = Math.trunc(0.2 * sr);
    assert.deepEqual(win.channels[0], whole.channels[0]!.subarray(start, start + Math.trunc(0.5 * sr)), file);
  }
  await assert.rejects(decodeAudioAsync(join(FIX, 'speech_hello.mp3'), { offset: 5 }), (e: unknown) => e instanceof AudioFileError && e.reason === 'empty');
});

test('the synchronous loadAudio refuses compressed audio and points at loadAudioAsync; WAV bytes decode like the file', () => {
  assert.throws(
    () => loadAudio(join(FIX, 'speech_hello.mp3')),
    (e: unknown) => e instanceof AudioFileError && e.reason === 'unsupported' && /MP3.*loadAudioAsync/.test(e.message),
  );
  const wav = join(GOLDEN, 'audio', 'speech_hello.wav');
  assert.deepEqual(decodeWavBuffer(readFileSync(wav), 'x.wav', { offset: 0.1, duration: 0.3 }), decodeWav(wav, { offset: 0.1, duration: 0.3 }));
});

test('recognised but unsupported formats are named', () => {
  const oggPage = (packet: string): Buffer => {
    const h = Buffer.alloc(28);
    h.write('OggS', 0, 'latin1');
    h[26] = 1;
    h[27] = packet.length;
    return Buffer.concat([h, Buffer.from(packet, 'latin1')]);
  };
  const cases: [Buffer, RegExp][] = [
    [oggPage('\x7fFLAC\x01\x00\x00\x01'), /Ogg FLAC: not supported/],
    [oggPage('Speex   version'), /Speex in Ogg: not supported/],
    [Buffer.from('\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00', 'latin1'), /AAC in MP4.*not supported/],
    [Buffer.from('\xff\xf1\x50\x80\x00\x1f\xfc', 'latin1'), /AAC in ADTS: not supported/],
    [Buffer.from('FORM\x00\x00\x00\x00AIFF', 'latin1'), /AIFF: not supported/],
    [Buffer.from('RF64\xff\xff\xff\xffWAVE', 'latin1'), /RF64 WAV: not supported/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(
      () => sniffAudioBytes(bytes, 'clip.bin'),
      (e: unknown) => e instanceof AudioFileError && e.reason === 'unsupported' && re.test(e.message) && e.message.startsWith('clip.bin: '),
      String(re),
    );
  }
});

test('a WebM with a codec other than Opus is refused naming the codec', async () => {
  const webm = Buffer.from(readFileSync(join(FIX, 'speech_hello.webm')));
  const at = webm.indexOf('A_OPUS');
  webm.write('A_AAC\x00', at, 'latin1'); // same length: the element sizes still hold
  await assert.rejects(
    decodeAudioBytes(webm, 'x.webm'),
    (e: unknown) => e instanceof AudioFileError && /A_AAC.*in WebM\/Matroska: not supported/.test(e.message),
  );
});

test('truncated compressed files get a truncated error naming the file', async () => {
  for (const file of ['speech_hello.mp3', 'stereo16.mp3', 'speech_hello.opus', 'speech_hello.ogg', 'speech_hello.webm']) {
    const bytes = readFileSync(join(FIX, file));
    for (const keep of [0.3, 0.6, 0.97]) {
      const p = join(dir, `cut-${keep}-${file}`);
      writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length * keep)));
      await assert.rejects(
        decodeAudioAsync(p),
        (e: unknown) => e instanceof AudioFileError && e.reason === 'truncated' && e.message.includes(p),
        `${file} cut to ${keep}`,
      );
    }
  }
});

test('corrupt compressed files fail with AudioFileErrors or decode, never anything else', async () => {
  let seed = 7;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  let errors = 0;
  for (const file of ['speech_hello.mp3', 'stereo16.opus', 'speech_hello.ogg', 'speech_hello.webm']) {
    const clean = readFileSync(join(FIX, file));
    for (let k = 0; k < 12; k++) {
      const b = Uint8Array.from(clean);
      const p = Math.floor(rnd() * b.length);
      b.fill(Math.floor(rnd() * 256), p, Math.min(b.length, p + 1 + Math.floor(rnd() * 300)));
      try {
        const d = await decodeAudioBytes(b, file);
        for (const c of d.channels) for (const x of c) assert.ok(Number.isFinite(x));
      } catch (e) {
        assert.ok(e instanceof AudioFileError, `${file}: ${(e as Error).stack}`);
        assert.ok((e as Error).message.startsWith(`${file}: `));
        errors++;
      }
    }
  }
  assert.ok(errors > 0, 'some of the damaged streams are reported');
});
