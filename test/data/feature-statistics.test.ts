// Fixed feature statistics (NeMo's normalize: {fixed_mean, fixed_std}): the estimate against a float64 reference
// computed here from the same features, the stats files' validation, and the schema's checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { loadAudio, loadAudioAsync } from '../../src/audio/load-audio.js';
import { writeWav } from '../../src/audio/wav.js';
import { AudioToMelSpectrogramPreprocessor, readFixedNormalization } from '../../src/audio/preprocessor.js';
import { loadConfig } from '../../src/config/index.js';
import { estimateFeatureStatistics } from '../../src/data/feature-statistics.js';
import { readManifest } from '../../src/data/manifest.js';
import { REPO_ROOT } from '../reliability/harness/common.js';

const MANIFEST = join(REPO_ROOT, 'data', 'corpus', 'val_manifest.json');
const PRE = { sample_rate: 16000, normalize: 'NA', window_size: 0.025, window_stride: 0.01, features: 80, n_fft: 512, dither: 1e-5, pad_to: 16 };

test('estimateFeatureStatistics equals a float64 mean / unbiased std over every valid frame of every utterance', async () => {
  const { entries } = readManifest(MANIFEST);
  // reference: the same features (no dither), all valid frames pooled, summed in float64 here
  const pre = new AudioToMelSpectrogramPreprocessor({ ...PRE, dither: 0 }).eval();
  const sum = new Float64Array(80);
  const rows: number[][] = Array.from({ length: 80 }, () => []);
  for (const e of entries) {
    const a = loadAudio(e.audioFilepath, { targetSampleRate: 16000 });
    t.tidy(() => {
      const out = pre.forward(t.tensor(a.samples, [1, a.samples.length]), [a.samples.length]);
      const T = out.features.size(2);
      const L = out.lengths.toArray()[0]!;
      const v = out.features.toArray();
      for (let f = 0; f < 80; f++) for (let k = 0; k < L; k++) rows[f]!.push(v[f * T + k]!);
    });
  }
  pre.dispose();
  const n = rows[0]!.length;
  for (let f = 0; f < 80; f++) sum[f] = rows[f]!.reduce((a, c) => a + c, 0);
  const mean = Array.from(sum, (s) => s / n);
  const std = rows.map((r, f) => Math.sqrt(r.reduce((a, c) => a + (c - mean[f]!) ** 2, 0) / (n - 1)));
  const live = t.liveTensorCount();
  const progress: number[] = [];
  const s = await estimateFeatureStatistics(PRE, entries, (done) => progress.push(done));
  assert.equal(t.liveTensorCount(), live, 'the estimate leaked tensors');
  assert.equal(s.frames, n);
  assert.equal(s.utterances, entries.length);
  assert.deepEqual(
    progress,
    entries.map((_, i) => i + 1),
  );
  for (let f = 0; f < 80; f++) {
    assert.ok(Math.abs(s.fixed_mean[f]! - mean[f]!) <= 1e-9 * Math.max(1, Math.abs(mean[f]!)), `mean[${f}] ${s.fixed_mean[f]} vs ${mean[f]}`);
    assert.ok(Math.abs(s.fixed_std[f]! - std[f]!) <= 1e-9 * std[f]!, `std[${f}] ${s.fixed_std[f]} vs ${std[f]}`);
  }
  // the features normalised by them have mean 0 and std 1 over the manifest (up to float32 features)
  assert.ok(Math.abs(s.fixed_mean[40]!) > 1, 'log-mel has a large offset to remove');
});

