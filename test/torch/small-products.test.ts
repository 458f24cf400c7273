// The small-product kernel (native/src/small-products.cc) behind t.linear for 1-64 rows with gradients off: the
// values of ATen's linear for every row count up to 64 (register blocks of every height), widths that its column
// panels do not divide (masked last panel), with and without bias, 1-D to 3-D and strided inputs, a kernel-1 conv
// weight; the packed copy is cached on the weight, follows in-place writes and assign(), and goes with it; other
// dtypes, gradients and autocast keep ATen's route; bad arguments get a clear error; the AVX2 kernel (picked with
// STREAMNEST_SMALL_PRODUCTS=avx2 in a child process) gives the same values on a CPU that also has AVX-512.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as t from '../../src/torch/index.js';
import { SMALL_PRODUCT_KERNEL, SMALL_PRODUCT_ROWS } from '../../src/torch/ops/nn.js';
import { native } from '../../src/torch/native.js';
import { assertClose } from '../helpers/assert.js';

const skip = SMALL_PRODUCT_KERNEL === null && 'no small-product kernel on this CPU (or STREAMNEST_SMALL_PRODUCTS=off)';

/** x W^T + b through ATen's matmul (BLAS's gemm), caching nothing on the weight. */
function reference(x: t.Tensor, w: t.Tensor, b: t.Tensor | null): t.Tensor {
  const y = t.matmul(x, w.transpose(0, 1));
  return b ? y.add(b) : y;
}

/** The panel width of the kernel in use (the packed copy's last dimension). */
function panelWidth(): number {
  return t.tidy(() => new t.Tensor(native.packWeight(t.zeros([1, 1]).native)).size(2));
}

test('every row count from 1 to SMALL_PRODUCT_ROWS, widths the panels do not divide, with and without bias: ATen linear values', { skip }, () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    const g = new t.Generator(3);
    for (const [inF, outF] of [
      [176, 704],
      [40, 17],
      [5, 33],
      [1, 1],
      [64, 48],
    ] as const) {
      const w = t.randn([outF, inF], { generator: g });
      const b = t.randn([outF], { generator: g });
      for (let rows = 1; rows <= SMALL_PRODUCT_ROWS; rows += inF === 176 ? 1 : 7) {
        const x = t.randn([rows, inF], { generator: g });
        for (const bias of [b, null]) {
          const y = t.noGrad(() => t.linear(x, w, bias));
          assert.deepEqual(y.shape, [rows, outF]);
          assertClose(y, reference(x, w, bias), 1e-4, 1e-5, `${rows} x ${inF} by ${inF} x ${outF}, bias ${bias !== null}`);
        }
      }
      assert.equal(w.derived?.kind, 'packed', 'the packed copy is cached on the weight');
    }
  });
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});

test('1-D and 3-D inputs, a strided input and bias, a kernel-1 conv weight', { skip }, () => {
  t.tidy(() => {
    const g = new t.Generator(5);
    const w = t.randn([96, 40], { generator: g });
    const b = t.randn([96], { generator: g });
    for (const shape of [[40], [1, 1, 40], [2, 3, 40], [1, 7, 40]]) {
      const x = t.randn(shape, { generator: g });
      const y = t.noGrad(() => t.linear(x, w, b));
      assert.deepEqual(y.shape, [...shape.slice(0, -1), 96]);
      assertClose(y, reference(x, w, b), 1e-4, 1e-5, JSON.stringify(shape));
    }
    const strided = t.randn([1, 40, 6], { generator: g }).transpose(1, 2); // [1, 6, 40], rows not contiguous
    const stridedBias = t.randn([96, 2], { generator: g }).select(1, 1); // every other value
    assertClose(
      t.noGrad(() => t.linear(strided, w, stridedBias)),
      reference(strided.contiguous(), w, stridedBias.contiguous()),
      1e-4,
      1e-5,
      'strided x and bias',
    );
    const pw = t.randn([96, 40, 1], { generator: g });
    assertClose(
      t.noGrad(() => t.pointwiseConv1dRows(strided, pw, b)),
      reference(strided.contiguous(), pw.view([96, 40]), b),
      1e-4,
      1e-5,
      'conv weight',
    );
  });
});

