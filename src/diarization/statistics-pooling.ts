// Statistics pooling of encoder frames into one utterance vector: [mean, std] over the valid frames (x-vector style),
// offline on a padded batch or incrementally over streamed chunks (the same numbers, to float32 rounding).
// Provenance: nemo.collections.asr.parts.submodules.tdnn_attention.StatsPoolLayer (pool_mode 'xvector': the mean and
// the unbiased standard deviation over valid frames, the variance clamped at eps = 1e-10 before the square root).
// The streamed statistics combine per-chunk means and squared deviations with Chan et al.'s pairwise update (float64),
// which does not lose precision the way sum / sum-of-squares does on long streams.
// Difference from NeMo: fewer than 2 valid frames is an error here (NeMo divides by length - 1 = 0 and returns NaN).
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

/** NeMo StatsPoolLayer eps. */
export const POOLING_EPS = 1e-10;

function tooShort(n: number, where: string): never {
  throw new RangeError(`${where}: ${n} encoder frame(s); statistics pooling needs at least 2 (the utterance is too short)`);
}

/** encoded [B, D, T], lengths [B] valid frames -> [B, 2D] float32: mean then unbiased std over each row's valid frames. */
export function statisticsPooling(encoded: Tensor, lengths: Tensor | readonly number[]): Tensor {
  const [B, , T] = encoded.shape as [number, number, number];
  const lens = Array.isArray(lengths) ? [...(lengths as readonly number[])] : (lengths as Tensor).toArray();
  if (lens.length !== B) throw new RangeError(`statistics pooling: ${lens.length} lengths for a batch of ${B}`);
  for (const n of lens) if (!(n >= 2 && n <= T)) tooShort(n, 'statistics pooling');
  return t.tidy(() => {
    const mask = t
      .arange(T)
      .unsqueeze(0)
      .lt(t.tensor(lens, [B, 1]))
      .unsqueeze(1)
      .to({ dtype: encoded.dtype }); // [B, 1, T]
    const count = t.tensor(lens, [B, 1], { dtype: encoded.dtype });
    const mean = encoded.mul(mask).sum(2).div(count); // [B, D]
    const dev = encoded.sub(mean.unsqueeze(2)).mul(mask);
    const std = dev.mul(dev).sum(2).div(count.sub(1)).clamp(POOLING_EPS).sqrt(); // [B, D]
    return t.cat([mean, std], 1).to({ dtype: 'float32' });
  });
}

/** Running statistics of one stream's frames (float64 [D] tensors, kept out of scopes; see updatePooling). */
export interface PoolingState {
  count: number;
  mean: Tensor;
  /** Sum of squared deviations from the mean. */
  m2: Tensor;
}

export function initPooling(dim: number): PoolingState {
  return { count: 0, mean: t.keep(t.zeros([dim], { dtype: 'float64' })), m2: t.keep(t.zeros([dim], { dtype: 'float64' })) };
}

/** Adds frames [D, k] (not consumed) to the statistics; CONSUMES `state` and returns the new one. */
export function updatePooling(state: PoolingState, frames: Tensor): PoolingState {
  const k = frames.size(1);
  if (k === 0) return state;
  const n = state.count + k;
  const next = t.tidy(() => {
    const x = frames.to({ dtype: 'float64' });
    const mb = x.mean(1); // [D]
    const db = x.sub(mb.unsqueeze(1));
    const m2b = db.mul(db).sum(1);
    const delta = mb.sub(state.mean);
    const mean = state.mean.add(delta.mul(k / n));
    const m2 = state.m2.add(m2b).add(delta.mul(delta).mul((state.count * k) / n));
    return { mean: t.keep(mean), m2: t.keep(m2) };
  });
  disposePooling(state);
  return { count: n, ...next };
}

/** [2D] float32 mean and unbiased std of everything added; the state is freed. */
export function finishPooling(state: PoolingState): Tensor {
  try {
    if (state.count < 2) tooShort(state.count, 'streamed statistics pooling');
    return t.tidy(() =>
      t
        .cat(
          [
            state.mean,
            state.m2
              .div(state.count - 1)
              .clamp(POOLING_EPS)
              .sqrt(),
          ],
          0,
        )
        .to({ dtype: 'float32' }),
    );
  } finally {
    disposePooling(state);
  }
}

export function disposePooling(state: PoolingState): void {
  state.mean.dispose();
  state.m2.dispose();
}
