// t.batchedMatmul: batches of small matrix products (attention's scores and weighted values) with gradients off go
// through one native call (batchedProducts: float32 matrices of up to 16 rows with row-contiguous operands through the
// small-product kernel, the others one BLAS gemm per matrix) instead of ATen's bmm. Same values as ATen's matmul for
// 3-D and 4-D batches, float32 and float64, row- and column-major operands, windows of wider buffers, strided batch
// axes, extents of 1, widths of whole and partial kernel panels, 16 and 17 rows, with the kernel on and off; ATen's
// matmul where the route does not apply (broadcasting, an operand without a unit stride, integers, gradients on); no
// leaked handles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { native } from '../../src/torch/native.js';
import { useSmallProductKernel } from '../../src/torch/ops/nn.js';
import { assertClose } from '../helpers/assert.js';

/** Calls of the addon's dispatcher bridge made by f. */
function dispatcherCalls(f: () => void): number {
  const orig = native.callOp;
  let n = 0;
  native.callOp = (...a) => {
    n++;
    return orig.apply(native, a);
  };
  try {
    f();
  } finally {
    native.callOp = orig;
  }
  return n;
}

const cases: { name: string; make: (g: t.Generator, dtype: 'float32' | 'float64') => [t.Tensor, t.Tensor] }[] = [
  { name: '3-D contiguous', make: (g, dtype) => [t.randn([5, 4, 7], { generator: g, dtype }), t.randn([5, 7, 9], { generator: g, dtype })] },
  {
    // queries split into heads ([B, T, h, d_k] -> [B, h, T, d_k]: batch axes that do not merge) against keys stored
    // transposed in a window of a wider buffer ([B, h, d_k, capacity] narrowed along time)
    name: '4-D heads against a key window',
    make: (g, dtype) => [t.randn([3, 4, 2, 6], { generator: g, dtype }).transpose(1, 2), t.randn([3, 2, 6, 20], { generator: g, dtype }).narrow(3, 5, 11)],
  },
  {
    name: 'column-major operands (transposed views)',
    make: (g, dtype) => [t.randn([2, 3, 7, 4], { generator: g, dtype }).transpose(2, 3), t.randn([2, 3, 9, 7], { generator: g, dtype }).transpose(2, 3)],
  },
  {
    name: 'extents of 1 (one query, one key, a contraction of 1)',
    make: (g, dtype) => [t.randn([6, 1, 1], { generator: g, dtype }), t.randn([6, 1, 5], { generator: g, dtype })],
  },
  { name: 'one output column', make: (g, dtype) => [t.randn([2, 2, 3, 8], { generator: g, dtype }), t.randn([2, 2, 8, 1], { generator: g, dtype })] },
  {
    // whole and partial panels of the small-product kernel (16 or 32 columns) in a window of a wider key buffer
    name: '4 query rows against 70 keys of a window',
    make: (g, dtype) => [t.randn([2, 3, 4, 44], { generator: g, dtype }), t.randn([2, 3, 44, 100], { generator: g, dtype }).narrow(3, 10, 70)],
  },
  { name: '16 rows (the kernel)', make: (g, dtype) => [t.randn([3, 16, 12], { generator: g, dtype }), t.randn([3, 12, 33], { generator: g, dtype })] },
  { name: '17 rows (gemm)', make: (g, dtype) => [t.randn([3, 17, 12], { generator: g, dtype }), t.randn([3, 12, 33], { generator: g, dtype })] },
];

test('batchedMatmul with gradients off: one native call, the values of ATen matmul (float32 and float64, the small-product kernel on and off)', () => {
  const before = t.liveTensorCount();
  const was = useSmallProductKernel(true);
  t.noGrad(() =>
    t.tidy(() => {
      for (const kernel of [true, false])
        for (const dtype of ['float32', 'float64'] as const)
          for (const c of cases) {
            useSmallProductKernel(kernel);
            const [a, b] = c.make(new t.Generator(3), dtype);
            let y: t.Tensor | null = null;
            assert.equal(
              dispatcherCalls(() => {
                y = t.batchedMatmul(a, b);
              }),
              0,
              `${c.name} (${dtype}): not through the native route`,
            );
            const ref = t.matmul(a, b);
            assert.deepEqual(y!.shape, ref.shape, c.name);
            assert.equal(y!.dtype, dtype);
            assertClose(y!, ref, dtype === 'float32' ? 1e-5 : 1e-12, dtype === 'float32' ? 1e-6 : 1e-13, `${c.name} (${dtype}, kernel ${kernel})`);
          }
    }),
  );
  useSmallProductKernel(was);
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});

test('batchedMatmul falls back to ATen matmul where one gemm per matrix does not apply', () => {
  t.noGrad(() =>
    t.tidy(() => {
      const g = new t.Generator(4);
      const fallbacks: [string, t.Tensor, t.Tensor][] = [
        ['broadcast batch', t.randn([1, 2, 3, 4], { generator: g }), t.randn([5, 2, 4, 6], { generator: g })],
        ['3-D by 2-D', t.randn([5, 3, 4], { generator: g }), t.randn([4, 6], { generator: g })],
        // every other column: neither rows nor columns are contiguous
        ['no unit stride', t.asStrided(t.randn([2, 3, 8], { generator: g }), [2, 3, 4], [24, 8, 2], 0), t.randn([2, 4, 5], { generator: g })],
      ];
      for (const [name, a, b] of fallbacks) assertClose(t.batchedMatmul(a, b), t.matmul(a, b), 1e-6, 1e-6, name);
      const ints = [t.tensor([1, 2, 3, 4], [1, 2, 2], { dtype: 'int64' }), t.tensor([5, 6, 7, 8], [1, 2, 2], { dtype: 'int64' })] as const;
      assert.deepEqual(t.batchedMatmul(ints[0], ints[1]).toArray(), [19, 22, 43, 50], 'integers: ATen matmul');
      assert.throws(() => t.batchedMatmul(t.randn([2, 3, 4]), t.randn([2, 5, 6])), /shape|size|match/i, 'mismatched contraction: matmul error');
    }),
  );
});

test('batchedMatmul with gradients on is ATen matmul: gradients flow to both operands', () => {
  t.tidy(() => {
    const g = new t.Generator(5);
    const a = t.randn([2, 3, 4], { generator: g });
    const b = t.randn([2, 4, 5], { generator: g });
    a.requiresGrad = true;
    b.requiresGrad = true;
    t.batchedMatmul(a, b).sum().backward();
    const [ga, gb] = [a.grad!, b.grad!];
    assertClose(
      ga,
      t.noGrad(() => t.ones([2, 3, 5]).matmul(b.transpose(1, 2))),
      1e-5,
      1e-6,
      'grad of a',
    );
    assertClose(
      gb,
      t.noGrad(() => a.transpose(1, 2).matmul(t.ones([2, 3, 5]))),
      1e-5,
      1e-6,
      'grad of b',
    );
  });
});
