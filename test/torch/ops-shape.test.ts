// Shape and indexing ops: views, permutations, joins and splits, gathers and scatters, padding, triangles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { gradcheck, rnd } from '../helpers/gradcheck.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};
const f64 = (xs: number[], shape?: number[]) => t.tensor(xs, shape, { dtype: 'float64' });
const i64 = (xs: number[], shape?: number[]) => t.tensor(xs, shape, { dtype: 'int64' });
const range = (n: number, shape: number[]) =>
  f64(
    Array.from({ length: n }, (_, i) => i),
    shape,
  );

test(
  'reshape / view / flatten: values in row-major order, -1 inferred; view of a non-contiguous tensor fails',
  scoped(() => {
    const x = range(6, [2, 3]);
    const r = x.reshape([3, -1]);
    assert.deepEqual(r.shape, [3, 2]);
    assert.deepEqual(r.toArray(), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(x.view([6]).shape, [6]);
    assert.ok(x.view([6]).sameStorage(x), 'view shares storage');
    assert.deepEqual(range(24, [2, 3, 4]).flatten(1).shape, [2, 12]);
    assert.deepEqual(range(24, [2, 3, 4]).flatten(0, 1).shape, [6, 4]);
    assert.deepEqual(t.zeros([2, 0]).reshape([0, 5]).shape, [0, 5]);
    assert.deepEqual(t.scalar(3).reshape([1, 1]).shape, [1, 1]);
    const tr = x.transpose(0, 1);
    assert.throws(() => tr.view([6]), /aten::view: view size is not compatible with input tensor's size and stride/);
    assert.deepEqual(tr.reshape([6]).toArray(), [0, 3, 1, 4, 2, 5]);
    assert.throws(() => x.reshape([4, -1]), /aten::reshape: shape '\[4, -1\]' is invalid for input of size 6/);
    gradcheck((v) => v.reshape([3, 2]).mul(f64([1, 2, 3, 4, 5, 6], [3, 2])), [rnd([2, 3], 1)], { name: 'reshape' });
    gradcheck((v) => v.view([3, 2]).mul(f64([1, 2, 3, 4, 5, 6], [3, 2])), [rnd([2, 3], 1)], { name: 'view' });
    gradcheck((v) => v.flatten().mul(f64([1, -2, 3, -4, 5, -6])), [rnd([2, 3], 1)], { name: 'flatten' });
  }),
);

test(
  'permute / transpose / contiguous: strides, values, gradients',
  scoped(() => {
    const x = range(24, [2, 3, 4]);
    const p = x.permute([2, 0, 1]);
    assert.deepEqual(p.shape, [4, 2, 3]);
    assert.deepEqual(p.strides, [1, 12, 4]);
    // p[i][j][k] = x[j][k][i]
    assert.equal(p.contiguous().toArray()[1 * 6 + 1 * 3 + 2], 1 * 12 + 2 * 4 + 1);
    assert.deepEqual(p.contiguous().strides, [6, 3, 1]);
    const tr = range(6, [2, 3]).transpose(0, 1);
    assert.deepEqual(tr.shape, [3, 2]);
    assert.deepEqual(tr.contiguous().toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(t.transpose(range(6, [2, 3]), -1, -2).shape, [3, 2]);
    assert.throws(() => x.permute([0, 1]), /aten::permute/);
    gradcheck((v) => v.permute([2, 0, 1]), [rnd([2, 3, 2], 2)], { name: 'permute' });
    gradcheck((v) => v.transpose(0, 1).contiguous(), [rnd([2, 3], 3)], { name: 'transpose' });
  }),
);

test(
  'unsqueeze / squeeze / expand / repeat / repeatInterleave',
  scoped(() => {
    const x = f64([1, 2, 3]);
    assert.deepEqual(x.unsqueeze(0).shape, [1, 3]);
    assert.deepEqual(x.unsqueeze(-1).shape, [3, 1]);
    assert.deepEqual(t.zeros([1, 3, 1]).squeeze().shape, [3]);
    assert.deepEqual(t.zeros([1, 3, 1]).squeeze(0).shape, [3, 1]);
    assert.deepEqual(t.zeros([2, 3]).squeeze(0).shape, [2, 3], 'squeezing a non-1 dim is a no-op');
    assert.deepEqual(t.zeros([1, 1]).squeeze().shape, []);
    const e = x.unsqueeze(0).expand([2, -1]);
    assert.deepEqual(e.shape, [2, 3]);
    assert.deepEqual(e.strides, [0, 1], 'expand is a broadcast view');
    assert.deepEqual(e.toArray(), [1, 2, 3, 1, 2, 3]);
    assert.throws(() => x.expand([2, 4]), /aten::expand: The expanded size of the tensor \(4\) must match the existing size \(3\)/);
    assert.deepEqual(t.repeat(x, [2, 2]).toArray(), [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    assert.deepEqual(t.repeat(x, [2, 2]).shape, [2, 6]);
    assert.deepEqual(t.repeatInterleave(x, 2).toArray(), [1, 1, 2, 2, 3, 3]);
    assert.deepEqual(t.repeat(t.zeros([0]), [3]).shape, [0]);
    gradcheck((v) => v.unsqueeze(1).expand([3, 4]), [rnd([3], 4)], { name: 'expand' });
    gradcheck((v) => t.repeat(v, [2, 3]), [rnd([2, 2], 5)], { name: 'repeat' });
    gradcheck((v) => v.unsqueeze(0).squeeze(0), [rnd([3], 6)], { name: 'squeeze' });
  }),
);

test(
  'cat / stack: dims, empty pieces, dtype and shape errors',
  scoped(() => {
    const a = range(6, [2, 3]);
    const b = f64([10, 11, 12], [1, 3]);
    const c = t.cat([a, b], 0);
    assert.deepEqual(c.shape, [3, 3]);
    assert.deepEqual(c.toArray(), [0, 1, 2, 3, 4, 5, 10, 11, 12]);
    assert.deepEqual(t.cat([a, a], 1).toArray(), [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
    assert.deepEqual(t.cat([a, t.zeros([0, 3], { dtype: 'float64' })], 0).shape, [2, 3], 'empty piece');
    assert.deepEqual(t.cat([a]).shape, [2, 3]);
    const s = t.stack([f64([1, 2]), f64([3, 4]), f64([5, 6])], 1);
    assert.deepEqual(s.shape, [2, 3]);
    assert.deepEqual(s.toArray(), [1, 3, 5, 2, 4, 6]);
    assert.throws(() => t.cat([]), /cat: need at least one tensor/);
    assert.throws(() => t.stack([]), /stack: need at least one tensor/);
    assert.throws(() => t.cat([a, f64([1, 2], [1, 2])], 0), /aten::cat: Sizes of tensors must match except in dimension 0/);
    assert.throws(() => t.stack([f64([1]), f64([1, 2])]), /aten::stack: stack expects each tensor to be equal size/);
    assert.equal(t.cat([t.ones([1]), t.ones([1], { dtype: 'float64' })]).dtype, 'float64', 'cat promotes');
    gradcheck((x, y) => t.cat([x, y], 1), [rnd([2, 2], 7), rnd([2, 3], 8)], { name: 'cat' });
    gradcheck((x, y) => t.stack([x, y], 0), [rnd([3], 9), rnd([3], 10)], { name: 'stack' });
  }),
);

test(
  'split / chunk / narrow / select / slice',
  scoped(() => {
    const x = range(7, [7]);
    const parts = t.split(x, 3);
    assert.deepEqual(
      parts.map((p) => p.toArray()),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    const sized = t.split(x, [2, 5]);
    assert.deepEqual(
      sized.map((p) => p.shape[0]),
      [2, 5],
    );
    assert.throws(() => t.split(x, [2, 2]), /aten::split_with_sizes: split_with_sizes expects split_sizes to sum exactly to 7/);
    const ch = t.chunk(x, 3);
    assert.deepEqual(
      ch.map((p) => p.toArray()),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    assert.deepEqual(
      t.chunk(range(6, [2, 3]), 3, 1).map((p) => p.shape),
      [
        [2, 1],
        [2, 1],
        [2, 1],
      ],
    );
    const n = x.narrow(0, 2, 3);
    assert.deepEqual(n.toArray(), [2, 3, 4]);
    assert.ok(n.sameStorage(x), 'narrow is a view');
    assert.deepEqual(x.narrow(0, 7, 0).shape, [0]);
    assert.throws(() => x.narrow(0, 5, 3), /aten::narrow: start \(5\) \+ length \(3\) exceeds dimension size \(7\)/);
    assert.deepEqual(range(6, [2, 3]).select(1, 2).toArray(), [2, 5]);
    assert.deepEqual(t.slice(x, 0, 1, null, 3).toArray(), [1, 4]);
    assert.deepEqual(t.slice(x, 0, -2).toArray(), [5, 6]);
    const y = rnd([5, 2], 11);
    gradcheck((v) => t.split(v, 2)[2]!.add(t.split(v, 2)[0]!.sum()), [y], { name: 'split' });
    gradcheck((v) => t.chunk(v, 2, 1)[1]!, [y], { name: 'chunk' });
    gradcheck((v) => v.narrow(0, 1, 3), [y], { name: 'narrow' });
    gradcheck((v) => v.select(1, 0), [y], { name: 'select' });
    gradcheck((v) => t.slice(v, 0, 0, 5, 2), [y], { name: 'slice' });
  }),
);

test(
  'indexSelect / index / gather / scatter / scatterAdd',
  scoped(() => {
    const x = range(6, [2, 3]); // [[0,1,2],[3,4,5]]
    assert.deepEqual(t.indexSelect(x, 1, i64([2, 0, 2])).toArray(), [2, 0, 2, 5, 3, 5]);
    assert.deepEqual(t.indexSelect(x, 0, i64([])).shape, [0, 3]);
    assert.throws(() => t.indexSelect(x, 1, i64([3])), /aten::index_select: .*index out of range|INDICES element is out of DATA bounds/);
    assert.throws(() => t.indexSelect(x, 1, f64([0])), /aten::index_select.*Long|aten::index_select.*index/);
    assert.deepEqual(t.index(x, [i64([1, 0]), i64([2, 1])]).toArray(), [5, 1]);
    assert.deepEqual(t.index(x, [null, i64([0])]).toArray(), [0, 3]);
    assert.deepEqual(t.gather(x, 1, i64([2, 2, 0, 1], [2, 2])).toArray(), [2, 2, 3, 4]);
    assert.throws(() => t.gather(x, 1, i64([3], [1, 1])), /aten::gather: index 3 is out of bounds for dimension 1 with size 3/);
    const z = t.zeros([2, 3], { dtype: 'float64' });
    assert.deepEqual(t.scatter(z, 1, i64([2, 0], [2, 1]), f64([7, 8], [2, 1])).toArray(), [0, 0, 7, 8, 0, 0]);
    assert.deepEqual(t.scatter(z, 0, i64([1, 0, 1], [1, 3]), 9).toArray(), [0, 9, 0, 9, 0, 9]);
    assert.deepEqual(t.scatterAdd(z, 1, i64([0, 0, 1, 1], [2, 2]), f64([1, 2, 3, 4], [2, 2])).toArray(), [3, 0, 0, 0, 7, 0]);
    const y = rnd([3, 4], 12);
    gradcheck((v) => t.indexSelect(v, 0, i64([2, 0, 2])), [y], { name: 'index_select (repeated index accumulates)' });
    gradcheck((v) => t.index(v, [i64([0, 2]), i64([3, 3])]), [y], { name: 'index' });
    gradcheck((v) => t.gather(v, 1, i64([0, 3, 1, 1, 2, 0], [3, 2])), [y], { name: 'gather' });
    gradcheck((v, s) => t.scatter(v, 1, i64([3, 1, 0], [3, 1]), s), [y, rnd([3, 1], 13)], { name: 'scatter' });
    gradcheck((v, s) => t.scatterAdd(v, 1, i64([0, 0, 2, 2, 1, 1], [3, 2]), s), [y, rnd([3, 2], 14)], { name: 'scatter_add' });
  }),
);

test(
  'flip / roll / unfold / diagonal / nonzero',
  scoped(() => {
    const x = range(6, [2, 3]);
    assert.deepEqual(t.flip(x, [1]).toArray(), [2, 1, 0, 5, 4, 3]);
    assert.deepEqual(t.roll(range(4, [4]), [1], [0]).toArray(), [3, 0, 1, 2]);
    const u = t.unfold(range(5, [5]), 0, 3, 2);
    assert.deepEqual(u.shape, [2, 3]);
    assert.deepEqual(u.toArray(), [0, 1, 2, 2, 3, 4]);
    assert.deepEqual(t.diagonal(range(9, [3, 3])).toArray(), [0, 4, 8]);
    assert.deepEqual(t.nonzero(f64([0, 2, 0, 3])).toArray(), [1, 3]);
    assert.deepEqual(t.nonzero(t.zeros([3])).shape, [0, 1]);
    const y = rnd([2, 5], 15);
    gradcheck((v) => t.flip(v, [0, 1]), [y], { name: 'flip' });
    gradcheck((v) => t.roll(v, [2], [1]), [y], { name: 'roll' });
    gradcheck((v) => t.unfold(v, 1, 3, 1), [y], { name: 'unfold (overlapping windows)' });
  }),
);

test(
  'tril / triu with diagonal offsets; batched; gradient is masked',
  scoped(() => {
    const x = range(9, [3, 3]).add(1); // 1..9
    assert.deepEqual(t.tril(x).toArray(), [1, 0, 0, 4, 5, 0, 7, 8, 9]);
    assert.deepEqual(t.triu(x).toArray(), [1, 2, 3, 0, 5, 6, 0, 0, 9]);
    assert.deepEqual(t.tril(x, -1).toArray(), [0, 0, 0, 4, 0, 0, 7, 8, 0]);
    assert.deepEqual(t.triu(x, 1).toArray(), [0, 2, 3, 0, 0, 6, 0, 0, 0]);
    assert.deepEqual(t.tril(t.ones([2, 3], { dtype: 'bool' })).toArray(), [1, 0, 0, 1, 1, 0]);
    assert.deepEqual(t.triu(range(8, [2, 2, 2])).toArray(), [0, 1, 0, 3, 4, 5, 0, 7]);
    assert.throws(() => t.tril(f64([1, 2])), /aten::tril: Dimension out of range/);
    const r = gradcheck((v) => t.tril(v), [rnd([3, 3], 16)], { name: 'tril' });
    assert.deepEqual(
      Array.from(r.numeric[0]!).map((v) => v !== 0),
      [true, false, false, true, true, false, true, true, true],
    );
    gradcheck((v) => t.triu(v, 1), [rnd([3, 4], 17)], { name: 'triu' });
  }),
);

test(
  'pad: constant (any dims, negative crops), reflect 1-d and 2-d, replicate',
  scoped(() => {
    const x = f64([1, 2, 3], [1, 1, 3]);
    assert.deepEqual(t.pad(x, [2, 1]).toArray(), [0, 0, 1, 2, 3, 0]);
    assert.deepEqual(t.pad(x, [1, 1], 'constant', -1).toArray(), [-1, 1, 2, 3, -1]);
    assert.deepEqual(t.pad(x, [0, 0, 1, 0]).shape, [1, 2, 3]);
    assert.deepEqual(t.pad(x, [-1, 0]).toArray(), [2, 3], 'negative padding crops');
    assert.deepEqual(t.pad(x, [2, 2], 'reflect').toArray(), [3, 2, 1, 2, 3, 2, 1]);
    assert.deepEqual(t.pad(x, [2, 1], 'replicate').toArray(), [1, 1, 1, 2, 3, 3]);
    const m = range(6, [1, 1, 2, 3]);
    assert.deepEqual(t.pad(m, [1, 1, 1, 0], 'reflect').toArray(), [4, 3, 4, 5, 4, 1, 0, 1, 2, 1, 4, 3, 4, 5, 4]);
    assert.throws(() => t.pad(x, [3, 0], 'reflect'), /aten::reflection_pad1d: Argument #4: Padding size should be less than the corresponding input dimension/);
    assert.throws(() => t.pad(x, [1]), /pad: padding must have an even length, got 1/);
    assert.throws(() => t.pad(x, [1, 1, 1, 1, 1, 1], 'reflect'), /pad: mode 'reflect' with 3 padded dimensions is not supported/);
    assert.deepEqual(t.pad(t.zeros([2, 0]), [1, 1]).shape, [2, 2], 'padding an empty dim');
    const y = rnd([1, 2, 5], 18);
    gradcheck((v) => t.pad(v, [2, 3], 'constant', 0.5), [y], { name: 'pad constant' });
    gradcheck((v) => t.pad(v, [2, 3], 'reflect'), [y], { name: 'pad reflect' });
    gradcheck((v) => t.pad(v, [1, 2], 'replicate'), [y], { name: 'pad replicate' });
    gradcheck((v) => t.pad(v, [1, 1, 1, 1], 'reflect'), [rnd([1, 1, 3, 3], 19)], { name: 'pad reflect 2-d' });
  }),
);

test(
  'clone copies; detach and alias share storage; int index tensors must be int64',
  scoped(() => {
    const x = f64([1, 2]);
    const c: Tensor = x.clone();
    assert.equal(c.sameStorage(x), false);
    t.noGrad(() => c.fill_(0));
    assert.deepEqual(x.toArray(), [1, 2]);
    assert.ok(x.alias().sameStorage(x));
    assert.throws(() => t.gather(x, 0, t.tensor([0], undefined, { dtype: 'int32' })), /aten::gather: gather\(\): Expected dtype int64 for index/);
  }),
);
