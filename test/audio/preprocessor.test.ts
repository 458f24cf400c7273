// Golden parity of the NeMo mel preprocessor (AudioToMelSpectrogramPreprocessor / FilterbankFeatures) and its pieces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { readWav } from '../../src/audio/wav.js';
import { hzToMel, melFilterbank, melToHz } from '../../src/audio/mel.js';
import {
  AudioToMelSpectrogramPreprocessor,
  featureLength,
  frontEndGeometry,
  resolvePreprocessorConfig,
  PreprocessorConfigError,
} from '../../src/audio/preprocessor.js';
import { assertClose, GOLDEN } from '../helpers/assert.js';

interface GoldenCase {
  id: string;
  config: Record<string, unknown>;
  inputs: { audio: string[]; input_signal_length: number[] };
  outputs: Record<string, { file: string; shape: number[] }>;
  tolerance: { atol: number; p99_9_abs: number };
}
const INDEX = JSON.parse(readFileSync(join(GOLDEN, 'index.json'), 'utf8')) as { cases: GoldenCase[] };
const goldenCase = (id: string): GoldenCase => {
  const c = INDEX.cases.find((x) => x.id === id);
  if (!c) throw new Error(`golden case ${id} missing`);
  return c;
};

/** The clips as NeMo's test fed them: int16 / 32768 float32, zero-padded to the longest. */
function goldenBatch(c: GoldenCase): { x: t.Tensor; lengths: number[] } {
  const clips = c.inputs.audio.map((a) => readWav(join(GOLDEN, a)).samples);
  const lengths = clips.map((s) => s.length);
  assert.deepEqual(lengths, c.inputs.input_signal_length);
  const n = Math.max(...lengths);
  const flat = new Float32Array(clips.length * n);
  clips.forEach((s, i) => {
    flat.set(s, i * n);
  });
  return { x: t.tensor(flat, [clips.length, n]), lengths };
}

function percentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

for (const id of ['preproc/nest_per_feature', 'preproc/nest_NA']) {
  test(`golden ${id}: features within atol and p99.9, exact lengths, exact zero padding`, () => {
    const c = goldenCase(id);
    const pre = new AudioToMelSpectrogramPreprocessor(c.config).eval();
    const live = t.liveTensorCount();
    t.tidy(() => {
      const { x, lengths } = goldenBatch(c);
      const out = pre.forward(x, lengths);
      const want = readNpy(join(GOLDEN, c.outputs.processed_signal!.file));
      const wantLen = readNpy(join(GOLDEN, c.outputs.processed_signal_length!.file));
      assert.deepEqual(out.features.shape, want.shape);
      assert.equal(out.lengths.dtype, 'int64');
      assert.deepEqual(out.lengths.toArray(), wantLen.toArray());
      assert.equal(out.features.shape[2]! % 16, 0);
      const a = out.features.toArray();
      const e = want.toArray();
      const [, F, T] = want.shape as [number, number, number];
      const lens = wantLen.toArray();
      const diffs: number[] = [];
      for (let b = 0; b < lens.length; b++) {
        for (let f = 0; f < F; f++) {
          for (let tt = 0; tt < T; tt++) {
            const i = (b * F + f) * T + tt;
            if (tt >= lens[b]!) assert.ok(a[i] === 0 && e[i] === 0, `padding at b=${b} f=${f} t=${tt} is ${a[i]}`);
            else diffs.push(Math.abs(a[i]! - e[i]!));
          }
        }
      }
      const maxDiff = Math.max(...diffs);
      const p999 = percentile(diffs, 0.999);
      assert.ok(maxDiff <= c.tolerance.atol, `max abs diff ${maxDiff} > ${c.tolerance.atol}`);
      assert.ok(p999 <= c.tolerance.p99_9_abs, `p99.9 abs diff ${p999} > ${c.tolerance.p99_9_abs}`);
      // Same float32 libtorch kernels as NeMo: observed max ~2e-6; a much larger gap means a real change.
      assert.ok(maxDiff <= 1e-4, `max abs diff ${maxDiff}: far above the ~2e-6 this port reaches`);
    });
    assert.equal(t.liveTensorCount(), live, 'forward leaked tensors');
    pre.dispose();
  });
}

