// t.linear's routes besides ATen's linear (gemm with the weight transposed): with gradients off, 1-64 rows through the
// small-product kernel over the weight's cached packed copy (test/torch/small-products.test.ts); without that kernel
// (turned off here with useSmallProductKernel, as on a CPU without AVX2), small products with no gradient to the
// weight multiply by the weight's cached transposed copy, 1-3 rows go through one matrix-vector product each, and one
// row with gradients on through addmv/mv. Same values, shapes and gradients as ATen's route, with and without bias,
// for 1-D to 3-D inputs; the cached copy follows in-place writes and assign() and goes with its weight; under CPU
// autocast it stays linear's lower-precision route; no leaked handles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { FEW_ROWS, SMALL_PRODUCT_ROWS, useSmallProductKernel } from '../../src/torch/ops/nn.js';
import { native } from '../../src/torch/native.js';
import { assertClose } from '../helpers/assert.js';

/**
 * The same product x [..., in] W^T + b through ATen's linear: the rows padded with zero rows to more than
 * SMALL_PRODUCT_ROWS (always ATen's route), then the padding dropped.
 */
const viaGemm = (x: t.Tensor, w: t.Tensor, b: t.Tensor | null): t.Tensor => {
  const d = x.shape[x.shape.length - 1]!;
  const rows = x.reshape([-1, d]);
  const padded = t.cat([rows, t.zeros([SMALL_PRODUCT_ROWS + 1, d])], 0);
  return t
    .linear(padded, w, b)
    .narrow(0, 0, rows.size(0))
    .reshape([...x.shape.slice(0, -1), w.shape[0]!]);
};

/** Runs `f` with the small-product kernel turned off (ATen's routes, as on a CPU without one). */
function withoutKernel(f: () => void): void {
  const was = useSmallProductKernel(false);
  try {
    f();
  } finally {
    useSmallProductKernel(was);
  }
}

test('one row: the matrix-vector route equals the gemm route in value and shape (1-D to 3-D, with and without bias)', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    const g = new t.Generator(7);
    const w = t.randn([704, 176], { generator: g });
    const b = t.randn([704], { generator: g });
    for (const shape of [[176], [1, 176], [1, 1, 176]]) {
      const x = t.randn(shape, { generator: g });
      for (const bias of [b, null]) {
        const y = t.linear(x, w, bias);
        assert.deepEqual(y.shape, [...shape.slice(0, -1), 704], `shape for ${JSON.stringify(shape)}`);
        assertClose(y, viaGemm(x, w, bias), 1e-4, 1e-5);
      }
    }
  });
  assert.equal(t.liveTensorCount(), before);
});

test('one row: gradients of input, weight and bias equal the gemm route (a vector and a [1, 1, in] row)', () => {
  for (const shape of [[16], [1, 1, 16]])
    t.tidy(() => {
      const grads = (route: (x: t.Tensor, w: t.Tensor, b: t.Tensor) => t.Tensor): t.Tensor[] => {
        const x = t.randn(shape, { generator: new t.Generator(1), requiresGrad: true });
        const w = t.randn([24, 16], { generator: new t.Generator(2), requiresGrad: true });
        const b = t.randn([24], { generator: new t.Generator(3), requiresGrad: true });
        route(x, w, b).pow(2).sum().backward();
        return [x.grad!, w.grad!, b.grad!];
      };
      const mv = grads((x, w, b) => t.linear(x, w, b));
      const mm = grads((x, w, b) => viaGemm(x, w, b));
      for (let i = 0; i < 3; i++) assertClose(mv[i]!, mm[i]!, 1e-5, 1e-5);
    });
});

test('one row under CPU autocast: linear lower-precision route (bfloat16), not the float32 matrix-vector one', () => {
  t.tidy(() => {
    const x = t.randn([1, 32]);
    const w = t.randn([8, 32]);
    assert.equal(
      t.autocast({ device: 'cpu', dtype: 'bfloat16' }, () => t.linear(x, w).dtype),
      'bfloat16',
    );
    assert.equal(
      t.autocast({ device: 'cpu', enabled: false }, () => t.linear(x, w).dtype),
      'float32',
    );
    assert.equal(t.linear(x, w).dtype, 'float32');
  });
});

