// Chunk-exact streaming features: any split of the audio gives the offline preprocessor's valid frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readWav } from '../../src/audio/wav.js';
import { AudioToMelSpectrogramPreprocessor } from '../../src/audio/preprocessor.js';
import { FeatureStream, FeatureStreamError, type FeatureStreamState } from '../../src/audio/feature-stream.js';
import { GOLDEN } from '../helpers/assert.js';

const STREAM_CFG = { sample_rate: 16000, normalize: 'NA', window_size: 0.025, window_stride: 0.01, features: 80, n_fft: 512, dither: 1e-5, pad_to: 16 };

/** Offline features of one clip: [F, T] and the valid length. */
function offline(pre: AudioToMelSpectrogramPreprocessor, x: Float32Array): { feats: number[][]; length: number; total: number } {
  return t.tidy(() => {
    const out = pre.forward(t.tensor(x, [1, x.length]), [x.length]);
    const [, F, T] = out.features.shape as [number, number, number];
    const v = out.features.toArray();
    const length = out.lengths.toArray()[0]!;
    const feats = Array.from({ length: F }, (_, f) => v.slice(f * T, (f + 1) * T));
    for (let f = 0; f < F; f++) for (let tt = length; tt < T; tt++) assert.equal(feats[f]![tt], 0, 'offline frames beyond length are masked');
    return { feats, length, total: T };
  });
}

/** Deterministic pseudo-random chunk sizes (xorshift). */
function splits(n: number, seed: number, maxChunk: number, oneSampleStretch: [number, number] | null): number[] {
  let s = seed >>> 0 || 1;
  const rnd = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const out: number[] = [];
  let pos = 0;
  while (pos < n) {
    let k = 1 + Math.floor(rnd() * maxChunk);
    if (oneSampleStretch && pos >= oneSampleStretch[0] && pos < oneSampleStretch[1]) k = 1;
    k = Math.min(k, n - pos);
    out.push(k);
    pos += k;
  }
  return out;
}

function streamAll(fs: FeatureStream, x: Float32Array, sizes: number[]): number[][] {
  const F = fs.numFeatures;
  const cols: number[][] = Array.from({ length: F }, () => []);
  const take = (frames: t.Tensor): void => {
    const [f, k] = frames.shape as [number, number];
    assert.equal(f, F);
    const v = frames.toArray();
    for (let i = 0; i < F; i++) for (let j = 0; j < k; j++) cols[i]!.push(v[i * k + j]!);
    frames.dispose();
  };
  let state: FeatureStreamState = fs.initState();
  let pos = 0;
  for (const k of sizes) {
    const r = fs.push(x.subarray(pos, pos + k), state);
    take(r.frames);
    state = r.state;
    pos += k;
  }
  const r = fs.flush(state);
  take(r.frames);
  assert.equal(r.state.finished, true);
  return cols;
}

function maxDiff(a: number[][], b: number[][], frames: number): number {
  let m = 0;
  for (let f = 0; f < a.length; f++) for (let j = 0; j < frames; j++) m = Math.max(m, Math.abs(a[f]![j]! - b[f]![j]!));
  return m;
}

for (const clip of ['speech_hello', 'chirp_noise', 'speech_edge']) {
  test(`${clip}: random chunking (with a stretch of 1-sample chunks) equals the offline features`, () => {
    const x = readWav(join(GOLDEN, 'audio', `${clip}.wav`)).samples;
    const pre = new AudioToMelSpectrogramPreprocessor(STREAM_CFG).eval();
    const fs = new FeatureStream(pre);
    const ref = offline(pre, x);
    const live = t.liveTensorCount();
    const configs: [number, [number, number] | null][] = [
      [4000, [1000, 1700]],
      [700, null],
      [97, [x.length - 500, x.length]],
    ];
    configs.forEach(([maxChunk, stretch], i) => {
      const got = streamAll(fs, x, splits(x.length, 17 + i, maxChunk, stretch));
      assert.equal(got[0]!.length, ref.length, `frame count after flush (${maxChunk})`);
      const d = maxDiff(got, ref.feats, ref.length);
      assert.ok(d <= 1e-5, `max abs diff ${d} (chunks up to ${maxChunk})`);
    });
    const whole = streamAll(fs, x, [x.length]);
    assert.ok(maxDiff(whole, ref.feats, ref.length) <= 1e-5);
    assert.equal(t.liveTensorCount(), live, 'streaming leaked tensors');
    pre.dispose();
  });
}