test('the packed copy is made once, follows in-place writes and assign(), and goes with its weight', { skip }, () => {
  const before = t.liveTensorCount();
  const copies = t.derivedTensorCount();
  t.tidy(() => {
    const g = new t.Generator(11);
    const w = t.randn([96, 40], { generator: g });
    const x = t.randn([4, 40], { generator: g });
    t.noGrad(() => t.linear(x, w));
    const packed = w.derived?.tensor;
    assert.ok(packed);
    const nr = panelWidth();
    assert.deepEqual(packed.shape, [Math.ceil(96 / nr), 40, nr]);
    assert.equal(t.derivedTensorCount(), copies + 1);
    t.noGrad(() => t.linear(x, w));
    assert.equal(w.derived?.tensor, packed, 'made once while the weight is unchanged');
    w.mul_(2);
    assertClose(
      t.noGrad(() => t.linear(x, w)),
      reference(x, w, null),
      1e-4,
      1e-5,
      'after an in-place write',
    );
    assert.notEqual(w.derived?.tensor, packed, 'remade after an in-place write');
    const written = w.derived?.tensor;
    const other = t.randn([96, 40], { generator: g });
    while (other.version < w.version) other.mul_(1); // the same version counter: only assign() tells them apart
    w.assign(other);
    assertClose(
      t.noGrad(() => t.linear(x, w)),
      reference(x, other, null),
      1e-4,
      1e-5,
      'after assign()',
    );
    assert.notEqual(w.derived?.tensor, written, 'remade after assign()');
  });
  assert.equal(t.derivedTensorCount(), copies, 'disposed with its weight');
  assert.equal(t.liveTensorCount(), before);
});

test("float64, gradients on, CPU autocast and more than SMALL_PRODUCT_ROWS rows keep ATen's route", { skip }, () => {
  t.tidy(() => {
    const g = new t.Generator(2);
    const w64 = t.randn([24, 16], { generator: g, dtype: 'float64' });
    t.noGrad(() => t.linear(t.randn([4, 16], { generator: g, dtype: 'float64' }), w64));
    assert.notEqual(w64.derived?.kind, 'packed');
    const w = t.randn([24, 16], { generator: g, requiresGrad: true });
    const x = t.randn([4, 16], { generator: g, requiresGrad: true });
    t.linear(x, w).sum().backward();
    assert.ok(x.grad && w.grad, 'gradients flow on the autograd route');
    assert.equal(w.derived, null);
    const v = t.randn([24, 16], { generator: g });
    assert.equal(
      t.noGrad(() => t.autocast({ device: 'cpu', dtype: 'bfloat16' }, () => t.linear(t.randn([4, 16], { generator: g }), v).dtype)),
      'bfloat16',
    );
    t.noGrad(() => t.linear(t.randn([SMALL_PRODUCT_ROWS + 1, 16], { generator: g }), v));
    assert.equal(v.derived, null, 'neither route made a copy');
  });
});

