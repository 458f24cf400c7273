// Provenance: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor / nemo.collections.asr.parts.preprocessing.features.FilterbankFeatures (+ normalize_batch)
import { readFileSync } from 'node:fs';
import * as t from '../torch/index.js';
import { readNpy } from '../torch/serialize/npy.js';
import { scalarTypeCode } from '../torch/dtype.js';
import { melFilterbank } from './mel.js';

/** NeMo's `normalize`: 'per_feature', 'all_features', anything else (e.g. 'NA', '') = none, or fixed statistics. */
export type NormalizeType = string | null | FixedNormalization;
export interface FixedNormalization {
  /** F values (one per feature), or B*F as NeMo's normalize_batch literally reshapes them. */
  fixed_mean: number[];
  fixed_std: number[];
}

export type WindowName = 'hann' | 'hamming' | 'blackman' | 'bartlett' | 'none';

/** The preprocessor section of a NeMo config, with NeMo's key names and AudioToMelSpectrogramPreprocessor's defaults. */
export interface PreprocessorConfig {
  sample_rate: number;
  /** Seconds; win_length = int(window_size * sample_rate). Use either this or n_window_size. */
  window_size: number | null;
  window_stride: number | null;
  n_window_size: number | null;
  n_window_stride: number | null;
  window: WindowName | null;
  normalize: NormalizeType;
  n_fft: number | null;
  preemph: number | null;
  features: number;
  lowfreq: number;
  highfreq: number | null;
  log: boolean;
  log_zero_guard_type: 'add' | 'clamp';
  log_zero_guard_value: number | 'tiny' | 'eps';
  dither: number;
  pad_to: number | 'max';
  frame_splicing: number;
  exact_pad: boolean;
  pad_value: number;
  mag_power: number;
  nb_augmentation_prob: number;
  nb_max_freq: number;
  mel_norm: 'slaney' | null;
  /** FilterbankFeatures arguments (not exposed by AudioToMelSpectrogramPreprocessor; NeMo's defaults). */
  use_grads: boolean;
  max_duration: number;
  /** Only false is supported (FilterbankFeaturesTA is out of scope). */
  use_torchaudio: boolean;
  /** Deprecated in NeMo, accepted and ignored. */
  stft_exact_pad: boolean;
  stft_conv: boolean;
  /**
   * streamnest's switch for NeMo <= 2.4 (before commit 0fd4de5): lengths floor(n/hop)+1, reflect centre padding,
   * no zeroing of samples >= length after pre-emphasis, NaN std (L == 1) not repaired.
   */
  legacy: boolean;
}

export const PREPROCESSOR_DEFAULTS: Readonly<PreprocessorConfig> = Object.freeze({
  sample_rate: 16000,
  window_size: 0.02,
  window_stride: 0.01,
  n_window_size: null,
  n_window_stride: null,
  window: 'hann',
  normalize: 'per_feature',
  n_fft: null,
  preemph: 0.97,
  features: 64,
  lowfreq: 0,
  highfreq: null,
  log: true,
  log_zero_guard_type: 'add',
  log_zero_guard_value: 2 ** -24,
  dither: 1e-5,
  pad_to: 16,
  frame_splicing: 1,
  exact_pad: false,
  pad_value: 0,
  mag_power: 2.0,
  nb_augmentation_prob: 0.0,
  nb_max_freq: 4000,
  mel_norm: 'slaney',
  use_grads: false,
  max_duration: 16.7,
  use_torchaudio: false,
  stft_exact_pad: false,
  stft_conv: false,
  legacy: false,
});

/** The NEST / FastConformer preprocessor (80 mels, 25 ms / 10 ms, n_fft 512, per_feature). */
export const NEST_PREPROCESSOR: Readonly<Partial<PreprocessorConfig>> = Object.freeze({
  sample_rate: 16000,
  normalize: 'per_feature',
  window_size: 0.025,
  window_stride: 0.01,
  window: 'hann',
  features: 80,
  n_fft: 512,
  log: true,
  frame_splicing: 1,
  dither: 1e-5,
  pad_to: 16,
  pad_value: 0.0,
});

export class PreprocessorConfigError extends Error {
  constructor(msg: string) {
    super(`src/audio/preprocessor.ts: ${msg}`);
    this.name = 'PreprocessorConfigError';
  }
}

const IGNORED_KEYS = new Set(['_target_']);

