// Global per-feature statistics of the log-mel features over a manifest: the fixed_mean / fixed_std of NeMo's
// `normalize: {fixed_mean, fixed_std}`, the streaming-safe normalisation (the same affine map for every frame, so a
// stream normalises each chunk exactly as the offline pass does).
import * as t from '../torch/index.js';
import { loadAudioAsync } from '../audio/load-audio.js';
import { AudioToMelSpectrogramPreprocessor } from '../audio/preprocessor.js';
import type { ManifestEntry } from './manifest.js';

export interface FeatureStatistics {
  fixed_mean: number[];
  fixed_std: number[];
  /** Valid feature frames the statistics were computed from. */
  frames: number;
  utterances: number;
  seconds: number;
}

/** Running per-feature count, mean and sum of squared deviations (Chan et al.'s pairwise merge), in float64. */
class RunningMoments {
  n = 0;
  mean: Float64Array;
  m2: Float64Array;
  constructor(readonly features: number) {
    this.mean = new Float64Array(features);
    this.m2 = new Float64Array(features);
  }
  /** Merges a batch's moments: count nb, per-feature mean and M2. */
  merge(nb: number, meanB: ArrayLike<number>, m2B: ArrayLike<number>): void {
    if (nb === 0) return;
    const n = this.n + nb;
    for (let f = 0; f < this.features; f++) {
      const delta = meanB[f]! - this.mean[f]!;
      this.mean[f] = this.mean[f]! + (delta * nb) / n;
      this.m2[f] = this.m2[f]! + m2B[f]! + (delta * delta * this.n * nb) / n;
    }
    this.n = n;
  }
}

/**
 * Per-feature mean and (unbiased, as NeMo's per_feature) standard deviation of the features `preprocessor` (a NeMo
 * preprocessor section) computes, over the valid frames of every entry. The preprocessor runs without
 * normalisation and without dither (deterministic). Accumulates in float64. `onProgress(done, total, seconds)`
 * after each utterance.
 */
export async function estimateFeatureStatistics(
  preprocessor: Record<string, unknown>,
  entries: readonly ManifestEntry[],
  onProgress?: (done: number, total: number, seconds: number) => void,
): Promise<FeatureStatistics> {
  if (entries.length === 0) throw new Error('feature statistics: the manifest has no utterances');
  const pre = new AudioToMelSpectrogramPreprocessor({ ...preprocessor, normalize: 'NA', dither: 0 });
  pre.eval();
  const sr = pre.cfg.sample_rate;
  const F = pre.cfg.features * pre.cfg.frame_splicing;
  const acc = new RunningMoments(F);
  let seconds = 0;
  try {
    for (const [i, e] of entries.entries()) {
      const a = await loadAudioAsync(e.audioFilepath, { offset: e.offset, duration: e.duration ?? 0, targetSampleRate: sr }); // any format
      seconds += a.samples.length / sr;
      if (a.samples.length > 0) {
        const m = t.noGrad(() =>
          t.tidy(() => {
            const out = pre.forward(t.tensor(a.samples, [1, a.samples.length]), [a.samples.length]);
            const L = out.lengths.toArray()[0]!;
            if (L === 0) return null;
            const x = out.features.select(0, 0).narrow(1, 0, L).double(); // [F, L] f64
            const mean = x.mean([1], true); // [F, 1]
            return { n: L, mean: mean.reshape([-1]).toArray(), m2: x.sub(mean).pow(2).sum(1).toArray() };
          }),
        );
        if (m) acc.merge(m.n, m.mean, m.m2);
      }
      onProgress?.(i + 1, entries.length, seconds);
    }
  } finally {
    pre.dispose();
  }
  if (acc.n < 2) throw new Error(`feature statistics: only ${acc.n} feature frame(s) in ${entries.length} utterance(s); need at least 2`);
  const std = Array.from(acc.m2, (m2) => Math.sqrt(m2 / (acc.n - 1)));
  const flat = std.findIndex((s) => !(s > 0));
  if (flat >= 0) throw new Error(`feature statistics: feature ${flat} is constant over all ${acc.n} frames (std 0): the audio is silent or constant`);
  return { fixed_mean: Array.from(acc.mean), fixed_std: std, frames: acc.n, utterances: entries.length, seconds };
}
