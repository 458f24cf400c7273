// Autocast through the boxed dispatcher: lower-precision and fp32-listed ops, state restore, nesting, the weight-cast
// cache, gradients into float32 parameters, and no leaked tensor handles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';

const cpuBf16 = { device: 'cpu', dtype: 'bfloat16' } as const;

test('under CPU autocast matmul, linear and conv1d return bfloat16; fp32-listed losses and float64 inputs do not change', () => {
  t.tidy(() => {
    const x = t.randn([4, 8]);
    const w = t.randn([6, 8]);
    const target = t.tensor([0, 1, 2, 3], [4], { dtype: 'int64' });
    const r = t.autocast(cpuBf16, () => {
      const y = t.linear(x, w); // [4, 6]
      return {
        linear: y.dtype,
        matmul: x.matmul(w.transpose(0, 1)).dtype,
        conv1d: t.conv1d(t.randn([1, 8, 10]), t.randn([4, 8, 3])).dtype,
        nll: t.nllLoss(t.logSoftmax(y, 1), target).dtype,
        crossEntropy: t.crossEntropy(y, target).dtype,
        mse: t.mseLoss(y, t.zeros([4, 6])).dtype,
        float64: x.to({ dtype: 'float64' }).matmul(w.to({ dtype: 'float64' }).transpose(0, 1)).dtype,
        state: t.autocastState('cpu'),
      };
    });
    assert.deepEqual(r, {
      linear: 'bfloat16',
      matmul: 'bfloat16',
      conv1d: 'bfloat16',
      nll: 'float32',
      crossEntropy: 'float32',
      mse: 'float32',
      float64: 'float64',
      state: { enabled: true, dtype: 'bfloat16' },
    });
    assert.equal(t.autocastState('cpu').enabled, false);
    assert.equal(t.linear(x, w).dtype, 'float32');
  });
});

test('bfloat16 results are close to float32 ones (about 3 significant digits)', () => {
  t.tidy(() => {
    const g = new t.Generator(7);
    const x = t.randn([16, 64], { generator: g });
    const w = t.randn([32, 64], { generator: g });
    const full = t.linear(x, w);
    const low = t.autocast(cpuBf16, () => t.linear(x, w)).to({ dtype: 'float32' });
    // 64 products of N(0,1) values rounded to 8 mantissa bits: errors ~ sqrt(64) * 2^-8 relative to |x||w|
    assertClose(low, full, 0.25, 0.02, 'bf16 linear');
    assert.ok(low.sub(full).abs().max().item() > 0, 'bf16 differs from float32 somewhere (it really ran in bf16)');
  });
});

test('silu of a bfloat16 input under CPU autocast runs in float32 (float32 result, its exact values, gradient in bf16); outside autocast bf16 stays bf16', () => {
  t.tidy(() => {
    const g = new t.Generator(3);
    const x = t.randn([5, 7], { generator: g }).to({ dtype: 'bfloat16' });
    x.requiresGrad = true;
    const y = t.autocast(cpuBf16, () => t.silu(x));
    assert.equal(y.dtype, 'float32');
    assert.deepEqual(y.toArray(), t.noGrad(() => t.silu(x.to({ dtype: 'float32' }))).toArray(), 'float32 silu of the bf16 values');
    y.sum().backward();
    assert.equal(x.grad!.dtype, 'bfloat16');
    const xf = x.detach().to({ dtype: 'float32' });
    const sig = t.sigmoid(xf);
    assertClose(x.grad!.to({ dtype: 'float32' }), sig.mul(xf.mul(sig.neg().add(1)).add(1)), 1e-2, 1e-2, "silu'(x) = s(x)(1 + x(1 - s(x)))");
    assert.equal(t.silu(x.detach()).dtype, 'bfloat16', 'no autocast: bf16 in, bf16 out');
    assert.equal(t.autocast(cpuBf16, () => t.silu(t.randn([3], { generator: g }))).dtype, 'float32');
  });
});