test('mel filterbank equals librosa (featurizer_fb.npy) and the spec sanity values', () => {
  const want = readNpy(join(GOLDEN, 'preproc', 'featurizer_fb.npy'));
  const fb = melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 80 });
  const rep = assertClose(Array.from(fb), want, 0, 0, 'fb'); // bit-exact: librosa's two float32 roundings reproduced
  assert.equal(rep.maxAbs, 0);
  want.dispose();
  assert.ok(Math.abs(hzToMel(8000) - 45.24564047) < 1e-7);
  assert.ok(Math.abs(melToHz(45.24564047) - 8000) < 1e-3);
  assert.ok(Math.abs(fb[1]! - 0.02253456) < 1e-8 && Math.abs(fb[2]! - 0.0086377105) < 1e-8);
  assert.equal(fb[0], 0);
  let sum = 0;
  for (const v of fb) sum += v;
  assert.ok(Math.abs(sum - 2.5582609) < 1e-5, `sum ${sum}`);
  for (let m = 0; m < 80; m++) assert.ok(fb[m * 257] === 0 && fb[m * 257 + 256] === 0);
});

test('buffers load a NeMo state dict strictly (featurizer.window, featurizer.fb) and match the golden ones', () => {
  const pre = new AudioToMelSpectrogramPreprocessor(goldenCase('preproc/nest_NA').config);
  const sd = pre.stateDict();
  assert.deepEqual([...sd.keys()], ['featurizer.window', 'featurizer.fb']);
  t.tidy(() => {
    const w = readNpy(join(GOLDEN, 'preproc', 'featurizer_window.npy'));
    const fb = readNpy(join(GOLDEN, 'preproc', 'featurizer_fb.npy'));
    assertClose(sd.get('featurizer.window')!, w, 1e-7, 0, 'window');
    assertClose(sd.get('featurizer.fb')!, fb, 1e-8, 0, 'fb');
    pre.loadStateDict(
      new Map([
        ['featurizer.window', w],
        ['featurizer.fb', fb],
      ]),
    );
  });
  const prefixed = pre.stateDict('preprocessor');
  assert.deepEqual([...prefixed.keys()], ['preprocessor.featurizer.window', 'preprocessor.featurizer.fb']);
  pre.dispose();
});

test('config: NeMo defaults, window resolution, lengths formula, legacy switch, bad keys', () => {
  const d = resolvePreprocessorConfig({});
  assert.equal(d.features, 64);
  assert.equal(d.window_size, 0.02);
  const g = frontEndGeometry(resolvePreprocessorConfig({ window_size: 0.025, n_fft: null }));
  assert.deepEqual([g.winLength, g.hopLength, g.nFft], [400, 160, 512]);
  for (const n of [0, 1, 159, 160, 161, 28000, 37675]) {
    assert.equal(featureLength(n, g), n === 0 ? 0 : Math.floor(n / 160));
    assert.equal(featureLength(n, g, true), n === 0 ? 0 : Math.floor(n / 160) + 1);
  }
  assert.throws(() => resolvePreprocessorConfig({ windw: 'hann' }), PreprocessorConfigError);
  assert.throws(() => frontEndGeometry(resolvePreprocessorConfig({ n_window_size: 400 })), /both window_size and n_window_size/);
  assert.throws(() => resolvePreprocessorConfig({ log_zero_guard_type: 'max' }), /log_zero_guard_type/);
});

test('per_feature with a single valid frame gives finite values; legacy mode gives more frames and reflect padding', () => {
  t.tidy(() => {
    const x = t.randn([2, 800], { generator: new t.Generator(3) }).mul(0.1);
    const pre = new AudioToMelSpectrogramPreprocessor({ window_size: 0.025, features: 80, n_fft: 512, dither: 0, pad_to: 0 }).eval();
    const out = pre.forward(x, [800, 170]);
    assert.deepEqual(out.lengths.toArray(), [5, 1]);
    assert.deepEqual(out.features.shape, [2, 80, 6]);
    assert.ok(out.features.toArray().every(Number.isFinite));
    const legacy = new AudioToMelSpectrogramPreprocessor({
      window_size: 0.025,
      features: 80,
      n_fft: 512,
      dither: 0,
      pad_to: 0,
      legacy: true,
      normalize: 'NA',
    }).eval();
    const lo = legacy.forward(x, [800, 170]);
    assert.deepEqual(lo.lengths.toArray(), [6, 2]);
    pre.dispose();
    legacy.dispose();
  });
});

