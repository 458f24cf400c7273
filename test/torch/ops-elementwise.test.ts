// Elementwise ops: arithmetic with broadcasting, math functions, activations, comparisons, logic, where,
// masked_fill, isnan/isinf — forward against known values (JS Math in float64), gradients by finite differences.
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
const sig = (v: number) => 1 / (1 + Math.exp(-v));

test(
  'add / sub / mul / div: tensor-tensor, tensor-scalar, alpha, rsub',
  scoped(() => {
    const a = f64([1, 2, 3]);
    const b = f64([4, 5, 6]);
    assert.deepEqual(t.add(a, b).toArray(), [5, 7, 9]);
    assert.deepEqual(a.add(b, 2).toArray(), [9, 12, 15]);
    assert.deepEqual(a.add(1.5).toArray(), [2.5, 3.5, 4.5]);
    assert.deepEqual(t.sub(a, b).toArray(), [-3, -3, -3]);
    assert.deepEqual(a.sub(1).toArray(), [0, 1, 2]);
    assert.deepEqual(t.sub(10, a).toArray(), [9, 8, 7], 'number - tensor');
    assert.deepEqual(t.mul(a, b).toArray(), [4, 10, 18]);
    assert.deepEqual(a.mul(-2).toArray(), [-2, -4, -6]);
    assert.deepEqual(t.div(a, b).toArray(), [1 / 4, 2 / 5, 3 / 6]);
    assert.deepEqual(a.div(4).toArray(), [0.25, 0.5, 0.75]);
    assert.deepEqual(a.neg().toArray(), [-1, -2, -3]);
    // integer true division gives floats; remainder/floorDivide follow Python's signs
    const i = t.tensor([7, -7], undefined, { dtype: 'int64' });
    const q = t.div(i, t.tensor([2, 2], undefined, { dtype: 'int64' }));
    assert.equal(q.dtype, 'float32');
    assert.deepEqual(q.toArray(), [3.5, -3.5]);
    assert.deepEqual(t.floorDivide(i, t.tensor([2, 2], undefined, { dtype: 'int64' })).toArray(), [3, -4]);
    assert.deepEqual(t.remainder(i, 3).toArray(), [1, 2]);
    assert.throws(() => t.sub(1, 2), /sub: at least one operand must be a tensor/);
  }),
);

test(
  'broadcasting: [2,1,3] with [4,1] gives [2,4,3]; size-1 and 0-d operands; mismatches name the op',
  scoped(() => {
    const a = f64([1, 2, 3, 4, 5, 6], [2, 1, 3]);
    const b = f64([10, 20, 30, 40], [4, 1]);
    const c = t.add(a, b);
    assert.deepEqual(c.shape, [2, 4, 3]);
    const want: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) want.push(i * 3 + k + 1 + (j + 1) * 10);
    assert.deepEqual(c.toArray(), want);
    assert.deepEqual(t.mul(f64([2]), f64([1, 2, 3])).toArray(), [2, 4, 6], 'size-1 operand');
    assert.deepEqual(t.mul(t.scalar(3, { dtype: 'float64' }), f64([1, 2])).toArray(), [3, 6], '0-d operand');
    assert.deepEqual(t.add(t.zeros([0, 3]), t.ones([3])).shape, [0, 3], 'empty broadcast');
    assert.deepEqual(t.add(t.zeros([2, 0]), t.ones([2, 1])).shape, [2, 0]);
    assert.throws(() => t.add(t.ones([3]), t.ones([4])), /aten::add\.Tensor: The size of tensor a \(3\) must match the size of tensor b \(4\)/);
    assert.throws(() => t.mul(t.ones([2, 3]), t.ones([3, 2])), /aten::mul\.Tensor/);
  }),
);