test('compressed audio counts as any other: an MP3 and an Ogg Opus clip give the statistics of their decoded samples', async () => {
  const dir = join(REPO_ROOT, 'test', 'fixtures', 'audio', 'compressed');
  const entries = ['speech_hello.mp3', 'speech_hello.opus'].map((f) => ({
    audioFilepath: join(dir, f),
    duration: null,
    offset: 0,
    text: '',
    where: f,
  })) as never;
  const s = await estimateFeatureStatistics(PRE, entries);
  assert.equal(s.utterances, 2);
  assert.ok(s.frames > 50 && s.fixed_std.every((x) => x > 0), `${s.frames} frames`);
  // the same numbers as a 16-bit WAV copy of the decoded samples (up to that copy's rounding)
  const tmp = mkdtempSync(join(tmpdir(), 'streamnest-stats-'));
  try {
    const wavs = [];
    for (const f of ['speech_hello.mp3', 'speech_hello.opus']) {
      const a = await loadAudioAsync(join(dir, f), { targetSampleRate: 16000 });
      const w = join(tmp, `${f}.wav`);
      writeWav(w, a.samples, 16000);
      wavs.push({ audioFilepath: w, duration: null, offset: 0, text: '', where: w });
    }
    const ref = await estimateFeatureStatistics(PRE, wavs as never);
    assert.equal(ref.frames, s.frames);
    const worst = Math.max(...s.fixed_mean.map((m, i) => Math.abs(m - ref.fixed_mean[i]!)));
    assert.ok(worst < 0.02, `largest mean difference ${worst} (log-mel)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a silent manifest has no spread to estimate: an error naming the constant feature', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-stats-'));
  try {
    const wav = join(dir, 'silence.wav');
    writeWav(wav, new Float32Array(16000), 16000); // 1 s of digital silence
    const entries = [{ audioFilepath: wav, duration: 1, offset: 0, text: '', where: `${wav}` }] as never;
    await assert.rejects(
      () => estimateFeatureStatistics({ ...PRE, preemph: 0 }, entries),
      /feature 0 is constant over all 100 frames \(std 0\): the audio is silent or constant/,
    );
    await assert.rejects(() => estimateFeatureStatistics(PRE, []), /the manifest has no utterances/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stats files: a wrong feature count, NaN/Inf and a zero std are refused naming the file and the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-stats-'));
  try {
    const write = (name: string, mean: unknown[], std: unknown[]): string => {
      const p = join(dir, name);
      writeFileSync(p, JSON.stringify({ fixed_mean: mean, fixed_std: std }).replace(/"(NaN|Infinity)"/g, '$1'));
      return p;
    };
    const ok = write('ok.json', [1, 2, 3], [1, 1, 1]);
    assert.deepEqual(readFixedNormalization(ok, 3), { fixed_mean: [1, 2, 3], fixed_std: [1, 1, 1] });
    assert.throws(
      () => readFixedNormalization(ok, 80),
      new RegExp(`${ok.replace(/[/.]/g, '\\$&')}: fixed_mean has 3 values; the preprocessor has 80 features`),
    );
    // JSON has no NaN: a NaN arrives as null, an overflow as Infinity
    const nan = write('nan.json', [1, null, 3], [1, 1, 1]);
    assert.throws(() => readFixedNormalization(nan), /nan\.json: fixed_mean\[1\] is null; expected a number/);
    const inf = join(dir, 'inf.json');
    writeFileSync(inf, '{"fixed_mean": [1, 2, 1e999], "fixed_std": [1, 1, 1]}');
    assert.throws(() => readFixedNormalization(inf), /inf\.json: fixed_mean\[2\] is Infinity; expected a finite number/);
    const zero = write('zero.json', [1, 2, 3], [1, 0, 1]);
    assert.throws(() => readFixedNormalization(zero), /zero\.json: fixed_std\[1\] is 0; expected a finite positive standard deviation/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the schema: fixed statistics are checked per key; both null asks for an estimate; other shapes are refused', () => {
  const base = ['model.train_ds.manifest_filepath=x.json'];
  const stats = `{fixed_mean: [${Array(80).fill(-9).join(',')}], fixed_std: [${Array(80).fill(3).join(',')}]}`;
  const c = loadConfig('tiny', [...base, `model.preprocessor.normalize=${stats}`]).config;
  assert.deepEqual((c.model.preprocessor.normalize as unknown as { fixed_std: number[] }).fixed_std, Array(80).fill(3));
  const est = loadConfig('tiny', [...base, 'model.preprocessor.normalize={fixed_mean: null, fixed_std: null}']).config;
  assert.deepEqual(est.model.preprocessor.normalize, { fixed_mean: null, fixed_std: null });
  const refuse = (value: string, re: RegExp): void => assert.throws(() => loadConfig('tiny', [...base, `model.preprocessor.normalize=${value}`]), re);
  refuse('{fixed_mean: [1, 2], fixed_std: [1, 2]}', /model\.preprocessor\.normalize\.fixed_mean .*has 2 values; the preprocessor has 80 features/);
  refuse(
    `{fixed_mean: [${Array(80).fill(0).join(',')}], fixed_std: [${[0, ...Array(79).fill(1)].join(',')}]}`,
    /model\.preprocessor\.normalize\.fixed_std\[0\] .*0 is not a finite positive number/,
  );
  refuse(`{fixed_mean: [${Array(80).fill(0).join(',')}], fixed_std: null}`, /normalize\.fixed_std .*set both fixed_mean and fixed_std, or both null/);
  refuse('{fixed_mean: null, fixed_std: null, mean: 1}', /takes only fixed_mean and fixed_std; got mean/);
  refuse('[1, 2]', /expected 'per_feature', 'all_features', \{fixed_mean/);
});
