// Reductions and scans: sum, mean, var, std, max/min, argmax/argmin, topk, sort, cumsum, logsumexp, norm, all/any, prod.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';
import { gradcheck, rnd } from '../helpers/gradcheck.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};
const f64 = (xs: number[], shape?: number[]) => t.tensor(xs, shape, { dtype: 'float64' });
// [[1, 2, 3], [4, 5, 6]]
const M = () => f64([1, 2, 3, 4, 5, 6], [2, 3]);

test(
  'sum and mean: all, one dim, several dims, negative dims, keepdim, dtype',
  scoped(() => {
    const x = M();
    assert.equal(t.sum(x).item(), 21);
    assert.deepEqual(t.sum(x).shape, []);
    assert.deepEqual(t.sum(x, 0).toArray(), [5, 7, 9]);
    assert.deepEqual(x.sum(1).toArray(), [6, 15]);
    assert.deepEqual(x.sum(-1, true).shape, [2, 1]);
    assert.deepEqual(x.sum([0, 1]).toArray(), [21]);
    assert.equal(t.mean(x).item(), 3.5);
    assert.deepEqual(t.mean(x, 0).toArray(), [2.5, 3.5, 4.5]);
    assert.deepEqual(x.mean(1, true).toArray(), [2, 5]);
    assert.deepEqual(x.mean(1, true).shape, [2, 1]);
    // int sums promote to int64; mean of ints needs a dtype
    const i = t.tensor([1, 2, 3], undefined, { dtype: 'int32' });
    assert.equal(t.sum(i).dtype, 'int64');
    assert.equal(t.sum(i, undefined, { dtype: 'float64' }).dtype, 'float64');
    assert.throws(() => t.mean(i), /aten::mean: mean\(\): could not infer output dtype.*Got: Int/);
    assert.equal(t.mean(i, undefined, { dtype: 'float32' }).item(), 2);
    assert.throws(() => t.sum(x, 2), /aten::sum\.dim_IntList: Dimension out of range/);
    gradcheck((v) => t.sum(v, 1), [rnd([3, 4], 1)], { name: 'sum dim' });
    gradcheck((v) => t.sum(v), [rnd([3, 4], 1)], { name: 'sum' });
    gradcheck((v) => t.mean(v, [0, 2], { keepdim: true }), [rnd([2, 3, 2], 2)], { name: 'mean dims' });
  }),
);

test(
  'sum/mean edge cases: empty tensors, size-1 dims, NaN and infinities',
  scoped(() => {
    assert.equal(t.sum(t.zeros([0])).item(), 0);
    assert.deepEqual(t.sum(t.zeros([2, 0]), 1).toArray(), [0, 0]);
    assert.deepEqual(t.sum(t.zeros([2, 0]), 0).shape, [0]);
    assert.ok(Number.isNaN(t.mean(t.zeros([0])).item()), 'mean of nothing is NaN');
    assert.deepEqual(t.sum(f64([7], [1, 1]), 0).toArray(), [7]);
    assert.deepEqual(t.mean(f64([1, 2], [2, 1]), 1).toArray(), [1, 2]);
    assert.ok(Number.isNaN(t.sum(f64([1, NaN, 3])).item()));
    assertClose(t.mean(f64([1, NaN, 3, 5], [2, 2]), 1), [NaN, 4]);
    assert.equal(t.sum(f64([1, Infinity])).item(), Infinity);
    assert.ok(Number.isNaN(t.sum(f64([-Infinity, Infinity])).item()));
  }),
);