test('fixed statistics stream too; per-utterance normalisation is refused with a clear error', () => {
  const x = readWav(join(GOLDEN, 'audio', 'speech_hello.wav')).samples.subarray(0, 6000);
  const stats = { fixed_mean: Array.from({ length: 80 }, (_, i) => -8 + i * 0.05), fixed_std: Array.from({ length: 80 }, (_, i) => 3 + i * 0.01) };
  const pre = new AudioToMelSpectrogramPreprocessor({ ...STREAM_CFG, normalize: stats }).eval();
  const ref = offline(pre, x);
  const got = streamAll(new FeatureStream(pre), x, splits(x.length, 5, 333, null));
  assert.equal(got[0]!.length, ref.length);
  assert.ok(maxDiff(got, ref.feats, ref.length) <= 1e-5);
  pre.dispose();
  for (const normalize of ['per_feature', 'all_features']) {
    const p = new AudioToMelSpectrogramPreprocessor({ ...STREAM_CFG, normalize });
    assert.throws(
      () => new FeatureStream(p),
      (e: unknown) => e instanceof FeatureStreamError && /cannot stream/.test((e as Error).message),
    );
    p.dispose();
  }
});

test('short inputs, frame timing and misuse', () => {
  const pre = new AudioToMelSpectrogramPreprocessor(STREAM_CFG).eval();
  const fs = new FeatureStream(pre);
  // Fewer than hop samples: no valid frame at all, as offline (length 0).
  for (const n of [0, 1, 159, 160, 161, 399]) {
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i / 7) * 0.3);
    const got = streamAll(fs, x, n === 0 ? [] : [n]);
    assert.equal(got[0]!.length, Math.floor(n / 160), `n=${n}`);
    if (n > 0) {
      const ref = offline(pre, x);
      assert.ok(maxDiff(got, ref.feats, ref.length) <= 1e-5);
    }
  }
  // Frame τ is emitted as soon as its window (samples up to 160τ + 199) has arrived.
  let s = fs.initState();
  let r = fs.push(new Float32Array(199), s);
  assert.equal(r.frames.shape[1], 0);
  r.frames.dispose();
  r = fs.push(new Float32Array(1), r.state);
  assert.equal(r.frames.shape[1], 1);
  r.frames.dispose();
  r = fs.push(new Float32Array(160), r.state);
  assert.equal(r.frames.shape[1], 1);
  r.frames.dispose();
  s = fs.flush(r.state).state;
  assert.throws(() => fs.push(new Float32Array(1), s), /after flush/);
  assert.throws(() => fs.flush(s), /twice/);
  pre.dispose();
});

test('a 30-second chunk in one push (several STFT calls) equals the offline features', () => {
  const n = 16000 * 30 + 123;
  const g = new t.Generator(2);
  const x = t.tidy(() => t.randn([n], { generator: g }).mul(0.05).data() as Float32Array);
  const pre = new AudioToMelSpectrogramPreprocessor(STREAM_CFG).eval();
  const ref = offline(pre, x);
  const got = streamAll(new FeatureStream(pre), x, [n]);
  assert.equal(got[0]!.length, ref.length);
  assert.equal(ref.length, 3000);
  assert.ok(maxDiff(got, ref.feats, ref.length) <= 1e-5);
  pre.dispose();
});
