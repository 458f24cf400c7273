// Neural-network functions: matmul/mm/bmm/linear, conv1d/conv2d, layer/batch/group norm, dropout, softmax,
// embedding — forward against naive JS references, gradients by finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';
import { gradcheck, rnd } from '../helpers/gradcheck.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};
const f64 = (xs: number[], shape?: number[]) => t.tensor(xs, shape, { dtype: 'float64' });

/** Naive [n, k] x [k, m] on flat arrays. */
function naiveMm(a: number[], b: number[], n: number, k: number, m: number): number[] {
  const out = new Array<number>(n * m).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let p = 0; p < k; p++) out[i * m + j]! += a[i * k + p]! * b[p * m + j]!;
  return out;
}

test(
  'mm / matmul / bmm: known products, broadcasting batch dims, vector cases, errors name the op',
  scoped(() => {
    const a = f64([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = f64([7, 8, 9, 10, 11, 12], [3, 2]);
    assert.deepEqual(t.mm(a, b).toArray(), [58, 64, 139, 154]);
    assert.deepEqual(a.matmul(b).toArray(), [58, 64, 139, 154]);
    assert.deepEqual(t.matmul(f64([1, 2, 3]), f64([4, 5, 6])).shape, [], 'vector . vector is 0-d');
    assert.equal(t.matmul(f64([1, 2, 3]), f64([4, 5, 6])).item(), 32);
    assert.deepEqual(t.matmul(a, f64([1, 0, -1])).toArray(), [-2, -2]);
    const A = rnd([2, 3, 4], 1);
    const B = rnd([2, 4, 5], 2);
    const C = t.bmm(A, B);
    assert.deepEqual(C.shape, [2, 3, 5]);
    for (let i = 0; i < 2; i++) {
      assertClose(C.select(0, i).toArray(), naiveMm(A.select(0, i).toArray(), B.select(0, i).toArray(), 3, 4, 5), 1e-12);
    }
    assert.deepEqual(t.matmul(rnd([4, 1, 2, 3], 3), rnd([5, 3, 2], 4)).shape, [4, 5, 2, 2], 'batch dims broadcast');
    assert.deepEqual(t.mm(t.zeros([2, 0]), t.zeros([0, 3])).toArray(), [0, 0, 0, 0, 0, 0], 'empty inner dim sums to 0');
    assert.deepEqual(t.mm(t.zeros([0, 2]), t.zeros([2, 3])).shape, [0, 3]);
    assertClose(t.mm(f64([1, NaN], [1, 2]), f64([1, 1], [2, 1])), [NaN]);
    assert.throws(() => t.mm(t.ones([3]), t.ones([3, 3])), /aten::mm: self must be a matrix/);
    assert.throws(() => t.mm(t.ones([2, 3]), t.ones([2, 3])), /aten::mm: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/);
    assert.throws(() => t.bmm(t.ones([2, 3]), t.ones([2, 3])), /aten::bmm: batch1 must be a 3D tensor/);
    assert.throws(() => t.matmul(t.ones([2, 2]), t.ones([2, 2], { dtype: 'float64' })), /aten::matmul: expected scalar type Float but found Double/);
    gradcheck((x, y) => t.mm(x, y), [rnd([2, 3], 5), rnd([3, 2], 6)], { name: 'mm' });
    gradcheck((x, y) => t.bmm(x, y), [rnd([2, 2, 3], 7), rnd([2, 3, 2], 8)], { name: 'bmm' });
    gradcheck((x, y) => t.matmul(x, y), [rnd([2, 1, 2, 3], 9), rnd([2, 3, 2], 10)], { name: 'matmul broadcast' });
    gradcheck((x, y, z) => t.baddbmm(x, y, z, 0.5, 2), [rnd([1, 2, 2], 11), rnd([2, 2, 3], 12), rnd([2, 3, 2], 13)], { name: 'baddbmm' });
    gradcheck((x, y) => t.einsum('bij,bjk->bik', [x, y]), [rnd([2, 2, 3], 14), rnd([2, 3, 2], 15)], { name: 'einsum' });
  }),
);

test(
  'linear: x W^T + b over leading dims; with and without bias; gradients',
  scoped(() => {
    const x = f64([1, 2, 3, 4], [2, 2]);
    const w = f64([1, 0, 0, 1, 1, 1], [3, 2]);
    const b = f64([0.5, -0.5, 0]);
    assert.deepEqual(t.linear(x, w, b).toArray(), [1.5, 1.5, 3, 3.5, 3.5, 7]);
    assert.deepEqual(t.linear(x, w).toArray(), [1, 2, 3, 3, 4, 7]);
    assert.deepEqual(t.linear(rnd([2, 4, 2], 1), w).shape, [2, 4, 3]);
    assert.deepEqual(t.linear(t.zeros([0, 2], { dtype: 'float64' }), w, b).shape, [0, 3]);
    assert.throws(() => t.linear(t.ones([2, 3]), t.ones([3, 2])), /aten::linear.*cannot be multiplied \(2x3 and 2x3\)/);
    gradcheck((v, W, B) => t.linear(v, W, B), [rnd([2, 3, 4], 2), rnd([5, 4], 3), rnd([5], 4)], { name: 'linear' });
  }),
);

interface ConvCfg {
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
}
/** Naive conv1d: x [B, Cin, L], w [Cout, Cin/g, K], b [Cout] or null. */
function naiveConv1d(x: Tensor, w: Tensor, b: Tensor | null, c: ConvCfg): { data: number[]; shape: number[] } {
  const [B, Cin, L] = x.shape as [number, number, number];
  const [Cout, Cg, K] = w.shape as [number, number, number];
  const Lo = Math.floor((L + 2 * c.padding - c.dilation * (K - 1) - 1) / c.stride) + 1;
  const xd = x.toArray();
  const wd = w.toArray();
  const bd = b?.toArray();
  const out: number[] = [];
  const perGroupOut = Cout / c.groups;
  for (let n = 0; n < B; n++)
    for (let o = 0; o < Cout; o++)
      for (let l = 0; l < Lo; l++) {
        let s = bd ? bd[o]! : 0;
        const g = Math.floor(o / perGroupOut);
        for (let ci = 0; ci < Cg; ci++)
          for (let k = 0; k < K; k++) {
            const pos = l * c.stride - c.padding + k * c.dilation;
            if (pos < 0 || pos >= L) continue;
            s += xd[(n * Cin + g * Cg + ci) * L + pos]! * wd[(o * Cg + ci) * K + k]!;
          }
        out.push(s);
      }
  return { data: out, shape: [B, Cout, Lo] };
}

/** Naive conv2d with square stride/padding/dilation. */
function naiveConv2d(x: Tensor, w: Tensor, b: Tensor | null, c: ConvCfg): { data: number[]; shape: number[] } {
  const [B, Cin, H, W] = x.shape as [number, number, number, number];
  const [Cout, Cg, KH, KW] = w.shape as [number, number, number, number];
  const Ho = Math.floor((H + 2 * c.padding - c.dilation * (KH - 1) - 1) / c.stride) + 1;
  const Wo = Math.floor((W + 2 * c.padding - c.dilation * (KW - 1) - 1) / c.stride) + 1;
  const xd = x.toArray();
  const wd = w.toArray();
  const bd = b?.toArray();
  const out: number[] = [];
  const perGroupOut = Cout / c.groups;
  for (let n = 0; n < B; n++)
    for (let o = 0; o < Cout; o++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let s = bd ? bd[o]! : 0;
          const g = Math.floor(o / perGroupOut);
          for (let ci = 0; ci < Cg; ci++)
            for (let ki = 0; ki < KH; ki++)
              for (let kj = 0; kj < KW; kj++) {
                const r = i * c.stride - c.padding + ki * c.dilation;
                const q = j * c.stride - c.padding + kj * c.dilation;
                if (r < 0 || r >= H || q < 0 || q >= W) continue;
                s += xd[((n * Cin + g * Cg + ci) * H + r) * W + q]! * wd[((o * Cg + ci) * KH + ki) * KW + kj]!;
              }
          out.push(s);
        }
  return { data: out, shape: [B, Cout, Ho, Wo] };
}

const CONV_CASES: (ConvCfg & { cin: number; cout: number })[] = [
  { cin: 2, cout: 3, stride: 1, padding: 0, dilation: 1, groups: 1 },
  { cin: 2, cout: 4, stride: 2, padding: 1, dilation: 1, groups: 2 },
  { cin: 3, cout: 3, stride: 1, padding: 2, dilation: 2, groups: 3 }, // depthwise, dilated
  { cin: 4, cout: 2, stride: 3, padding: 1, dilation: 1, groups: 2 },
];

for (const c of CONV_CASES) {
  const label = `stride ${c.stride}, padding ${c.padding}, dilation ${c.dilation}, groups ${c.groups}`;
  test(
    `conv1d (${label}) against a naive loop, with gradients`,
    scoped(() => {
      const x = rnd([2, c.cin, 7], 1);
      const w = rnd([c.cout, c.cin / c.groups, 3], 2);
      const b = rnd([c.cout], 3);
      const y = t.conv1d(x, w, b, c);
      const ref = naiveConv1d(x, w, b, c);
      assert.deepEqual(y.shape, ref.shape);
      assertClose(y, ref.data, 1e-12);
      assertClose(t.conv1d(x, w, null, c), naiveConv1d(x, w, null, c).data, 1e-12);
      gradcheck((X, W, B) => t.conv1d(X, W, B, c), [rnd([1, c.cin, 6], 4), w, b], { name: `conv1d ${label}` });
    }),
  );
  test(
    `conv2d (${label}) against a naive loop, with gradients`,
    scoped(() => {
      const x = rnd([1, c.cin, 5, 6], 5);
      const w = rnd([c.cout, c.cin / c.groups, 3, 2], 6);
      const b = rnd([c.cout], 7);
      const y = t.conv2d(x, w, b, c);
      const ref = naiveConv2d(x, w, b, c);
      assert.deepEqual(y.shape, ref.shape);
      assertClose(y, ref.data, 1e-12);
      gradcheck((X, W, B) => t.conv2d(X, W, B, c), [rnd([1, c.cin, 4, 4], 8), w, b], { name: `conv2d ${label}` });
    }),
  );
}

test(
  'conv: per-dimension stride/padding lists, size-1 kernels, errors',
  scoped(() => {
    const x = rnd([1, 2, 5, 6], 1);
    const w = rnd([3, 2, 3, 3], 2);
    assert.deepEqual(t.conv2d(x, w, null, { stride: [1, 2], padding: [1, 0] }).shape, [1, 3, 5, 2]);
    const w1 = rnd([3, 2, 1], 3);
    const x1 = rnd([2, 2, 4], 4);
    // a 1x1 conv is a per-position linear map
    assertClose(t.conv1d(x1, w1), t.matmul(w1.squeeze(2), x1), 1e-12);
    assert.throws(() => t.conv1d(rnd([1, 3, 5], 5), rnd([2, 2, 3], 6)), /aten::conv1d: .*expected input\[1, 3, 5\] to have 2 channels, but got 3 channels/);
    assert.throws(() => t.conv1d(rnd([1, 2, 2], 5), rnd([2, 2, 3], 6)), /aten::conv1d: .*Kernel size can't be greater than actual input size/);
    assert.throws(() => t.conv1d(rnd([1, 2, 5], 5), rnd([2, 2, 3], 6).float()), /aten::conv1d: .*(Double|Float)/);
  }),
);

test(
  'layerNorm: normalises the trailing dims, affine, eps, gradients',
  scoped(() => {
    const x = f64([1, 2, 3, 4, 10, 20, 30, 40], [2, 4]);
    const y = t.layerNorm(x, [4], null, null, 0);
    // each row: mean m, population variance v
    const ref: number[] = [];
    for (const row of [
      [1, 2, 3, 4],
      [10, 20, 30, 40],
    ]) {
      const m = row.reduce((a, b) => a + b) / 4;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / 4;
      for (const r of row) ref.push((r - m) / Math.sqrt(v));
    }
    assertClose(y, ref, 1e-12);
    const w = f64([1, 2, 3, 4]);
    const b = f64([0, 0, 1, 1]);
    assertClose(
      t.layerNorm(x, [4], w, b, 0),
      ref.map((r, i) => r * [1, 2, 3, 4][i % 4]! + [0, 0, 1, 1][i % 4]!),
      1e-12,
    );
    // eps: a constant row normalises to 0 (not NaN)
    assertClose(t.layerNorm(f64([5, 5, 5]), [3]), [0, 0, 0]);
    assertClose(t.layerNorm(f64([1, 3]), [2], null, null, 1), [-1 / Math.sqrt(2), 1 / Math.sqrt(2)], 1e-12, 0, 'eps inside the sqrt');
    assert.deepEqual(t.layerNorm(rnd([2, 3, 4], 1), [3, 4]).shape, [2, 3, 4]);
    assert.throws(() => t.layerNorm(rnd([2, 3], 1), [4]), /aten::layer_norm: Given normalized_shape=\[4\], expected input with shape \[\*, 4\]/);
    gradcheck((v, W, B) => t.layerNorm(v, [4], W, B), [rnd([3, 4], 2), rnd([4], 3), rnd([4], 4)], { name: 'layer_norm' });
    gradcheck((v) => t.layerNorm(v, [2, 3]), [rnd([2, 2, 3], 5)], { name: 'layer_norm 2 dims' });
  }),
);

test(
  'batchNorm: training uses batch stats and updates running stats (unbiased var); eval uses running stats',
  scoped(() => {
    // x [N=3, C=2]: channel 0 = 1, 2, 6; channel 1 = 0, 0, 3
    const x = f64([1, 0, 2, 0, 6, 3], [3, 2]);
    const rm = f64([0, 1]);
    const rv = f64([1, 2]);
    const y = t.batchNorm(x, rm, rv, { training: true, momentum: 0.1, eps: 0 });
    const mean = [3, 1];
    const popVar = [((1 - 3) ** 2 + (2 - 3) ** 2 + (6 - 3) ** 2) / 3, (1 + 1 + 4) / 3];
    const unbVar = popVar.map((v) => (v * 3) / 2);
    const ref = [0, 1, 2].flatMap((n) => [0, 1].map((c) => ([1, 0, 2, 0, 6, 3][n * 2 + c]! - mean[c]!) / Math.sqrt(popVar[c]!)));
    assertClose(y, ref, 1e-12);
    assertClose(rm, [0.9 * 0 + 0.1 * 3, 0.9 * 1 + 0.1 * 1], 1e-15, 0, 'running mean');
    assertClose(rv, [0.9 * 1 + 0.1 * unbVar[0]!, 0.9 * 2 + 0.1 * unbVar[1]!], 1e-15, 0, 'running var (unbiased)');
    // eval: (x - running_mean) / sqrt(running_var + eps) * w + b, stats unchanged
    const w = f64([2, 1]);
    const b = f64([0, 1]);
    const rm0 = rm.toArray();
    const rv0 = rv.toArray();
    const ye = t.batchNorm(x, rm, rv, { training: false, weight: w, bias: b, eps: 1e-5 });
    assertClose(
      ye,
      [0, 1, 2].flatMap((n) => [0, 1].map((c) => (([1, 0, 2, 0, 6, 3][n * 2 + c]! - rm0[c]!) / Math.sqrt(rv0[c]! + 1e-5)) * [2, 1][c]! + [0, 1][c]!)),
      1e-12,
    );
    assert.deepEqual(rm.toArray(), rm0);
    assert.deepEqual(rv.toArray(), rv0);
    // [N, C, T] input normalises over N and T
    const x3 = rnd([2, 2, 3], 1);
    const y3 = t.batchNorm(x3, null, null, { training: true, eps: 0 });
    assertClose(t.mean(y3, [0, 2]), [0, 0], 1e-12);
    assertClose(t.variance(y3, [0, 2], { correction: 0 }), [1, 1], 1e-12);
    assert.throws(
      () => t.batchNorm(f64([1, 2], [1, 2]), null, null, { training: true }),
      /batchNorm: expected more than 1 value per channel when training, got input of shape \[1, 2\]/,
    );
    assert.throws(() => t.batchNorm(f64([1, 2], [1, 2, 1]), null, null, { training: true }), /batchNorm: expected more than 1 value per channel/);
    assert.deepEqual(t.batchNorm(f64([1, 2], [1, 2]), f64([0, 0]), f64([1, 1]), { training: false }).shape, [1, 2], 'eval is fine with one value');
    gradcheck((v, W, B) => t.batchNorm(v, null, null, { training: true, weight: W, bias: B }), [rnd([4, 3], 2), rnd([3], 3), rnd([3], 4)], {
      name: 'batch_norm train',
    });
    gradcheck((v, W) => t.batchNorm(v, f64([0.1, -0.2]), f64([1.5, 0.5]), { training: false, weight: W }), [rnd([3, 2, 2], 5), rnd([2], 6)], {
      name: 'batch_norm eval',
    });
  }),
);

test(
  'groupNorm: statistics per (sample, group); affine per channel; gradients',
  scoped(() => {
    const x = rnd([2, 4, 3], 1);
    const y = t.groupNorm(x, 2, null, null, 0);
    const g = y.reshape([2, 2, 6]);
    assertClose(t.mean(g, 2), [0, 0, 0, 0], 1e-12);
    assertClose(t.variance(g, 2, { correction: 0 }), [1, 1, 1, 1], 1e-10);
    // against layer norm over each group
    assertClose(y, t.layerNorm(x.reshape([2, 2, 6]), [6], null, null, 0).reshape([2, 4, 3]), 1e-12);
    const w = f64([1, 2, 3, 4]);
    const b = f64([0, 1, 0, 1]);
    assertClose(t.groupNorm(x, 2, w, b, 0), y.mul(w.reshape([1, 4, 1])).add(b.reshape([1, 4, 1])), 1e-12);
    assert.throws(() => t.groupNorm(x, 3), /aten::group_norm: Expected number of channels in input to be divisible by num_groups/);
    gradcheck((v, W, B) => t.groupNorm(v, 2, W, B), [rnd([2, 4, 2], 2), rnd([4], 3), rnd([4], 4)], { name: 'group_norm' });
  }),
);

test(
  "dropout: eval and p=0 are identity; a float64 mask is the generator's uniform draws below 1-p, scaled by 1/(1-p); p=1 zeroes",
  scoped(() => {
    const x = rnd([4, 5], 1);
    assert.deepEqual(t.dropout(x, 0.5, false).toArray(), x.toArray());
    assert.deepEqual(t.dropout(x, 0, true).toArray(), x.toArray());
    const y = t.dropout(x, 0.3, true, new t.Generator(5));
    const mask = t
      .rand([4, 5], { generator: new t.Generator(5) })
      .lt(0.7)
      .to({ dtype: 'float64' });
    assertClose(y, x.mul(mask).div(0.7), 1e-15);
    const kept = mask.sum().item();
    assert.ok(kept > 5 && kept < 20, `kept ${kept} of 20`);
    assert.deepEqual(t.dropout(x, 0.3, true, new t.Generator(5)).toArray(), y.toArray(), 'same seed, same mask');
    // the default generator path: torch.manual_seed reproduces, and the scale is 1/(1-p)
    t.manualSeed(3);
    const a = t.dropout(t.ones([1000]), 0.25, true);
    t.manualSeed(3);
    const a2 = t.dropout(t.ones([1000]), 0.25, true);
    assert.deepEqual(a.toArray(), a2.toArray());
    const vals = new Set(a.toArray().map((v) => Math.round(v * 1e6) / 1e6));
    assert.deepEqual([...vals].sort(), [0, 1.333333]);
    const frac = a.eq(0).sum().item() / 1000;
    assert.ok(frac > 0.18 && frac < 0.32, `dropped fraction ${frac}`);
    // p = 1 drops everything (PyTorch multiplies by 0; 0/0 scaling would give NaN)
    assert.ok(
      t
        .dropout(x, 1, true, new t.Generator(1))
        .toArray()
        .every((v) => v === 0),
    );
    assert.ok(
      t
        .dropout(x, 1, true)
        .toArray()
        .every((v) => v === 0),
    );
    assert.throws(() => t.dropout(x, 1.5, true), /dropout probability must be in \[0, 1\], got 1.5/);
    assert.deepEqual(t.dropout(t.zeros([0]), 0.5, true, new t.Generator(1)).shape, [0]);
    gradcheck((v) => t.dropout(v, 0.4, true, new t.Generator(9)), [rnd([3, 4], 2)], { name: 'dropout' });
  }),
);

test(
  'softmax / logSoftmax: known values, stability with large inputs, -inf masking, NaN, gradients',
  scoped(() => {
    const x = f64([1, 2, 3, 1, 1, 1], [2, 3]);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0]! + e[1]! + e[2]!;
    assertClose(t.softmax(x, 1), [e[0]! / s, e[1]! / s, e[2]! / s, 1 / 3, 1 / 3, 1 / 3], 1e-15);
    assertClose(t.logSoftmax(x, -1), [1 - Math.log(s), 2 - Math.log(s), 3 - Math.log(s), -Math.log(3), -Math.log(3), -Math.log(3)], 1e-14);
    assertClose(t.softmax(x, 0).sum(0), [1, 1, 1], 1e-15);
    assertClose(t.softmax(f64([1000, 1000]), 0), [0.5, 0.5], 0, 0, 'no overflow');
    assertClose(t.logSoftmax(f64([-1000, 0]), 0), [-1000, 0], 1e-12);
    assertClose(t.softmax(f64([0, -Infinity, 0]), 0), [0.5, 0, 0.5], 0, 0, '-inf masks');
    assertClose(t.softmax(f64([-Infinity, -Infinity]), 0), [NaN, NaN], 0, 0, 'a fully masked row is NaN, as in PyTorch');
    assertClose(t.softmax(f64([1, NaN]), 0), [NaN, NaN]);
    assert.deepEqual(t.softmax(t.zeros([0, 3]), 1).shape, [0, 3]);
    assert.deepEqual(t.softmax(f64([5]), 0).toArray(), [1]);
    assert.throws(() => t.softmax(x, 2), /aten::softmax.*Dimension out of range/);
    gradcheck((v) => t.softmax(v, 1), [rnd([2, 4], 1)], { name: 'softmax' });
    gradcheck((v) => t.logSoftmax(v, 0), [rnd([3, 2], 2)], { name: 'log_softmax' });
  }),
);

test(
  'embedding: rows by index; padding index gets no gradient; bad indices',
  scoped(() => {
    const w = f64([0, 0, 1, 1, 2, 2, 3, 3], [4, 2]);
    const idx = t.tensor([3, 0, 3], undefined, { dtype: 'int64' });
    assert.deepEqual(t.embedding(w, idx).toArray(), [3, 3, 0, 0, 3, 3]);
    assert.deepEqual(t.embedding(w, t.tensor([1, 2, 0, 0], [2, 2], { dtype: 'int64' })).shape, [2, 2, 2]);
    assert.throws(() => t.embedding(w, t.tensor([4], undefined, { dtype: 'int64' })), /aten::embedding: index out of range/);
    const r = gradcheck((W) => t.embedding(W, idx), [rnd([4, 2], 1)], { name: 'embedding' });
    assert.deepEqual(
      Array.from(r.analytic[0]!).map((v) => v !== 0),
      [true, true, false, false, false, false, true, true],
    );
    // padding_idx: the row is still looked up, but receives no gradient
    const W = rnd([4, 2], 1);
    W.requiresGrad = true;
    assert.deepEqual(t.embedding(W, idx, 0).toArray().slice(2, 4), W.select(0, 0).toArray());
    t.embedding(W, idx, 0).sum().backward();
    assert.deepEqual(W.grad!.toArray(), [0, 0, 0, 0, 0, 0, 2, 2]);
  }),
);