test(
  'var and std: unbiased by default, correction 0, dims; one element gives NaN',
  scoped(() => {
    const x = M();
    // population variance of 1..6 is 35/12; unbiased 3.5
    assertClose([t.variance(x).item()], [3.5], 1e-15);
    assertClose([t.variance(x, undefined, { correction: 0 }).item()], [35 / 12], 1e-15);
    assertClose(t.variance(x, 1), [1, 1], 1e-15);
    assertClose(t.std(x, 0), [Math.SQRT1_2 * 3, Math.SQRT1_2 * 3, Math.SQRT1_2 * 3], 1e-14);
    assertClose(t.std(x, 1, { correction: 0, keepdim: true }), [Math.sqrt(2 / 3), Math.sqrt(2 / 3)], 1e-15);
    assert.deepEqual(t.std(x, 1, { keepdim: true }).shape, [2, 1]);
    assert.ok(Number.isNaN(t.variance(f64([4])).item()), 'unbiased variance of one value is NaN');
    assert.equal(t.variance(f64([4]), undefined, { correction: 0 }).item(), 0);
    assert.ok(Number.isNaN(t.std(f64([1, NaN])).item()));
    gradcheck((v) => t.variance(v, 1), [rnd([3, 4], 3)], { name: 'var' });
    gradcheck((v) => t.std(v, 0, { correction: 0 }), [rnd([3, 4], 4)], { name: 'std' });
  }),
);

test(
  'max/min: overall, along a dim with indices, NaN wins; empty needs a dim',
  scoped(() => {
    const x = f64([3, 9, 1, 4, 2, 8], [2, 3]);
    assert.equal(t.maxAll(x).item(), 9);
    assert.equal(x.min().item(), 1);
    const mx = t.max(x, 1);
    assert.deepEqual(mx.values.toArray(), [9, 8]);
    assert.deepEqual(mx.indices.toArray(), [1, 2]);
    assert.equal(mx.indices.dtype, 'int64');
    const mn = t.min(x, 0, true);
    assert.deepEqual(mn.values.shape, [1, 3]);
    assert.deepEqual(mn.values.toArray(), [3, 2, 1]);
    assert.deepEqual(mn.indices.toArray(), [0, 1, 0]);
    assert.deepEqual(t.amax(x, [0, 1]).toArray(), [9]);
    assert.deepEqual(t.amin(x, 1).toArray(), [1, 2]);
    assert.ok(Number.isNaN(t.maxAll(f64([1, NaN, 3])).item()));
    assert.ok(Number.isNaN(t.minAll(f64([1, NaN, 3])).item()));
    assert.deepEqual(t.max(f64([1, NaN, 3]), 0).indices.toArray(), [1]);
    assert.throws(() => t.maxAll(t.zeros([0])), /aten::max: max\(\): Expected reduction dim to be specified for input.numel\(\) == 0/);
    assert.deepEqual(t.max(t.zeros([0, 3]), 1).values.shape, [0]);
    assert.deepEqual(t.max(f64([5], [1, 1]), 1).values.toArray(), [5]);
    const y = rnd([3, 4], 5);
    gradcheck((v) => t.max(v, 1).values, [y], { name: 'max dim' });
    gradcheck((v) => t.min(v, 0).values, [y], { name: 'min dim' });
    gradcheck((v) => t.maxAll(v), [y], { name: 'max' });
    gradcheck((v) => t.amax(v, 1), [y], { name: 'amax' });
  }),
);

test(
  'argmax/argmin: flattened or along a dim; first index on ties',
  scoped(() => {
    const x = f64([3, 9, 1, 9, 2, 0], [2, 3]);
    assert.equal(t.argmax(x).item(), 1);
    assert.equal(x.argmax().dtype, 'int64');
    assert.equal(t.argmin(x).item(), 5);
    assert.deepEqual(t.argmax(x, 1).toArray(), [1, 0]);
    assert.deepEqual(t.argmin(x, 0, true).toArray(), [0, 1, 1]);
    assert.deepEqual(t.argmin(x, 0, true).shape, [1, 3]);
    assert.equal(t.argmax(f64([2, 2, 2])).item(), 0);
    assert.equal(t.argmax(f64([1, NaN, 5])).item(), 1, 'NaN is treated as the largest');
    assert.throws(() => t.argmax(t.zeros([0])), /aten::argmax: argmax\(\): Expected reduction dim/);
  }),
);