/** Merges a (NeMo YAML) preprocessor section over the defaults, rejecting unknown keys and bad values. */
export function resolvePreprocessorConfig(partial: Record<string, unknown> = {}): PreprocessorConfig {
  const cfg: Record<string, unknown> = { ...PREPROCESSOR_DEFAULTS };
  for (const [k, v] of Object.entries(partial)) {
    if (IGNORED_KEYS.has(k)) continue;
    if (!(k in PREPROCESSOR_DEFAULTS)) throw new PreprocessorConfigError(`unknown preprocessor key '${k}'`);
    cfg[k] = v === undefined ? (PREPROCESSOR_DEFAULTS as Record<string, unknown>)[k] : v;
  }
  const c = cfg as unknown as PreprocessorConfig;
  if (c.use_torchaudio) throw new PreprocessorConfigError('use_torchaudio: true (FilterbankFeaturesTA) is not supported');
  if (!(c.sample_rate > 0)) throw new PreprocessorConfigError(`sample_rate must be positive, got ${c.sample_rate}`);
  if (c.log_zero_guard_type !== 'add' && c.log_zero_guard_type !== 'clamp') {
    throw new PreprocessorConfigError(`log_zero_guard_type must be 'add' or 'clamp', got '${String(c.log_zero_guard_type)}'`);
  }
  const g = c.log_zero_guard_value;
  if (typeof g === 'string' ? g !== 'tiny' && g !== 'eps' : typeof g !== 'number') {
    throw new PreprocessorConfigError(`log_zero_guard_value must be a number, 'tiny' or 'eps', got '${String(g)}'`);
  }
  if (c.window !== null && !['hann', 'hamming', 'blackman', 'bartlett', 'none'].includes(c.window)) {
    throw new PreprocessorConfigError(`unknown window '${String(c.window)}'`);
  }
  if (c.mel_norm !== null && c.mel_norm !== 'slaney') throw new PreprocessorConfigError(`mel_norm must be 'slaney' or null, got '${String(c.mel_norm)}'`);
  if (!Number.isInteger(c.frame_splicing) || c.frame_splicing < 1) throw new PreprocessorConfigError(`frame_splicing must be a positive integer`);
  if (c.pad_to !== 'max' && !(typeof c.pad_to === 'number' && Number.isInteger(c.pad_to) && c.pad_to >= 0)) {
    throw new PreprocessorConfigError(`pad_to must be a non-negative integer or 'max', got '${String(c.pad_to)}'`);
  }
  if (typeof c.normalize === 'object' && c.normalize !== null) {
    const n = c.normalize;
    if (!Array.isArray(n.fixed_mean) || !Array.isArray(n.fixed_std) || n.fixed_mean.length !== n.fixed_std.length) {
      throw new PreprocessorConfigError('normalize as fixed statistics needs arrays fixed_mean and fixed_std of equal length');
    }
  }
  return c;
}

/** Sizes derived from the config exactly as NeMo derives them. */
export interface FrontEndGeometry {
  winLength: number;
  hopLength: number;
  nFft: number;
  /** (n_fft - hop) // 2 with exact_pad, else null (centred STFT). */
  stftPadAmount: number | null;
  highfreq: number;
  /** Output feature count (features * frame_splicing). */
  numFeatures: number;
}

export function frontEndGeometry(c: PreprocessorConfig): FrontEndGeometry {
  if (c.window_size && c.n_window_size) throw new PreprocessorConfigError('both window_size and n_window_size are set; give only one (set window_size: null)');
  if (c.window_stride && c.n_window_stride)
    throw new PreprocessorConfigError('both window_stride and n_window_stride are set; give only one (set window_stride: null)');
  const winLength = c.window_size ? Math.trunc(c.window_size * c.sample_rate) : c.n_window_size; // Python int() truncation
  const hopLength = c.window_stride ? Math.trunc(c.window_stride * c.sample_rate) : c.n_window_stride;
  if (!Number.isInteger(winLength) || !Number.isInteger(hopLength) || winLength! <= 0 || hopLength! <= 0) {
    throw new PreprocessorConfigError(`window and stride must resolve to positive integers of samples, got ${winLength} and ${hopLength}`);
  }
  if (c.exact_pad && hopLength! % 2 === 1) throw new PreprocessorConfigError('exact_pad needs an even hop length');
  const nFft = c.n_fft || 2 ** Math.ceil(Math.log2(winLength!));
  if (winLength! > nFft) throw new PreprocessorConfigError(`window length ${winLength} exceeds n_fft ${nFft}`);
  return {
    winLength: winLength!,
    hopLength: hopLength!,
    nFft,
    stftPadAmount: c.exact_pad ? Math.floor((nFft - hopLength!) / 2) : null,
    highfreq: c.highfreq || c.sample_rate / 2,
    numFeatures: c.features * c.frame_splicing,
  };
}