test('the previous state comes back after an exception, and nested scopes restore the outer one', () => {
  assert.throws(
    () =>
      t.autocast(cpuBf16, () => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.deepEqual(t.autocastState('cpu').enabled, false);
  t.tidy(() => {
    const x = t.randn([3, 5]);
    const w = t.randn([2, 5]);
    const seen = t.autocast(cpuBf16, () => {
      const inner = t.autocast({ device: 'cpu', enabled: false }, () => t.linear(x, w).dtype);
      const innerThrow = (() => {
        try {
          t.autocast({ device: 'cpu', enabled: false }, () => {
            throw new Error('inner');
          });
        } catch {
          return t.linear(x, w).dtype;
        }
        return 'no throw';
      })();
      return { inner, afterInner: t.linear(x, w).dtype, innerThrow };
    });
    assert.deepEqual(seen, { inner: 'float32', afterInner: 'bfloat16', innerThrow: 'bfloat16' });
  });
  assert.deepEqual(t.autocastState('cpu'), { enabled: false, dtype: 'bfloat16' });
});

test('the cast-weight cache lives until the outermost scope exits', () => {
  t.tidy(() => {
    const x = t.ones([1, 4]);
    const w = t.ones([1, 4], { requiresGrad: true }); // a leaf that requires grad: its bf16 copy is cached
    const [first, stale] = t.autocast(cpuBf16, () => {
      const a = t.linear(x, w).item();
      t.autocast(cpuBf16, () => t.noGrad(() => w.mul_(2)));
      // the inner exit did not clear the cache: the cached copy of the old w is used again
      return [a, t.linear(x, w).item()];
    });
    assert.equal(first, 4);
    assert.equal(stale, 4);
    const fresh = t.autocast(cpuBf16, () => t.linear(x, w).item());
    assert.equal(fresh, 8);
  });
});

test('gradients reach float32 parameters in float32 and match the float32 gradients within bf16 error', () => {
  t.tidy(() => {
    const g = new t.Generator(3);
    const x = t.randn([8, 16], { generator: g });
    const w = t.randn([4, 16], { generator: g }).mul(0.1).detach();
    w.requiresGrad = true;
    const target = t.tensor([0, 1, 2, 3, 0, 1, 2, 3], [8], { dtype: 'int64' });
    const lossMixed = t.autocast(cpuBf16, () => t.crossEntropy(t.linear(x, w), target));
    assert.equal(lossMixed.dtype, 'float32');
    lossMixed.backward();
    const gMixed = w.grad!.clone();
    assert.equal(gMixed.dtype, 'float32');
    w.grad = null;
    t.crossEntropy(t.linear(x, w), target).backward();
    assertClose(gMixed, w.grad!, 0.02, 0.05, 'grad under autocast vs float32');
  });
});

test('autocast scopes leak no tensor handles', () => {
  const x = t.keep(t.randn([4, 8]));
  const w = t.keep(t.randn([6, 8], { requiresGrad: true }));
  const before = t.liveTensorCount();
  for (let i = 0; i < 5; i++) {
    t.tidy(() => t.autocast(cpuBf16, () => t.linear(x, w).sum().backward()));
    w.grad = null;
  }
  assert.equal(t.liveTensorCount(), before);
  x.dispose();
  w.dispose();
});

test('an async function is refused, and bad devices and dtypes are named', () => {
  assert.throws(() => t.autocast(cpuBf16, async () => 1), /must be synchronous/);
  assert.equal(t.autocastState('cpu').enabled, false);
  assert.throws(() => t.autocast({ device: 'tpu' as 'cpu' }, () => 1), /device must be 'cpu' or 'cuda', got 'tpu'/);
  assert.throws(() => t.autocast({ device: 'cpu', dtype: 'float64' as 'bfloat16' }, () => 1), /dtype must be bfloat16 or float16, got float64/);
  assert.equal(t.autocastState('cpu').enabled, false);
});