test(
  'topk and sort: values and indices, largest/smallest; k too large is an error',
  scoped(() => {
    const x = f64([5, 1, 4, 2, 3, 0], [2, 3]);
    const tk = t.topk(x, 2, 1);
    assert.deepEqual(tk.values.toArray(), [5, 4, 3, 2]);
    assert.deepEqual(tk.indices.toArray(), [0, 2, 1, 0]);
    const sm = t.topk(x, 1, 0, false);
    assert.deepEqual(sm.values.toArray(), [2, 1, 0]);
    assert.deepEqual(sm.indices.toArray(), [1, 0, 1]);
    const s = t.sort(f64([3, 1, 2]), -1, true);
    assert.deepEqual(s.values.toArray(), [3, 2, 1]);
    assert.deepEqual(s.indices.toArray(), [0, 2, 1]);
    assert.deepEqual(t.topk(x, 0, 1).values.shape, [2, 0]);
    assert.throws(() => t.topk(x, 4, 1), /aten::topk.*selected index k out of range/);
    gradcheck((v) => t.topk(v, 2, 1).values, [rnd([3, 5], 6)], { name: 'topk' });
    gradcheck((v) => t.sort(v, 0).values, [rnd([3, 2], 7)], { name: 'sort' });
  }),
);

test(
  'cumsum: along each dim, dtype, NaN carries forward, empty',
  scoped(() => {
    const x = M();
    assert.deepEqual(t.cumsum(x, 1).toArray(), [1, 3, 6, 4, 9, 15]);
    assert.deepEqual(t.cumsum(x, 0).toArray(), [1, 2, 3, 5, 7, 9]);
    assert.equal(t.cumsum(t.tensor([1, 2], undefined, { dtype: 'int32' }), 0).dtype, 'int64');
    assert.equal(t.cumsum(t.tensor([1, 2], undefined, { dtype: 'int32' }), 0, 'float64').dtype, 'float64');
    assertClose(t.cumsum(f64([1, NaN, 1]), 0), [1, NaN, NaN]);
    assert.deepEqual(t.cumsum(t.zeros([0]), 0).shape, [0]);
    gradcheck((v) => t.cumsum(v, 1), [rnd([2, 4], 8)], { name: 'cumsum' });
  }),
);

test(
  'logsumexp, norm, prod: values, stability and gradients',
  scoped(() => {
    assertClose(t.logsumexp(f64([1, 2, 3]), 0), [Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3))], 1e-14);
    assertClose(t.logsumexp(f64([1000, 1000]), 0), [1000 + Math.LN2], 1e-12, 0, 'no overflow');
    assertClose(t.logsumexp(f64([-Infinity, -Infinity]), 0), [-Infinity]);
    assertClose([t.norm(f64([3, 4])).item()], [5], 1e-15);
    assertClose(t.norm(f64([3, -4, 0, 1], [2, 2]), 1, 1), [7, 1], 1e-15);
    assertClose([t.norm(f64([3, -4]), Infinity).item()], [4]);
    assert.equal(t.prod(f64([2, 3, -4])).item(), -24);
    assert.equal(t.prod(t.zeros([0])).item(), 1);
    gradcheck((v) => t.logsumexp(v, 1), [rnd([3, 4], 9)], { name: 'logsumexp' });
    gradcheck((v) => t.norm(v, 2, 1), [rnd([3, 4], 10)], { name: 'norm' });
    gradcheck((v) => t.prod(v), [rnd([4], 11)], { name: 'prod' });
  }),
);

test(
  'all / any / countNonzero',
  scoped(() => {
    const b = t.tensor([true, false, true, true], [2, 2]);
    assert.equal(t.all(b).item(), 0);
    assert.equal(t.any(b).item(), 1);
    assert.deepEqual(t.all(b, 0).toArray(), [1, 0]);
    assert.deepEqual(t.any(b, 1, true).shape, [2, 1]);
    assert.equal(t.all(t.zeros([0], { dtype: 'bool' })).item(), 1, 'all of nothing is true');
    assert.equal(t.any(t.zeros([0], { dtype: 'bool' })).item(), 0);
    assert.equal(t.countNonzero(f64([0, 1, NaN, 0])).item(), 2);
    assert.deepEqual(t.countNonzero(b, 1).toArray(), [1, 2]);
  }),
);