test(
  'type promotion and dtype errors',
  scoped(() => {
    assert.equal(t.add(t.ones([2]), t.ones([2], { dtype: 'float64' })).dtype, 'float64');
    assert.equal(t.add(t.ones([2], { dtype: 'int64' }), t.ones([2])).dtype, 'float32');
    assert.equal(t.add(t.ones([2], { dtype: 'int64' }), 1.5).dtype, 'float32');
    assert.equal(t.mul(t.ones([2], { dtype: 'int32' }), 2).dtype, 'int32');
    // in-place ops cannot narrow the result type
    const i = t.ones([2], { dtype: 'int64' });
    assert.throws(() => i.add_(t.ones([2])), /aten::add_\.Tensor: result type Float can't be cast to the desired output type Long/);
    assert.throws(() => t.sub(t.tensor([true]), t.tensor([false])), /aten::sub\.Tensor: Subtraction, the `-` operator, with two bool tensors is not supported/);
  }),
);

test(
  'relu_ writes its own storage (a view of a larger tensor too) and returns it',
  scoped(() => {
    const base = f64([-2, -0.5, 0, 0.3, 3, -1]);
    const view = base.narrow(0, 1, 4); // [-0.5, 0, 0.3, 3]
    const r = view.relu_();
    assert.equal(r, view);
    assert.deepEqual(base.toArray(), [-2, 0, 0, 0.3, 3, -1], "only the view's elements change");
    assert.ok(r.sameStorage(base));
  }),
);

test(
  'NaN and infinity propagate through arithmetic',
  scoped(() => {
    const x = f64([1, Number.NaN, Infinity, -Infinity]);
    assertClose(t.add(x, 1), [2, NaN, Infinity, -Infinity]);
    assertClose(t.mul(x, 0), [0, NaN, NaN, NaN]);
    assertClose(t.sub(x, x), [0, NaN, NaN, NaN]);
    assertClose(t.exp(x), [Math.E, NaN, Infinity, 0], 1e-15);
    assertClose(t.relu(x), [1, NaN, Infinity, 0]);
    assertClose(t.sigmoid(x), [sig(1), NaN, 1, 0], 1e-15);
    assertClose(t.clamp(x, -1, 1), [1, NaN, 1, -1]);
    assertClose(t.div(f64([1, -1, 0]), 0), [Infinity, -Infinity, NaN]);
    assertClose(t.log(f64([0, -1])), [-Infinity, NaN]);
    assertClose(t.sqrt(f64([-1])), [NaN]);
    assert.deepEqual(t.isnan(x).toArray(), [0, 1, 0, 0]);
    assert.equal(t.isnan(x).dtype, 'bool');
    assert.deepEqual(t.isinf(x).toArray(), [0, 0, 1, 1]);
    assert.deepEqual(t.isfinite(x).toArray(), [1, 0, 0, 0]);
    assert.deepEqual(t.isnan(t.ones([0])).shape, [0]);
    assert.deepEqual(t.isnan(t.tensor([1, 2], undefined, { dtype: 'int64' })).toArray(), [0, 0], 'ints are never NaN');
    assertClose(t.nanToNum(x, 0, 9, -9), [1, 0, 9, -9]);
  }),
);

// Unary functions: forward against JS Math on float64, gradient by finite differences away from kinks.
const UNARY: { name: string; fn: (x: Tensor) => Tensor; ref: (v: number) => number; xs: number[] }[] = [
  { name: 'exp', fn: t.exp, ref: Math.exp, xs: [-2, -0.5, 0, 0.7, 3] },
  { name: 'log', fn: t.log, ref: Math.log, xs: [0.1, 0.5, 1, 2.5, 10] },
  { name: 'sqrt', fn: t.sqrt, ref: Math.sqrt, xs: [0.04, 0.5, 1, 2, 9] },
  { name: 'rsqrt', fn: t.rsqrt, ref: (v) => 1 / Math.sqrt(v), xs: [0.04, 0.5, 1, 2, 9] },
  { name: 'abs', fn: t.abs, ref: Math.abs, xs: [-2, -0.5, 0.3, 0.7, 3] },
  { name: 'neg', fn: t.neg, ref: (v) => -v, xs: [-2, 0.5, 3] },
  { name: 'relu', fn: t.relu, ref: (v) => Math.max(v, 0), xs: [-2, -0.5, 0.3, 0.7, 3] },
  { name: 'silu', fn: t.silu, ref: (v) => v * sig(v), xs: [-4, -0.5, 0, 0.7, 3] },
  { name: 'sigmoid', fn: t.sigmoid, ref: sig, xs: [-4, -0.5, 0, 0.7, 3] },
  { name: 'tanh', fn: t.tanh, ref: Math.tanh, xs: [-4, -0.5, 0, 0.7, 3] },
  { name: 'gelu', fn: (x) => t.gelu(x), ref: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)), xs: [-3, -0.5, 0, 0.7, 2] },
  { name: 'softplus', fn: (x) => t.softplus(x), ref: (v) => Math.log1p(Math.exp(v)), xs: [-3, -0.5, 0, 0.7, 2] },
  { name: 'log1p', fn: t.log1p, ref: Math.log1p, xs: [-0.5, 0, 1e-8, 3] },
  { name: 'sin', fn: t.sin, ref: Math.sin, xs: [-3, 0, 1] },
  { name: 'cos', fn: t.cos, ref: Math.cos, xs: [-3, 0, 1] },
  { name: 'reciprocal', fn: t.reciprocal, ref: (v) => 1 / v, xs: [-3, 0.25, 2] },
  { name: 'pow(x, 3)', fn: (x) => t.pow(x, 3), ref: (v) => v ** 3, xs: [-2, -0.5, 0, 1.5] },
  { name: 'pow(x, 0.5)', fn: (x) => x.pow(0.5), ref: Math.sqrt, xs: [0.25, 1, 4] },
  { name: 'pow(2, x)', fn: (x) => t.pow(2, x), ref: (v) => 2 ** v, xs: [-1, 0, 0.5, 3] },
  { name: 'clamp(-1, 1)', fn: (x) => t.clamp(x, -1, 1), ref: (v) => Math.min(Math.max(v, -1), 1), xs: [-2, -0.5, 0.3, 1.5] },
  { name: 'clamp(min 0.5)', fn: (x) => x.clamp(0.5), ref: (v) => Math.max(v, 0.5), xs: [-2, 0.3, 0.7, 1.5] },
  { name: 'clamp(max 0.5)', fn: (x) => x.clamp(null, 0.5), ref: (v) => Math.min(v, 0.5), xs: [-2, 0.3, 0.7, 1.5] },
];

