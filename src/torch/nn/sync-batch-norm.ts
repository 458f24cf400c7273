// BatchNorm1d whose training statistics are synchronised across a data-parallel process group.
// Provenance: torch.nn.SyncBatchNorm (forward semantics: per-channel sum, sum of squares and count all-reduced,
// so every rank normalises with the global batch statistics and updates its running stats identically).
import { noGrad } from '../autograd.js';
import type { ProcessGroup } from '../distributed.js';
import { cat, tensor } from '../ops/index.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { BatchNorm1d, type LayerInit } from './layers.js';

/**
 * Without a group, with one rank, or in eval mode it is exactly BatchNorm1d (same state dict names).
 *
 * Gradients: the global statistics are built as (global value, detached) + (local sums - their detached value),
 * so each rank backpropagates the dependence of ITS loss on its own inputs through the global mean and variance.
 * weight/bias gradients (after DDP's averaging) equal the single-process run on the concatenated batch. PyTorch's
 * SyncBatchNorm also all-reduces sum(dy) and sum(dy * x_hat) in backward, so rank r additionally receives the
 * other ranks' dependence on its inputs through the shared statistics; that needs a collective inside autograd's
 * backward, which the addon does not expose (README, "Multi-process and multi-node"), so gradients of parameters
 * BELOW a synchronised BatchNorm omit that cross-rank term (a small difference, shrinking as batches grow).
 */
export class SyncBatchNorm1d extends BatchNorm1d {
  constructor(
    features: number,
    eps = 1e-5,
    momentum = 0.1,
    init: LayerInit = {},
    readonly group: ProcessGroup | null = null,
  ) {
    super(features, eps, momentum, init);
  }

  override forward(x: Tensor): Tensor {
    const g = this.group;
    if (!this.training || g === null || g.worldSize === 1) return super.forward(x);
    const shape = x.shape;
    if (shape.length !== 2 && shape.length !== 3) throw new RangeError(`SyncBatchNorm1d: expected [B, C] or [B, C, T], got [${shape.join(', ')}]`);
    const c = this.features;
    const dims = shape.length === 3 ? [0, 2] : [0];
    const local = shape[0]! * (shape.length === 3 ? shape[2]! : 1);
    // [sum_c, sumsq_c, count] in float64, all-reduced (a rank with an empty batch still takes part)
    const stats = noGrad(() =>
      tidy(() => {
        const xd = x.detach().double();
        return cat([xd.sum(dims), xd.mul(xd).sum(dims), tensor([local], [1], { dtype: 'float64' })]);
      }),
    );
    g.allreduce([stats]);
    const s = stats.data() as Float64Array;
    stats.dispose();
    const n = s[2 * c]!;
    if (n <= 1) throw new RangeError(`SyncBatchNorm1d: expected more than 1 value per channel across ranks when training, got ${n}`);
    const mean = new Float64Array(c);
    const variance = new Float64Array(c);
    for (let i = 0; i < c; i++) {
      mean[i] = s[i]! / n;
      variance[i] = Math.max(0, s[c + i]! / n - mean[i]! * mean[i]!);
    }
    noGrad(() =>
      tidy(() => {
        const m = this.momentum;
        const unbiased = Float64Array.from(variance, (v) => (v * n) / (n - 1));
        const rm = this.runningMean;
        const rv = this.runningVar;
        rm.mul_(1 - m).add_(tensor(mean, [c], { dtype: 'float64' }).to({ dtype: rm.dtype }).mul(m));
        rv.mul_(1 - m).add_(tensor(unbiased, [c], { dtype: 'float64' }).to({ dtype: rv.dtype }).mul(m));
        this.getBuffer('num_batches_tracked').add_(1);
      }),
    );
    return tidy(() => {
      const dt = x.dtype;
      const view = shape.length === 3 ? [1, c, 1] : [1, c];
      // value = the global statistic exactly; gradient = the local inputs' share of it
      const s1 = x.sum(dims);
      const meanD = tensor(mean, [c], { dtype: 'float64' }).to({ dtype: dt }).add(s1.sub(s1.detach()).div(n));
      const s2 = x.mul(x).sum(dims);
      const md = meanD.detach();
      const varD = tensor(variance, [c], { dtype: 'float64' })
        .to({ dtype: dt })
        .add(s2.sub(s2.detach()).div(n))
        .sub(meanD.mul(meanD).sub(md.mul(md)));
      const inv = varD.add(this.eps).rsqrt();
      const xhat = x.sub(meanD.reshape(view)).mul(inv.reshape(view));
      return xhat.mul(this.weight.reshape(view)).add(this.bias.reshape(view));
    });
  }
}
