// model.preprocessor — NeMo's AudioToMelSpectrogramPreprocessor (spec 01). Defaults are the class defaults.

import type { KeyTable } from '../key-status.js';
import { isAtMost, isOneOf, noEffect, noEffectAll, refuseUnless, refuseWhen } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';

export type WindowName = 'hann' | 'hamming' | 'blackman' | 'bartlett' | 'none';

/**
 * `normalize: {fixed_mean, fixed_std}`: fixed per-feature statistics (streaming-safe: the same for every frame).
 * Both null: to be estimated from the training manifest when pretraining starts (streamnest stats does it by hand).
 */
export interface FixedStatisticsSpec {
  readonly fixed_mean: readonly number[] | null;
  readonly fixed_std: readonly number[] | null;
}

export function isFixedStatistics(n: unknown): n is FixedStatisticsSpec {
  return n !== null && typeof n === 'object' && !Array.isArray(n) && 'fixed_mean' in n;
}

export interface PreprocessorConfig {
  readonly sample_rate: number;
  /** Seconds; `n_window_size` (samples) is the alternative. */
  readonly window_size: number | null;
  readonly window_stride: number | null;
  readonly n_window_size: number | null;
  readonly n_window_stride: number | null;
  readonly window: WindowName;
  /** `per_feature`, `all_features`; fixed statistics; anything else (e.g. `NA`) or null means no normalisation. */
  readonly normalize: string | null | FixedStatisticsSpec;
  readonly n_fft: number | null;
  readonly preemph: number | null;
  readonly features: number;
  readonly lowfreq: number;
  readonly highfreq: number | null;
  readonly log: boolean;
  readonly log_zero_guard_type: 'add' | 'clamp';
  readonly log_zero_guard_value: number | 'tiny' | 'eps';
  readonly dither: number;
  readonly pad_to: number | 'max';
  readonly frame_splicing: number;
  readonly exact_pad: boolean;
  readonly pad_value: number;
  readonly mag_power: number;
  readonly mel_norm: 'slaney' | null;
}

/** model.preprocessor keys (NeMo's AudioToMelSpectrogramPreprocessor). Also read from the configuration of a stored model. */
export const PREPROCESSOR_KEYS: KeyTable = {
  paths: ['model.preprocessor'],
  trainingOnly: false,
  honoured: [
    '_target_',
    'sample_rate',
    'window_size',
    'window_stride',
    'n_window_size',
    'n_window_stride',
    'window',
    'normalize',
    'n_fft',
    'preemph',
    'features',
    'lowfreq',
    'highfreq',
    'log',
    'log_zero_guard_type',
    'log_zero_guard_value',
    'dither',
    'pad_to',
    'frame_splicing',
    'exact_pad',
    'pad_value',
    'mag_power',
    'mel_norm',
  ],
  refused: {
    nb_augmentation_prob: {
      ...refuseWhen('narrow-band augmentation is not implemented', '0 or null', isAtMost(0)),
      trainingOnly: true,
    },
    use_torchaudio: {
      ...refuseUnless("torchaudio's filterbank (FilterbankFeaturesTA) is not implemented; streamnest computes NeMo's own, which differs slightly", [false]),
      trainingOnly: true,
    },
  },
  noEffect: {
    nb_max_freq: noEffect('only with nb_augmentation_prob, which is not implemented'),
    ...noEffectAll(['stft_exact_pad', 'stft_conv'], 'deprecated; NeMo ignores them too', isOneOf([false])),
    use_grads: noEffect('gradients never flow into the features', isOneOf([false])),
    rng: noEffect("dither draws from the model's own seeded generator", (v) => v === null),
  },
};