/** FilterbankFeatures.get_seq_len for one length in samples (plus NeMo's seq_len == 0 -> 0 fix). */
export function featureLength(n: number, g: FrontEndGeometry, legacy = false): number {
  if (n === 0) return 0;
  const padAmount = g.stftPadAmount !== null ? g.stftPadAmount * 2 : Math.floor(g.nFft / 2) * 2;
  return Math.floor((n + padAmount - g.nFft) / g.hopLength) + (legacy ? 1 : 0);
}

/** torch.finfo(float32).tiny / .eps, or the number itself. */
export function logGuardValue(v: number | 'tiny' | 'eps'): number {
  if (v === 'tiny') return 1.1754943508222875e-38;
  if (v === 'eps') return 1.1920928955078125e-7;
  return v;
}

/**
 * Reads fixed normalisation statistics: a .json {fixed_mean, fixed_std} (what `streamnest stats` writes) or a .npy of
 * shape [2, F] (row 0 mean, row 1 std). Refuses, naming the file and field, NaN/Inf, a std <= 0 and (given
 * expectFeatures) a wrong feature count.
 */
export function readFixedNormalization(path: string, expectFeatures?: number): FixedNormalization {
  let mean: number[];
  let std: number[];
  try {
    if (path.endsWith('.npy')) {
      const a = readNpy(path);
      const shape = a.shape;
      const v = a.toArray();
      a.dispose();
      if (shape.length !== 2 || shape[0] !== 2) throw new Error(`expected shape [2, F], got [${shape.join(', ')}]`);
      mean = v.slice(0, shape[1]);
      std = v.slice(shape[1]);
    } else {
      const j = JSON.parse(readFileSync(path, 'utf8')) as Partial<FixedNormalization>;
      if (!Array.isArray(j.fixed_mean) || !Array.isArray(j.fixed_std)) throw new Error('expected keys fixed_mean and fixed_std (arrays)');
      for (const field of ['fixed_mean', 'fixed_std'] as const) {
        const bad = (j[field] as unknown[]).findIndex((x) => typeof x !== 'number');
        if (bad >= 0) throw new Error(`${field}[${bad}] is ${JSON.stringify((j[field] as unknown[])[bad])}; expected a number`);
      }
      mean = j.fixed_mean;
      std = j.fixed_std;
    }
  } catch (e) {
    throw new PreprocessorConfigError(`cannot read normalisation statistics from ${path}: ${(e as Error).message}`);
  }
  if (mean.length !== std.length || mean.length === 0)
    throw new PreprocessorConfigError(`${path}: fixed_mean and fixed_std must be non-empty and of equal length`);
  if (expectFeatures !== undefined && mean.length !== expectFeatures) {
    throw new PreprocessorConfigError(`${path}: fixed_mean has ${mean.length} values; the preprocessor has ${expectFeatures} features`);
  }
  for (const [field, v] of [
    ['fixed_mean', mean],
    ['fixed_std', std],
  ] as const) {
    const bad = v.findIndex((x) => !Number.isFinite(x) || (field === 'fixed_std' && x <= 0));
    if (bad >= 0)
      throw new PreprocessorConfigError(
        `${path}: ${field}[${bad}] is ${v[bad]}; expected ${field === 'fixed_std' ? 'a finite positive standard deviation' : 'a finite number'}`,
      );
  }
  return { fixed_mean: mean, fixed_std: std };
}

function makeWindow(name: WindowName | null, length: number): t.Tensor | null {
  switch (name) {
    case 'hann':
      return t.hannWindow(length, false);
    case 'hamming':
      return t.hammingWindow(length, false);
    case 'blackman':
      return t.call(t.op('aten::blackman_window', 'periodic'), length, false, scalarTypeCode('float32'), null, t.currentDefaultDevice());
    case 'bartlett':
      return t.call(t.op('aten::bartlett_window', 'periodic'), length, false, scalarTypeCode('float32'), null, t.currentDefaultDevice());
    default:
      return null; // 'none' or unknown: torch.stft's rectangular window (FilterbankFeatures registers None)
  }
}