test("many rows (a convolution's output positions) and the fused ReLU: packedProducts equals linear (then ReLU); oneChannelConv2dRows equals conv2d", {
  skip,
}, () => {
  const before = t.liveTensorCount();
  t.tidy(() =>
    t.noGrad(() => {
      const g = new t.Generator(12);
      for (const [rows, inF, outF] of [
        [65, 9, 256],
        [300, 9, 40],
        [1000, 7, 33],
      ] as const) {
        const x = t.randn([rows, inF], { generator: g });
        const w = t.randn([outF, inF], { generator: g });
        const b = t.randn([outF], { generator: g });
        const packed = new t.Tensor(native.packWeight(w.native));
        for (const relu of [false, true]) {
          const y = new t.Tensor(native.packedProducts(x.native, packed.native, outF, b.native, relu));
          const ref = reference(x, w, b);
          assertClose(y, relu ? ref.relu() : ref, 1e-5, 1e-5, `${rows} x ${inF} -> ${outF}, relu ${relu}`);
        }
      }
      for (const [batch, time, freq, stride, kh, kw, c] of [
        [1, 44, 83, 2, 3, 3, 256],
        [3, 10, 9, 1, 3, 3, 8],
        [2, 12, 17, 2, 2, 3, 5],
      ] as const) {
        const x = t.randn([batch, 1, time, freq], { generator: g });
        const w = t.randn([c, 1, kh, kw], { generator: g });
        const b = t.randn([c], { generator: g });
        for (const bias of [b, null]) {
          for (const relu of [false, true]) {
            const y = t.oneChannelConv2dRows(x, w, bias, stride, relu)!;
            const ref = t.conv2d(x, w, bias, { stride });
            assert.deepEqual(y.shape, ref.shape);
            assert.equal(y.strides[1], 1, 'laid out channels last');
            assertClose(y, relu ? ref.relu() : ref, 1e-5, 1e-5, `[${batch}, 1, ${time}, ${freq}] stride ${stride}, relu ${relu}`);
          }
        }
        assert.equal(w.derived?.kind, 'packed', 'the packed copy is cached on the conv weight');
      }
      // where it does not apply: two input channels, float64
      assert.equal(t.oneChannelConv2dRows(t.zeros([1, 2, 5, 5]), t.zeros([4, 2, 3, 3]), null, 1, false), null);
      assert.equal(t.oneChannelConv2dRows(t.zeros([1, 1, 5, 5], { dtype: 'float64' }), t.zeros([4, 1, 3, 3], { dtype: 'float64' }), null, 1, false), null);
    }),
  );
  // gradients on: conv2d's route (autograd)
  t.tidy(() => assert.equal(t.oneChannelConv2dRows(t.zeros([1, 1, 5, 5]), t.zeros([4, 1, 3, 3]), null, 1, false), null));
  assert.equal(t.liveTensorCount(), before);
});

test('packWeight and packedProducts refuse bad arguments with a clear error', { skip }, () => {
  t.tidy(() => {
    const w = t.randn([8, 4]);
    const packed = new t.Tensor(native.packWeight(w.native));
    assert.throws(() => native.packedProducts(t.randn([2, 5]).native, packed.native, 8, null), /packedProducts: expected float32 CPU x \[\.\.\., 4\]/);
    assert.throws(() => native.packedProducts(t.randn([2, 4]).native, packed.native, 8, t.randn([7]).native), /bias of 8 values/);
    assert.throws(() => native.packedProducts(t.randn([2, 4]).native, packed.native, 999, null), /cannot have 999 rows/);
    assert.throws(() => native.packedProducts(t.randn([2, 4]).native, w.native, 8, null), /expected a weight packed for the/);
    assert.throws(() => native.packWeight(t.randn([8, 4], { dtype: 'float64' }).native), /packWeight: expected a float32 CPU weight/);
  });
});

test('the AVX2 kernel (STREAMNEST_SMALL_PRODUCTS=avx2) gives ATen linear values too, with many rows and the fused ReLU', {
  skip: SMALL_PRODUCT_KERNEL !== 'avx512' && 'needs a CPU with AVX-512 (the AVX2 kernel is the default one elsewhere)',
}, () => {
  const script = fileURLToPath(new URL('./small-products-child.js', import.meta.url));
  const r = spawnSync(process.execPath, [script], { env: { ...process.env, STREAMNEST_SMALL_PRODUCTS: 'avx2' }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { kernel: string; nr: number; worst: number; worstRelu: number };
  assert.equal(out.kernel, 'avx2');
  assert.equal(out.nr, 16);
  assert.ok(out.worst < 1e-5, `largest difference relative to the values' scale: ${out.worst}`);
  assert.ok(out.worstRelu < 1e-5, `300 rows with the fused ReLU: ${out.worstRelu}`);
});

test('STREAMNEST_SMALL_PRODUCTS=off: no kernel, and linear takes ATen routes', () => {
  const script = fileURLToPath(new URL('./small-products-child.js', import.meta.url));
  const r = spawnSync(process.execPath, [script], { env: { ...process.env, STREAMNEST_SMALL_PRODUCTS: 'off' }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { kernel: string | null; derivedKind: string | null };
  assert.equal(out.kernel, null);
  assert.notEqual(out.derivedKind, 'packed');
});