test('dither needs a generator in training mode and is reproducible with one', () => {
  t.tidy(() => {
    const pre = new AudioToMelSpectrogramPreprocessor({ window_size: 0.025, features: 80, n_fft: 512, normalize: 'NA' });
    const x = t.zeros([1, 1600]);
    assert.throws(() => pre.forward(x, [1600]), /Generator/);
    const a = pre.forward(x, [1600], { generator: new t.Generator(7) }).features.toArray();
    const b = pre.forward(x, [1600], { generator: new t.Generator(7) }).features.toArray();
    assert.deepEqual(a, b);
    assert.ok(
      a.some((v) => v > Math.log(2 ** -24) + 1),
      'dither noise visible',
    );
    pre.dispose();
  });
});

test('normalize all_features and fixed statistics', () => {
  t.tidy(() => {
    const x = t.randn([1, 4000], { generator: new t.Generator(1) }).mul(0.1);
    const base = { window_size: 0.025, features: 80, n_fft: 512, dither: 0, pad_to: 0 };
    const na = new AudioToMelSpectrogramPreprocessor({ ...base, normalize: 'NA' }).eval();
    const raw = na.forward(x, [4000]).features;
    const all = new AudioToMelSpectrogramPreprocessor({ ...base, normalize: 'all_features' }).eval();
    const a = all.forward(x, [4000]).features;
    const valid = a.narrow(2, 0, 25);
    assert.ok(Math.abs(valid.mean().item()) < 1e-4);
    assert.ok(Math.abs(t.std(valid).item() - 1) < 1e-3);
    const mean = Array.from({ length: 80 }, (_, i) => -5 + i * 0.01);
    const std = Array.from({ length: 80 }, (_, i) => 2 + i * 0.1);
    const fixed = new AudioToMelSpectrogramPreprocessor({ ...base, normalize: { fixed_mean: mean, fixed_std: std } }).eval();
    const f = fixed.forward(x, [4000]).features;
    const expect = raw
      .sub(t.tensor(mean, [1, 80, 1]))
      .div(t.tensor(std, [1, 80, 1]))
      .narrow(2, 0, 25);
    assertClose(f.narrow(2, 0, 25), expect, 1e-6, 0, 'fixed');
    for (const m of [na, all, fixed]) m.dispose();
  });
});

/**
 * Independent float64 reference of spec §3-§5 by direct DFT (no torch.stft): log-mel of frames `taus` of one clip.
 * mode 'current': zero centre padding; 'legacy': reflect centre padding; 'exact': exact_pad (176 zeros each side,
 * no centring) with NeMo's time mask applied in padded coordinates (it zeroes the clip's last 176 samples).
 */
function referenceLogMel(x: Float32Array, taus: number[], mode: 'current' | 'legacy' | 'exact'): number[][] {
  const n = x.length;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = i === 0 ? x[0]! : x[i]! - 0.97 * x[i - 1]!;
  let xp: Float64Array;
  if (mode === 'exact') {
    xp = new Float64Array(n + 352);
    xp.set(y, 176);
    for (let i = n; i < xp.length; i++) xp[i] = 0; // NeMo's timemask: padded index >= n
  } else {
    xp = new Float64Array(n + 512);
    xp.set(y, 256);
    if (mode === 'legacy') {
      for (let j = 0; j < 256; j++) {
        xp[255 - j] = y[j + 1]!;
        xp[256 + n + j] = y[n - 2 - j]!;
      }
    }
  }
  const w512 = new Float64Array(512);
  for (let j = 0; j < 400; j++) w512[56 + j] = 0.5 - 0.5 * Math.cos((2 * Math.PI * j) / 399);
  const fb = melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 80 });
  const cos = Float64Array.from({ length: 512 }, (_, i) => Math.cos((2 * Math.PI * i) / 512));
  const sin = Float64Array.from({ length: 512 }, (_, i) => Math.sin((2 * Math.PI * i) / 512));
  return taus.map((tau) => {
    const p = new Float64Array(257);
    for (let k = 0; k < 257; k++) {
      let re = 0;
      let im = 0;
      for (let u = 56; u < 456; u++) {
        const v = xp[160 * tau + u]! * w512[u]!;
        const idx = (k * u) % 512;
        re += v * cos[idx]!;
        im -= v * sin[idx]!;
      }
      p[k] = re * re + im * im;
    }
    return Array.from({ length: 80 }, (_, m) => {
      let s = 0;
      for (let k = 0; k < 257; k++) s += fb[m * 257 + k]! * p[k]!;
      return Math.log(s + 2 ** -24);
    });
  });
}