export interface FeatureOutput {
  /** [B, F, T] float32 */
  features: t.Tensor;
  /** [B] int64 valid frame counts */
  lengths: t.Tensor;
}

export interface ForwardOptions {
  /** Random source for dither (and narrow-band augmentation) in training mode. */
  generator?: t.Generator;
}

function lengthsToArray(lengths: t.Tensor | readonly number[], batch: number): number[] {
  const a = Array.isArray(lengths) ? [...(lengths as readonly number[])] : (lengths as t.Tensor).toArray();
  if (a.length !== batch) throw new RangeError(`src/audio/preprocessor.ts: ${a.length} lengths for a batch of ${batch}`);
  return a;
}

// Provenance: nemo.collections.asr.parts.preprocessing.features.FilterbankFeatures
export class FilterbankFeatures extends t.Module {
  readonly cfg: PreprocessorConfig;
  readonly geometry: FrontEndGeometry;
  /** [win_length] float32, or null for window 'none' */
  readonly window: t.Tensor | null;
  /** [1, features, n_fft/2+1] float32 */
  readonly fb: t.Tensor;
  /** Output frames with pad_to: 'max'. */
  readonly maxLength: number;
  generator: t.Generator | null;

  constructor(cfg: PreprocessorConfig, generator: t.Generator | null = null) {
    super();
    this.cfg = cfg;
    this.generator = generator;
    this.geometry = frontEndGeometry(cfg);
    const g = this.geometry;
    this.window = this.registerBuffer('window', makeWindow(cfg.window, g.winLength));
    const nBins = Math.floor(g.nFft / 2) + 1;
    const fb = melFilterbank({ sampleRate: cfg.sample_rate, nFft: g.nFft, nMels: cfg.features, fmin: cfg.lowfreq, fmax: g.highfreq, norm: cfg.mel_norm });
    this.fb = this.registerBuffer('fb', t.tensor(fb, [1, cfg.features, nBins])); // [1, F, nBins]
    // NeMo: get_seq_len(max_duration * sample_rate) (+ pad for an integer pad_to; pad_to 'max' itself adds none).
    this.maxLength = featureLength(Math.floor(cfg.max_duration * cfg.sample_rate), g, cfg.legacy);
    if (typeof cfg.pad_to === 'number' && cfg.pad_to > 0) this.maxLength += cfg.pad_to - (this.maxLength % cfg.pad_to);
  }

  /** Valid frame counts for sample counts (NeMo's get_seq_len with the zero-length fix). */
  featureLengths(samples: readonly number[]): number[] {
    return samples.map((n) => featureLength(n, this.geometry, this.cfg.legacy));
  }

  /**
   * x [B, N] audio (cast to float32), lengths [B] in samples -> features [B, F, T], lengths [B] int64.
   * T = 1 + floor(N / hop) (centred STFT), then padded to a multiple of pad_to.
   */
  forward(x: t.Tensor, lengths: t.Tensor | readonly number[], o: ForwardOptions = {}): FeatureOutput {
    if (x.ndim !== 2) throw new RangeError(`src/audio/preprocessor.ts: input must be [B, N], got [${x.shape.join(', ')}]`);
    const [batch, nSamples] = x.shape as [number, number];
    if (nSamples === 0) throw new RangeError('src/audio/preprocessor.ts: input has no samples');
    const nIn = lengthsToArray(lengths, batch);
    for (const n of nIn) {
      if (!Number.isInteger(n) || n < 0 || n > nSamples) throw new RangeError(`src/audio/preprocessor.ts: length ${n} outside [0, ${nSamples}]`);
    }
    // float32 even inside an autocast scope (NeMo's FilterbankFeatures disables autocast around the STFT and the mel matmul)
    const run = (): FeatureOutput => t.autocastOff(() => t.tidy(() => this.compute(x, nIn, o)));
    return this.cfg.use_grads ? run() : t.noGrad(run);
  }

