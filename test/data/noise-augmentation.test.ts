import test from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/data/rng.js';
import {
  augmentBatch,
  augmentationFromConfig,
  MULTI_SPEAKER_DEFAULTS,
  NEST_AUGMENTATION,
  type NoiseAugmentationConfig,
  type PaddedBatch,
} from '../../src/data/noise-augmentation.js';

function makeBatch(lens: number[], noiseLens: number[], seed: number): PaddedBatch {
  const rng = new Rng(seed);
  const B = lens.length;
  const N = Math.max(...lens);
  const audio = new Float32Array(B * N);
  const noise = new Float32Array(B * N);
  for (let i = 0; i < B; i++) {
    const f = 100 + 50 * i;
    for (let t = 0; t < lens[i]!; t++) audio[i * N + t] = 0.3 * Math.sin((2 * Math.PI * f * t) / 16000) + 0.05 * rng.normal();
    for (let t = 0; t < Math.min(noiseLens[i]!, N); t++) noise[i * N + t] = 0.1 * rng.normal();
  }
  return { batchSize: B, maxLen: N, audio, audioLens: Int32Array.from(lens), noise, noiseLens: Int32Array.from(noiseLens) };
}

function energyDb(audio: Float32Array, noise: Float32Array, off: number, len: number): number {
  let ea = 0;
  let en = 0;
  for (let t = 0; t < len; t++) {
    ea += audio[off + t]! ** 2;
    en += noise[off + t]! ** 2;
  }
  return 10 * Math.log10(ea / en);
}

const ALWAYS: NoiseAugmentationConfig = { ...MULTI_SPEAKER_DEFAULTS, prob: 1, noiseRatio: 0.5, minMixRate: 0.2, maxMixRate: 0.8 };

test('augmentation: produced SNR / energy ratio equals the drawn value; clean audio untouched; noisy = audio + noise', () => {
  const lens = [16000, 24000, 20000, 32000, 17000, 30000];
  const b = makeBatch(lens, [8000, 24000, 40000, 1000, 17000, 30000], 1);
  const audioBefore = b.audio.slice();
  const noiseBefore = b.noise.slice();
  const modes = new Set<string>();
  for (let seed = 0; seed < 6; seed++) {
    const { batch: out, draws } = augmentBatch(b, ALWAYS, new Rng(seed));
    assert.deepEqual(b.audio, audioBefore, 'clean audio modified');
    assert.deepEqual(b.noise, noiseBefore, 'input noise modified');
    assert.equal(out.audio, b.audio);
    const N = out.maxLen;
    for (const d of draws) {
      assert.ok(d.applied);
      modes.add(d.mode!);
      const len = lens[d.item]!;
      const snr = energyDb(out.audio, out.noise, d.item * N, len);
      assert.ok(Math.abs(snr - d.ratioDb!) < 1e-3, `item ${d.item} (${d.mode}): measured ${snr} dB, drawn ${d.ratioDb} dB`);
      const range = d.mode === 'noise' ? [ALWAYS.minRNoise, ALWAYS.maxRNoise] : [ALWAYS.minRSpeech, ALWAYS.maxRSpeech];
      assert.ok(d.ratioDb! >= range[0]! && d.ratioDb! <= range[1]!);
      assert.equal(
        d.segmentLens!.reduce((a, x) => a + x, 0),
        d.mixLen,
      );
      assert.ok(d.mixLen! >= Math.floor(len * 0.2) && d.mixLen! <= Math.floor(len * 0.8));
      assert.equal(out.noiseLens[d.item], len);
      // interference only inside the placed segments, nothing past the utterance
      const inside = new Uint8Array(N);
      d.starts!.forEach((s, j) => {
        inside.fill(1, s, s + d.segmentLens![j]!);
      });
      for (let t = 0; t < N; t++) if (!inside[t]) assert.equal(out.noise[d.item * N + t], 0, `item ${d.item} sample ${t} outside segments`);
      for (let t = len; t < N; t++) assert.equal(out.noise[d.item * N + t], 0);
    }
    for (let k = 0; k < out.audio.length; k++) assert.equal(out.noisyAudio[k], Math.fround(out.audio[k]! + out.noise[k]!));
    assert.deepEqual(out.noisyLens, out.noiseLens);
  }
  assert.deepEqual([...modes].sort(), ['noise', 'speech']);
});