test('STFT padding modes against a direct float64 DFT: zero centring, legacy reflect, exact_pad', () => {
  const n = 2345;
  const g = new t.Generator(11);
  const x = Float32Array.from(
    t.tidy(() => t.randn([n], { generator: g }).mul(0.05).toArray()),
    (v, i) => v + 0.3 * Math.sin(i * 0.07),
  );
  const base = { window_size: 0.025, features: 80, n_fft: 512, dither: 0, pad_to: 0, normalize: 'NA' };
  const cases: { mode: 'current' | 'legacy' | 'exact'; cfg: Record<string, unknown>; frames: number; length: number }[] = [
    { mode: 'current', cfg: base, frames: 15, length: 14 },
    { mode: 'legacy', cfg: { ...base, legacy: true }, frames: 15, length: 15 },
    // exact_pad: STFT frames floor(n / hop); NeMo (current) lengths are one fewer (get_seq_len lost its +1 for every mode).
    { mode: 'exact', cfg: { ...base, exact_pad: true }, frames: 14, length: 13 },
  ];
  for (const c of cases) {
    const pre = new AudioToMelSpectrogramPreprocessor(c.cfg).eval();
    t.tidy(() => {
      const out = pre.forward(t.tensor(x, [1, n]), [n]);
      assert.deepEqual(out.features.shape, [1, 80, c.frames], c.mode);
      assert.deepEqual(out.lengths.toArray(), [c.length], c.mode);
      const taus = [0, 1, 7, c.length - 1];
      const ref = referenceLogMel(x, taus, c.mode);
      const v = out.features.toArray();
      taus.forEach((tau, i) => {
        for (let m = 0; m < 80; m++) {
          const d = Math.abs(v[m * c.frames + tau]! - ref[i]![m]!);
          assert.ok(d < 2e-3, `${c.mode}: frame ${tau} mel ${m} differs by ${d}`);
        }
      });
      for (let m = 0; m < 80; m++) for (let tau = c.length; tau < c.frames; tau++) assert.equal(v[m * c.frames + tau], 0);
    });
    pre.dispose();
  }
});

test('legacy mode keeps the samples past each length (no time mask), current mode makes items padding-invariant', () => {
  const g = new t.Generator(5);
  t.tidy(() => {
    const clip = t.randn([1, 1000], { generator: g }).mul(0.1);
    const padded = t.cat([clip, t.randn([1, 600], { generator: g }).mul(0.1)], 1); // junk after the valid 1000 samples
    const base = { window_size: 0.025, features: 80, n_fft: 512, dither: 0, pad_to: 0, normalize: 'NA' };
    const cur = new AudioToMelSpectrogramPreprocessor(base).eval();
    const a = cur.forward(clip, [1000]).features.narrow(2, 0, 6);
    const b = cur.forward(padded, [1000]).features.narrow(2, 0, 6);
    assert.ok(a.sub(b).abs().max().item() < 1e-5, 'current NeMo: features ignore samples past the length');
    const leg = new AudioToMelSpectrogramPreprocessor({ ...base, legacy: true }).eval();
    const c2 = leg.forward(padded, [1000]).features.narrow(2, 6, 1); // frame 6 is valid in legacy (L = 7) and spans samples 760..1159
    const d2 = leg.forward(clip, [1000]).features.narrow(2, 6, 1);
    assert.ok(c2.sub(d2).abs().max().item() > 1e-3, 'legacy NeMo: the last valid frame sees the junk');
    cur.dispose();
    leg.dispose();
  });
});