export function readPreprocessorConfig(r: SectionReader): PreprocessorConfig {
  r.classify(PREPROCESSOR_KEYS);
  r.target('AudioToMelSpectrogramPreprocessor');
  const window_size = r.nullableNumber('window_size', 0.02, { min: 0, minExclusive: true });
  const n_window_size = r.nullableInt('n_window_size', null, { min: 1 });
  const window_stride = r.nullableNumber('window_stride', 0.01, { min: 0, minExclusive: true });
  const n_window_stride = r.nullableInt('n_window_stride', null, { min: 1 });
  if (window_size !== null && n_window_size !== null) {
    r.problem('n_window_size', 'set either window_size (seconds) or n_window_size (samples), not both');
  }
  if (window_stride !== null && n_window_stride !== null) {
    r.problem('n_window_stride', 'set either window_stride (seconds) or n_window_stride (samples), not both');
  }
  let normalize: string | null | FixedStatisticsSpec = null;
  const n = r.value('normalize');
  if (n === undefined) normalize = 'per_feature';
  else if (n === null || typeof n === 'string') normalize = n;
  else if (n !== null && typeof n === 'object' && !Array.isArray(n))
    normalize = readFixedStatistics(r, n as Record<string, unknown>, r.int('features', 64, { min: 1 }));
  else
    r.problem(
      'normalize',
      `expected 'per_feature', 'all_features', {fixed_mean: [...], fixed_std: [...]} or another text meaning none; got ${JSON.stringify(n)}`,
    );

  let guard: number | 'tiny' | 'eps' = 2 ** -24;
  const g = r.value('log_zero_guard_value');
  if (g === 'tiny' || g === 'eps') guard = g;
  else if (g !== undefined) guard = r.checkNumber('log_zero_guard_value', g, false, { min: 0, minExclusive: true }) ?? guard;

  let pad_to: number | 'max' = 16;
  const p = r.value('pad_to');
  if (p === 'max') pad_to = 'max';
  else if (p !== undefined) pad_to = r.checkNumber('pad_to', p, true, { min: 0 }) ?? pad_to;

  const mel = r.value('mel_norm');
  let mel_norm: 'slaney' | null = 'slaney';
  if (mel === null) mel_norm = null;
  else if (mel !== undefined && mel !== 'slaney') r.problem('mel_norm', `must be 'slaney' or null; got ${JSON.stringify(mel)}`);

  const config: PreprocessorConfig = {
    sample_rate: r.int('sample_rate', 16000, { min: 1 }),
    window_size,
    window_stride,
    n_window_size,
    n_window_stride,
    window: r.oneOf('window', ['hann', 'hamming', 'blackman', 'bartlett', 'none'] as const, 'hann'),
    normalize,
    n_fft: r.nullableInt('n_fft', null, { min: 1 }),
    preemph: r.nullableNumber('preemph', 0.97, { min: 0, max: 1 }),
    features: r.int('features', 64, { min: 1 }),
    lowfreq: r.number('lowfreq', 0, { min: 0 }),
    highfreq: r.nullableNumber('highfreq', null, { min: 0 }),
    log: r.bool('log', true),
    log_zero_guard_type: r.oneOf('log_zero_guard_type', ['add', 'clamp'] as const, 'add'),
    log_zero_guard_value: guard,
    dither: r.number('dither', 1e-5, { min: 0 }),
    pad_to,
    frame_splicing: r.int('frame_splicing', 1, { min: 1 }),
    exact_pad: r.bool('exact_pad', false),
    pad_value: r.number('pad_value', 0),
    mag_power: r.number('mag_power', 2.0, { min: 0, minExclusive: true }),
    mel_norm,
  };
  r.finish();
  return config;
}

/** normalize: {fixed_mean, fixed_std}: F finite means and F finite positive stds, or both null (estimate them). */
function readFixedStatistics(r: SectionReader, n: Record<string, unknown>, features: number): FixedStatisticsSpec | null {
  const extra = Object.keys(n).filter((k) => k !== 'fixed_mean' && k !== 'fixed_std');
  if (extra.length) {
    r.problem(r.keyPath('normalize', extra[0]!), `normalize as fixed statistics takes only fixed_mean and fixed_std; got ${extra.join(', ')}`);
    return null;
  }
  const { fixed_mean: mean, fixed_std: std } = n;
  if ((mean === null || mean === undefined) && (std === null || std === undefined)) return { fixed_mean: null, fixed_std: null };
  let ok = true;
  const check = (key: 'fixed_mean' | 'fixed_std', v: unknown): number[] | null => {
    if (!Array.isArray(v)) {
      r.problem(
        r.keyPath('normalize', key),
        `expected a list of ${features} numbers (one per feature)${v === null || v === undefined ? '; set both fixed_mean and fixed_std, or both null to estimate them from the training manifest' : `; got ${JSON.stringify(v)}`}`,
      );
      ok = false;
      return null;
    }
    if (v.length !== features) {
      r.problem(r.keyPath('normalize', key), `has ${v.length} values; the preprocessor has ${features} features (one value per feature)`);
      ok = false;
      return null;
    }
    const bad = v.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x) || (key === 'fixed_std' && x <= 0));
    if (bad >= 0) {
      r.problem(
        r.keyPath('normalize', key, bad),
        `${JSON.stringify(v[bad])} is not ${key === 'fixed_std' ? 'a finite positive number (a standard deviation)' : 'a finite number'}`,
      );
      ok = false;
      return null;
    }
    return v as number[];
  };
  const m = check('fixed_mean', mean);
  const sd = check('fixed_std', std);
  return ok && m && sd ? { fixed_mean: m, fixed_std: sd } : null;
}
