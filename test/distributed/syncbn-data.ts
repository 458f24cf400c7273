// Deterministic SyncBatchNorm inputs: rank r's share of the global batch of step s, and the concatenation.
import * as t from '../../src/torch/index.js';

/** [3 + rank, 4, 6] (unequal shares), channel-dependent offsets and scales. */
export function syncBnInput(step: number, rank: number): t.Tensor {
  const g = new t.Generator(1000 + 10 * step + rank);
  return t.tidy(() => {
    const x = t.randn([3 + rank, 4, 6], { generator: g });
    const scale = t.tensor([0.5, 1, 2, 4], [1, 4, 1], { dtype: 'float32' });
    const shift = t.tensor([3, -1, 0, 10], [1, 4, 1], { dtype: 'float32' });
    return x.mul(scale).add(shift);
  });
}

/** Per-(channel, frame) loss weights [1, 4, 6]. */
export function syncBnWeights(): t.Tensor {
  return t.tensor(
    Float32Array.from({ length: 24 }, (_, i) => Math.sin(0.7 * i + 0.3)),
    [1, 4, 6],
    { dtype: 'float32' },
  );
}