// Abramowitz-Stegun 7.1.26 is too coarse; use a series/continued fraction good to ~1e-15 for |x| < 6.
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  let sum = a;
  let term = a;
  for (let n = 1; n < 100; n++) {
    term *= (-a * a) / n;
    sum += term / (2 * n + 1);
    if (Math.abs(term) < 1e-17) break;
  }
  return (s * 2 * sum) / Math.sqrt(Math.PI);
}

for (const u of UNARY) {
  test(
    `${u.name}: forward against Math on float64, float32 agrees, empty and 0-d, gradient`,
    scoped(() => {
      const x = f64(u.xs);
      assertClose(u.fn(x), u.xs.map(u.ref), 1e-14, 1e-14, u.name);
      assertClose(u.fn(x.float()), u.xs.map(u.ref), 1e-6, 1e-6, `${u.name} float32`);
      assert.deepEqual(u.fn(t.zeros([0])).shape, [0]);
      assert.deepEqual(u.fn(t.ones([2, 0])).shape, [2, 0]);
      const s = u.fn(t.scalar(u.xs[u.xs.length - 1]!, { dtype: 'float64' }));
      assert.deepEqual(s.shape, []);
      assertClose([s.item()], [u.ref(u.xs[u.xs.length - 1]!)], 1e-14, 1e-14);
      gradcheck(u.fn, [x], { name: u.name });
    }),
  );
}

test(
  'clamp needs a bound; tensor bounds; min > max clamps to max',
  scoped(() => {
    assert.throws(() => t.clamp(t.ones([1])), /clamp: give at least one of min and max/);
    assert.throws(() => t.clamp(t.ones([1]), t.zeros([1]), 1), /clamp: min and max must both be numbers or both be tensors/);
    assertClose(t.clamp(f64([-2, 0, 2]), f64([-1, 1, 1]), f64([0, 2, 1.5])), [-1, 1, 1.5]);
    assertClose(t.clamp(f64([-2, 0, 2]), 1, 0), [0, 0, 0]);
  }),
);