  private compute(input: t.Tensor, nIn: number[], o: ForwardOptions): FeatureOutput {
    const c = this.cfg;
    const g = this.geometry;
    const batch = input.shape[0]!;
    const seqLen = this.featureLengths(nIn);
    const device = input.device;
    let x = input.dtype === 'float32' ? input : input.float(); // [B, N]
    if (g.stftPadAmount !== null) {
      const p = g.stftPadAmount;
      x = t.pad(x.unsqueeze(1), [p, p], c.legacy ? 'reflect' : 'constant').squeeze(1); // [B, N + 2p]
    }
    const gen = o.generator ?? this.generator;
    if (this.training && c.dither > 0) {
      if (!gen) throw new Error('src/audio/preprocessor.ts: dither in training mode needs a Generator (forward option or constructor)');
      const noise = t.randn(x.shape, { generator: gen }); // CPU generator; moved to x's device
      x = x.add((device === 'cpu' ? noise : noise.to({ device })).mul(c.dither));
    }
    if (this.training && c.nb_augmentation_prob > 0 && !gen) throw new Error('src/audio/preprocessor.ts: narrow-band augmentation needs a Generator');
    const n = x.shape[1]!;
    if (c.preemph !== null && c.preemph !== undefined) {
      const head = x.narrow(1, 0, 1); // [B, 1]
      const tail = x.narrow(1, 1, n - 1).sub(x.narrow(1, 0, n - 1).mul(c.preemph)); // [B, N-1]
      x = t.cat([head, tail], 1); // [B, N]
      if (!c.legacy) {
        // NeMo compares with the unpadded sample counts, even when exact_pad has padded x.
        const lens = t.tensor(nIn, [batch, 1], { dtype: 'int64', device });
        const timemask = t.arange(0, n, 1, { device }).unsqueeze(0).lt(lens); // [B, N]
        x = x.maskedFill(t.logicalNot(timemask), 0.0);
      }
    }
    if (g.stftPadAmount === null) {
      const half = Math.floor(g.nFft / 2);
      x = t.pad(x.unsqueeze(1), [half, half], c.legacy ? 'reflect' : 'constant').squeeze(1); // [B, N + n_fft] (torch.stft center=True)
    }
    let m = this.spectralFrames(x, this.training ? gen : null); // [B, F, T]
    const frames = m.shape[2]!;
    const lensT = t.tensor(seqLen, [batch], { dtype: 'int64', device });
    m = normalizeBatch(m, lensT, c.normalize, c.legacy);
    const padMask = t.arange(0, frames, 1, { device }).unsqueeze(0).ge(lensT.unsqueeze(1)); // [B, T]
    m = m.maskedFill(padMask.unsqueeze(1), c.pad_value);
    if (c.pad_to === 'max') {
      // F.pad with a negative amount crops, as in NeMo.
      m = this.maxLength >= frames ? t.pad(m, [0, this.maxLength - frames], 'constant', c.pad_value) : m.narrow(2, 0, this.maxLength); // [B, F, maxLength]
    } else if (c.pad_to > 0) {
      const r = frames % c.pad_to;
      if (r !== 0) m = t.pad(m, [0, c.pad_to - r], 'constant', c.pad_value); // [B, F, ceil(T/pad_to)*pad_to]
    }
    return { features: m, lengths: lensT };
  }

  /**
   * The per-frame part of the pipeline on an already padded, pre-emphasised signal:
   * x [B, M] -> log-mel [B, F*splice, 1 + floor((M - n_fft) / hop)] (STFT with center=False, |X|^mag_power, mel, log, splicing).
   * `augment` (training only) enables narrow-band augmentation with that generator.
   */
  spectralFrames(x: t.Tensor, augment: t.Generator | null = null): t.Tensor {
    const c = this.cfg;
    const g = this.geometry;
    // float32 under autocast too, as NeMo disables autocast around the STFT and the mel matmul (the streaming
    // front end calls this directly, not through forward)
    return t.autocastOff(() =>
      t.tidy(() => {
        const batch = x.shape[0]!;
        const device = x.device;
        const window = this.window && this.window.device !== device ? this.window.to({ device }) : this.window;
        const spec = t.stft(x, { nFft: g.nFft, hopLength: g.hopLength, winLength: g.winLength, window, center: false }); // [B, nBins, T, 2]
        let s = spec.pow(2).sum(-1); // [B, nBins, T]
        s = (c.use_grads ? s.add(1e-5) : s).sqrt();
        if (augment && c.nb_augmentation_prob > 0 && c.nb_max_freq < c.sample_rate / 2) {
          const nbBin = Math.trunc((c.nb_max_freq / c.sample_rate) * g.nFft);
          const draws = t.rand([batch], { generator: augment }).toArray();
          const keepBins = t.arange(0, s.shape[1]!, 1, { device }).lt(nbBin).to({ dtype: 'float32' }).view([1, -1, 1]); // [1, nBins, 1]
          const hit = t.tensor(
            draws.map((d) => (d < c.nb_augmentation_prob ? 1 : 0)),
            [batch, 1, 1],
            { device },
          ); // [B, 1, 1]
          s = s.mul(t.sub(1, hit.mul(t.sub(1, keepBins)))); // [B, nBins, T]
        }
        if (c.mag_power !== 1.0) s = s.pow(c.mag_power);
        let m = this.fb.to({ dtype: s.dtype, device }).matmul(s); // [B, F, T]
        if (c.log) {
          const guard = logGuardValue(c.log_zero_guard_value);
          m = c.log_zero_guard_type === 'add' ? m.add(guard).log() : m.clamp(guard).log();
        }
        if (c.frame_splicing > 1)
          m = t.cat(
            Array.from({ length: c.frame_splicing }, () => m),
            1,
          ); // [B, F*splice, T] (NeMo stacks unshifted copies)
        return m;
      }),
    );
  }
}