test('augmentation: NEST settings give one half-length segment; speech mode copies another utterance', () => {
  const lens = [16000, 20000, 24000, 18000];
  const b = makeBatch(lens, lens, 2);
  const cfg = { ...NEST_AUGMENTATION, prob: 1, noiseRatio: 0 };
  const { batch: out, draws } = augmentBatch(b, cfg, new Rng(3));
  const N = out.maxLen;
  for (const d of draws) {
    assert.equal(d.mode, 'speech');
    assert.equal(d.mixLen, Math.floor(lens[d.item]! / 2));
    assert.deepEqual(d.segmentLens, [d.mixLen]);
    assert.equal(d.speakers!.length, 1);
    assert.notEqual(d.speakers![0], d.item);
    const start = d.starts![0]!;
    assert.ok(start >= 0 && start <= lens[d.item]! - d.mixLen! - 1);
    // the segment is scale * a contiguous window of the speaker's clean audio
    const spk = d.speakers![0]!;
    const seg = Array.from(out.noise.subarray(d.item * N + start, d.item * N + start + d.mixLen!)).map((x) => x / d.scale!);
    const src = Array.from(b.audio.subarray(spk * N, spk * N + lens[spk]!));
    const first = seg[0]!;
    let found = -1;
    for (let s = 0; s + seg.length <= src.length && found < 0; s++) {
      if (Math.abs(src[s]! - first) < 1e-6 && seg.every((x, k) => Math.abs(x - src[s + k]!) < 1e-5)) found = s;
    }
    assert.ok(found >= 0, `item ${d.item}: segment not found in speaker ${spk}`);
  }
});

test('augmentation: skipped items keep the raw noise (faithful) or get none; B = 1 always uses noise mode', () => {
  const b = makeBatch([16000, 20000], [5000, 20000], 4);
  const off = { ...ALWAYS, prob: 0 };
  const faithful = augmentBatch(b, off, new Rng(0)).batch;
  assert.deepEqual(faithful.noise, b.noise);
  assert.deepEqual(Array.from(faithful.noisyLens), [5000, 20000]);
  const fixed = augmentBatch(b, { ...off, faithfulSkipNoise: false }, new Rng(0)).batch;
  assert.ok(fixed.noise.every((x) => x === 0));
  assert.deepEqual(Array.from(fixed.noisyLens), [16000, 20000]);
  assert.deepEqual(fixed.noisyAudio, b.audio);
  const single = makeBatch([16000], [16000], 5);
  for (let s = 0; s < 5; s++) {
    const { draws } = augmentBatch(single, { ...ALWAYS, noiseRatio: 0 }, new Rng(s));
    assert.equal(draws[0]!.mode, 'noise');
  }
});

test('augmentation: seeded and resumable from the Rng state', () => {
  const b = makeBatch([16000, 20000, 24000], [16000, 8000, 24000], 6);
  const rng = new Rng(11);
  rng.random();
  const saved = JSON.parse(JSON.stringify(rng.getState()));
  const a = augmentBatch(b, ALWAYS, rng).batch;
  const c = augmentBatch(b, ALWAYS, Rng.fromState(saved)).batch;
  assert.deepEqual(a.noise, c.noise);
  assert.notDeepEqual(augmentBatch(b, ALWAYS, new Rng(12)).batch.noise, a.noise);
});

test('augmentation config: NeMo YAML keys, validation errors name the key', () => {
  const cfg = augmentationFromConfig({
    _target_: 'nemo.collections.asr.modules.ssl_modules.MultiSpeakerNoiseAugmentation',
    prob: 0.5,
    noise_ratio: 0.5,
    min_r_speech: -5.0,
    max_r_speech: 5.0,
    min_r_noise: -5.0,
    max_r_noise: 20.0,
    min_mix_rate: 0.5,
    max_mix_rate: 0.5,
    min_num_segments: 1,
    max_num_segments: 1,
    min_num_speakers: 1,
    max_num_speakers: 1,
  });
  assert.deepEqual(cfg, NEST_AUGMENTATION);
  assert.throws(() => augmentationFromConfig({ prob: 1.5 }), /batch_augmentor: prob must be in \[0, 1\]/);
  assert.throws(() => augmentationFromConfig({ min_mix_rate: 0.8, max_mix_rate: 0.5 }), /min_mix_rate/);
  assert.throws(() => augmentationFromConfig({ probb: 0.5 }), /batch_augmentor\.probb: unknown key/);
});