test(
  'binary ops: gradients with broadcasting reduce to each operand shape',
  scoped(() => {
    const a = rnd([2, 3], 1);
    const b = rnd([3], 2);
    const c = rnd([2, 1], 3, 0.3, 2); // positive, for div and pow
    gradcheck((x, y) => t.add(x, y, 0.5), [a, b], { name: 'add' });
    gradcheck((x, y) => t.sub(x, y), [a, c], { name: 'sub' });
    gradcheck((x, y) => t.mul(x, y), [a, b], { name: 'mul' });
    gradcheck((x, y) => t.div(x, y), [a, c], { name: 'div' });
    gradcheck((x, y) => t.pow(x, y), [c, a], { name: 'pow(tensor, tensor)' });
    gradcheck((x, y) => t.maximum(x, y), [a, b], { name: 'maximum' });
    gradcheck((x, y) => t.minimum(x, y), [a, b], { name: 'minimum' });
    gradcheck((x) => t.sub(1, x), [a], { name: 'rsub' });
    gradcheck((x, y, z) => t.addcmul(x, y, z, 0.5), [a, b, c], { name: 'addcmul' });
    gradcheck((x, y) => t.lerp(x, y, 0.3), [a, rnd([2, 3], 4)], { name: 'lerp' });
    assertClose(t.maximum(f64([1, 5, NaN]), f64([3, 2, 0])), [3, 5, NaN], 0, 0, 'maximum propagates NaN');
    assertClose(t.addcmul(f64([1]), f64([2]), f64([3]), 0.5), [4]);
    assertClose(t.lerp(f64([0, 10]), f64([10, 20]), 0.25), [2.5, 12.5]);
  }),
);

test(
  'glu halves the chosen dimension: a * sigmoid(b); odd sizes are refused',
  scoped(() => {
    const x = f64([1, 2, -1, 0.5, 3, 4, 0, -2], [2, 4]);
    const y = t.glu(x, -1);
    assert.deepEqual(y.shape, [2, 2]);
    assertClose(y, [1 * sig(-1), 2 * sig(0.5), 3 * sig(0), 4 * sig(-2)], 1e-15);
    const y0 = t.glu(x, 0);
    assert.deepEqual(y0.shape, [1, 4]);
    assertClose(y0, [1 * sig(3), 2 * sig(4), -1 * sig(0), 0.5 * sig(-2)], 1e-15);
    assert.throws(() => t.glu(t.ones([2, 3])), /aten::glu: Halving dimension must be even/);
    gradcheck((v) => t.glu(v, 1), [rnd([2, 6], 5)], { name: 'glu' });
    gradcheck((v) => t.glu(v, 0), [rnd([4, 3], 6)], { name: 'glu dim 0' });
  }),
);

test(
  'comparisons give bool tensors, with broadcasting and scalars; NaN compares false except ne',
  scoped(() => {
    const a = f64([1, 2, 3, NaN]);
    const b = f64([2, 2, 2, 2]);
    assert.deepEqual(t.eq(a, b).toArray(), [0, 1, 0, 0]);
    assert.deepEqual(t.ne(a, b).toArray(), [1, 0, 1, 1]);
    assert.deepEqual(t.lt(a, b).toArray(), [1, 0, 0, 0]);
    assert.deepEqual(t.le(a, b).toArray(), [1, 1, 0, 0]);
    assert.deepEqual(t.gt(a, b).toArray(), [0, 0, 1, 0]);
    assert.deepEqual(t.ge(a, b).toArray(), [0, 1, 1, 0]);
    assert.deepEqual(a.gt(1.5).toArray(), [0, 1, 1, 0]);
    assert.deepEqual(a.eq(3).toArray(), [0, 0, 1, 0]);
    assert.equal(a.lt(b).dtype, 'bool');
    assert.deepEqual(t.lt(f64([1, 2], [2, 1]), f64([1, 2])).toArray(), [0, 1, 0, 0]);
    assert.deepEqual(t.eq(t.ones([0]), 1).shape, [0]);
    assert.throws(() => t.lt(t.ones([2]), t.ones([3])), /aten::lt\.Tensor/);
  }),
);