/** nemo...features.normalize_batch: x [B, F, T], seqLen [B] int64 -> normalised x [B, F, T]. */
export function normalizeBatch(x: t.Tensor, seqLen: t.Tensor, type: NormalizeType, legacy = false): t.Tensor {
  if (!type) return x;
  return t.tidy(() => {
    const [batch, feats, time] = x.shape as [number, number, number];
    const device = x.device;
    if (type === 'per_feature') {
      const valid = t.arange(0, time, 1, { device }).unsqueeze(0).expand([batch, time]).lt(seqLen.unsqueeze(1)); // [B, T]
      const v3 = valid.unsqueeze(1); // [B, 1, T]
      const num = t.where(v3, x, 0.0).sum(2); // [B, F]
      const den = valid.sum(1); // [B] int64
      const mean = num.div(den.unsqueeze(1)); // [B, F]
      const centred = t.where(v3, x.sub(mean.unsqueeze(2)), 0.0); // [B, F, T]
      let std = centred.pow(2).sum(2).div(den.unsqueeze(1).sub(1.0)).sqrt(); // [B, F]
      if (!legacy) std = std.maskedFill(t.isnan(std), 0.0);
      std = std.add(1e-5);
      return x.sub(mean.unsqueeze(2)).div(std.unsqueeze(2));
    }
    if (type === 'all_features') {
      const lens = seqLen.toArray();
      const means: t.Tensor[] = [];
      const stds: t.Tensor[] = [];
      for (let i = 0; i < batch; i++) {
        const xi = x.select(0, i).narrow(1, 0, lens[i]!); // [F, L]
        means.push(xi.mean());
        stds.push(t.std(xi));
      }
      const mean = t.stack(means).view([batch, 1, 1]);
      const std = t.stack(stds).add(1e-5).view([batch, 1, 1]);
      return x.sub(mean).div(std);
    }
    if (typeof type === 'object') {
      const k = type.fixed_mean.length;
      if (k !== feats && k !== batch * feats) {
        throw new RangeError(`src/audio/preprocessor.ts: fixed statistics hold ${k} values, need ${feats} (or ${batch * feats})`);
      }
      const shape = k === feats ? [1, feats, 1] : [batch, feats, 1];
      const mean = t.tensor(type.fixed_mean, shape, { dtype: 'float32', device });
      const std = t.tensor(type.fixed_std, shape, { dtype: 'float32', device });
      return x.sub(mean).div(std);
    }
    return x; // 'NA', 'None' and any other string: identity
  });
}

// Provenance: nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor
export class AudioToMelSpectrogramPreprocessor extends t.Module {
  readonly cfg: PreprocessorConfig;
  readonly featurizer: FilterbankFeatures;

  /** cfg: a (partial) NeMo preprocessor section; unspecified keys take NeMo's defaults. */
  constructor(cfg: Record<string, unknown> | PreprocessorConfig = {}, generator: t.Generator | null = null) {
    super();
    this.cfg = resolvePreprocessorConfig(cfg as Record<string, unknown>);
    this.featurizer = this.registerModule('featurizer', new FilterbankFeatures(this.cfg, generator));
  }

  get geometry(): FrontEndGeometry {
    return this.featurizer.geometry;
  }

  /** input_signal [B, N], length [B] samples -> processed_signal [B, F, T] float32, processed_length [B] int64. */
  forward(inputSignal: t.Tensor, length: t.Tensor | readonly number[], o: ForwardOptions = {}): FeatureOutput {
    return this.featurizer.forward(inputSignal, length, o);
  }
}