test('without the small-product kernel, small products without a gradient to the weight: the transposed copy gives ATen linear values, is made once, follows in-place writes and assign(), and goes with its weight', () =>
  withoutKernel(() => {
    const before = t.liveTensorCount();
    const derivedBefore = t.derivedTensorCount();
    t.tidy(() => {
      const g = new t.Generator(11);
      const w = t.randn([96, 40], { generator: g });
      const b = t.randn([96], { generator: g });
      const rows = (n: number): t.Tensor => t.randn([1, n, 40], { generator: g });
      t.noGrad(() => {
        for (const n of [1, 3, 8, SMALL_PRODUCT_ROWS]) {
          const x = rows(n);
          const y = t.linear(x, w, b);
          assert.deepEqual(y.shape, [1, n, 96]);
          assertClose(y, viaGemm(x, w, b), 1e-4, 1e-5);
        }
        const copy = w.derived?.tensor;
        assert.ok(copy, 'the transposed copy is cached on the weight');
        assert.equal(t.derivedTensorCount(), derivedBefore + 1, 'one copy for the weight, counted apart from live tensors');
        assert.deepEqual(copy.shape, [40, 96]);
        t.linear(rows(2), w, b);
        assert.equal(w.derived?.tensor, copy, 'made once while the weight is unchanged');
        const x = rows(4);
        w.mul_(2); // an in-place write (as an optimizer step)
        assertClose(t.linear(x, w, null), viaGemm(x, w, null), 1e-4, 1e-5);
        assert.notEqual(w.derived?.tensor, copy, 'remade after an in-place write');
        const written = w.derived?.tensor;
        const other = t.randn([96, 40], { generator: g });
        while (other.version < w.version) other.mul_(1); // the same version counter value: only assign() tells them apart
        assert.equal(other.version, w.version);
        w.assign(other);
        assertClose(t.linear(x, w, null), viaGemm(x, other, null), 1e-4, 1e-5);
        assert.notEqual(w.derived?.tensor, written, 'remade after assign()');
      });
    });
    assert.equal(t.derivedTensorCount(), derivedBefore, 'the cached copy is disposed with its weight');
    assert.equal(t.liveTensorCount(), before);
  }));

test("small products with a gradient to the weight stay on ATen's route and cache nothing", () => {
  t.tidy(() => {
    const w = t.randn([24, 16], { generator: new t.Generator(2), requiresGrad: true });
    const x = t.randn([1, 4, 16], { generator: new t.Generator(1), requiresGrad: true });
    t.linear(x, w, null).pow(2).sum().backward();
    assert.equal(w.derived, null);
    assert.deepEqual(w.grad!.shape, [24, 16]);
    const frozen = t.randn([24, 16], { generator: new t.Generator(2) });
    const y = t.linear(x, frozen, null); // a frozen weight: the copy, and the gradient still flows to x
    assert.ok(frozen.derived);
    x.grad = null;
    y.pow(2).sum().backward();
    const ref = t.randn([1, 4, 16], { generator: new t.Generator(1), requiresGrad: true });
    t.matmul(ref, frozen.transpose(0, 1)).pow(2).sum().backward();
    assertClose(x.grad!, ref.grad!, 1e-5, 1e-5);
  });
});

test(`without the small-product kernel, 1 to ${FEW_ROWS} rows with gradients off: one matrix-vector product per row (native rowProducts) gives ATen linear's values`, () =>
  withoutKernel(() => {
    const before = t.liveTensorCount();
    const copies = t.derivedTensorCount();
    t.tidy(() => {
      const g = new t.Generator(11);
      const w = t.randn([352, 176], { generator: g });
      const b = t.randn([352], { generator: g });
      for (const shape of [
        [1, 1, 176],
        [2, 176],
        [1, 3, 176],
        [3, 1, 176],
      ]) {
        const x = t.randn(shape, { generator: g });
        for (const bias of [b, null]) {
          const y = t.noGrad(() => t.linear(x, w, bias));
          assert.deepEqual(y.shape, [...shape.slice(0, -1), 352], `shape for ${JSON.stringify(shape)}`);
          assertClose(y, viaGemm(x, w, bias), 1e-4, 1e-5, `values for ${JSON.stringify(shape)}, bias ${bias !== null}`);
        }
      }
      // a kernel-1 conv weight [out, in, 1] through the pointwise route, and a non-contiguous x
      const pw = t.randn([352, 176, 1], { generator: g });
      const xt = t.randn([1, 176, 2], { generator: g }).transpose(1, 2); // [1, 2, 176], strided
      const y = t.noGrad(() => t.pointwiseConv1dRows(xt, pw, b));
      assertClose(y, viaGemm(xt.contiguous(), pw.view([352, 176]), b), 1e-4, 1e-5, 'pointwise conv rows');
      assert.equal(t.derivedTensorCount(), copies, 'no transposed weight copy was made: the per-row route was taken');
    });
    assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  }));

test('few rows with gradients on stay on the autograd route: gradients of input, weight and bias flow', () => {
  t.tidy(() => {
    const x = t.randn([1, 2, 16], { generator: new t.Generator(1), requiresGrad: true });
    const w = t.randn([24, 16], { generator: new t.Generator(2), requiresGrad: true });
    const b = t.randn([24], { generator: new t.Generator(3), requiresGrad: true });
    t.linear(x, w, b).pow(2).sum().backward();
    for (const p of [x, w, b]) assert.ok(p.grad, 'gradient present');
    const ref = viaGemm(x.detach(), w.detach(), b.detach());
    assertClose(t.linear(x, w, b).detach(), ref, 1e-5, 1e-5);
  });
});

test('rowProducts refuses mismatched shapes with a clear error', () => {
  t.tidy(() => {
    const w = t.randn([8, 4]);
    const x = t.randn([2, 5]);
    assert.throws(() => t.noGrad(() => t.linear(x, w)), /5|4|shape|size/);
    assert.throws(() => native.rowProducts(w.native, x.native, null), /rowProducts: expected weight \[out, in\] and x \[\.\.\., in\]/);
  });
});