test(
  'logical and / or / xor / not',
  scoped(() => {
    const p = t.tensor([true, true, false, false]);
    const q = t.tensor([true, false, true, false]);
    assert.deepEqual(t.logicalAnd(p, q).toArray(), [1, 0, 0, 0]);
    assert.deepEqual(t.logicalOr(p, q).toArray(), [1, 1, 1, 0]);
    assert.deepEqual(t.logicalXor(p, q).toArray(), [0, 1, 1, 0]);
    assert.deepEqual(t.logicalNot(p).toArray(), [0, 0, 1, 1]);
    assert.deepEqual(t.logicalAnd(f64([0, 2, NaN]), f64([1, 1, 1])).toArray(), [0, 1, 1], 'non-zero (and NaN) is true');
    assert.equal(t.logicalNot(f64([0])).dtype, 'bool');
  }),
);

test(
  'where: tensor/scalar branches, broadcasting, gradient only through the chosen branch',
  scoped(() => {
    const c = t.tensor([true, false, true]);
    const a = f64([1, 2, 3]);
    const b = f64([10, 20, 30]);
    assert.deepEqual(t.where(c, a, b).toArray(), [1, 20, 3]);
    assert.deepEqual(t.where(c, a, -1).toArray(), [1, -1, 3]);
    assert.deepEqual(t.where(c, -1, b).toArray(), [-1, 20, -1]);
    assert.deepEqual(t.where(c, 1, 0).toArray(), [1, 0, 1]);
    assert.deepEqual(t.where(t.tensor([true, false], [2, 1]), a, b).shape, [2, 3]);
    assert.throws(() => t.where(f64([1, 0, 1]), a, b), /aten::where\.self: where expected condition to be a boolean tensor/);
    const r = gradcheck((x, y) => t.where(c, x, y), [a, b], { name: 'where' });
    assert.deepEqual(
      Array.from(r.numeric[0]!).map((v) => v !== 0),
      [true, false, true],
    );
  }),
);

test(
  'maskedFill: scalar and 0-d tensor values, broadcast masks, NaN fill, gradient zero where filled',
  scoped(() => {
    const x = f64([1, 2, 3, 4], [2, 2]);
    const m = t.tensor([false, true], [1, 2]);
    assert.deepEqual(t.maskedFill(x, m, -5).toArray(), [1, -5, 3, -5]);
    assert.deepEqual(x.maskedFill(m, t.scalar(9, { dtype: 'float64' })).toArray(), [1, 9, 3, 9]);
    assertClose(t.maskedFill(x, m, NaN), [1, NaN, 3, NaN]);
    assertClose(t.maskedFill(x, t.tensor([true, true, true, true], [2, 2]), -Infinity), [-Infinity, -Infinity, -Infinity, -Infinity]);
    // libtorch 1.13 silently ignores a float mask (fills nothing); the wrapper refuses it.
    assert.throws(() => t.maskedFill(x, f64([0, 1]), 0), /maskedFill: the mask must be a bool tensor, got float64/);
    assert.throws(() => x.maskedFill(t.tensor([0, 1], undefined, { dtype: 'uint8' }), 0), /maskedFill: the mask must be a bool tensor, got uint8/);
    const r = gradcheck((v) => t.maskedFill(v, m, 0), [x], { name: 'masked_fill' });
    assert.deepEqual(
      Array.from(r.analytic[0]!).map((v) => v !== 0),
      [true, false, true, false],
    );
  }),
);

test('ops on a disposed tensor name the op', () => {
  const x = t.ones([2]);
  x.dispose();
  assert.equal(x.isDisposed, true);
  assert.throws(() => t.exp(x), /aten::exp: self: tensor was already disposed/);
  assert.throws(() => t.add(t.ones([2]), x), /aten::add.*: other: tensor was already disposed/);
  assert.throws(() => x.toArray(), /already disposed/);
});
