// t.copyInto (dst.copy_(src) through a native loop nest for small strided float32 views without gradients) against
// copy_: transposed and sliced views of 1-4 dims, the routes it leaves to copy_ (broadcasting, other dtypes, views
// of one storage, gradients on), the version counter, no leaked handles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';

test('copyInto writes what copy_ writes: a key cache block, transposed and sliced views of 1 to 4 dims', () => {
  const before = t.liveTensorCount();
  t.tidy(() =>
    t.noGrad(() => {
      const g = new t.Generator(6);
      // a streaming step's keys: the projection [B, T, h * d_k] read as [B, h, d_k, T], into columns C..C+T of the buffer
      const [b, h, dk, tt, cap] = [3, 4, 5, 2, 9];
      const projected = t.randn([b, tt, h * dk], { generator: g });
      const kNew = projected.view([b, tt, h, dk]).permute([0, 2, 3, 1]); // [B, h, d_k, T]
      const buffer = t.randn([b, h, dk, cap], { generator: g });
      const expected = buffer.clone();
      expected.narrow(3, 6, tt).copy_(kNew);
      const v0 = buffer.version;
      t.copyInto(buffer.narrow(3, 6, tt), kNew);
      assert.deepEqual(buffer.toArray(), expected.toArray());
      assert.ok(buffer.version > v0, 'the write bumps the version counter (derived copies and autograd see it)');
      for (const [shape, perm] of [
        [[7], [0]],
        [
          [3, 5],
          [1, 0],
        ],
        [
          [2, 3, 4],
          [2, 0, 1],
        ],
        [
          [2, 3, 4, 5],
          [3, 1, 0, 2],
        ],
      ] as [number[], number[]][]) {
        const src = t.randn(shape, { generator: g }).permute(perm);
        const dst = t.zeros([...src.shape, 2]).select(-1, 1); // strided destination
        const ref = t.zeros(src.shape);
        ref.copy_(src);
        t.copyInto(dst, src);
        assert.deepEqual(dst.toArray(), ref.toArray(), `shape ${shape} permuted ${perm}`);
      }
      // left to copy_: broadcasting, float64, an overlapping view of the same storage
      const row = t.tensor([1, 2, 3], [3]);
      assert.deepEqual(t.copyInto(t.zeros([2, 3]), row).toArray(), [1, 2, 3, 1, 2, 3]);
      const d64 = t.zeros([2, 2], { dtype: 'float64' });
      t.copyInto(d64, t.tensor([1, 2, 3, 4], [2, 2], { dtype: 'float64' }).transpose(0, 1));
      assert.deepEqual(d64.toArray(), [1, 3, 2, 4]);
      const same = t.arange(6).to({ dtype: 'float32' });
      t.copyInto(same.narrow(0, 0, 3), same.narrow(0, 3, 3));
      assert.deepEqual(same.toArray(), [3, 4, 5, 3, 4, 5]);
    }),
  );
  assert.equal(t.liveTensorCount(), before);
});

test('copyInto with gradients on is copy_ (the gradient flows to the source)', () => {
  t.tidy(() => {
    const src = t.randn([2, 3], { generator: new t.Generator(1), requiresGrad: true });
    const dst = t.zeros([3, 2]).transpose(0, 1);
    const y = t.copyInto(dst, src);
    y.mul(t.tensor([1, 2, 3, 4, 5, 6], [2, 3]))
      .sum()
      .backward();
    assert.deepEqual(src.grad!.toArray(), [1, 2, 3, 4, 5, 6]);
  });
});
