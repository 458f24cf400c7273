// Creation ops: constants, ranges, seeded random draws (against torch.Generator().manual_seed numbers) and typed arrays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};

test(
  'zeros / ones / full: values, dtype, shapes including empty and 0-d',
  scoped(() => {
    const z = t.zeros([2, 3]);
    assert.deepEqual(z.shape, [2, 3]);
    assert.equal(z.dtype, 'float32');
    assert.deepEqual(z.toArray(), [0, 0, 0, 0, 0, 0]);
    const o = t.ones([3], { dtype: 'int64' });
    assert.equal(o.dtype, 'int64');
    assert.deepEqual(Array.from(o.data() as BigInt64Array), [1n, 1n, 1n]);
    const f = t.full([2, 2], -2.5, { dtype: 'float64' });
    assert.equal(f.dtype, 'float64');
    assert.deepEqual(f.toArray(), [-2.5, -2.5, -2.5, -2.5]);
    assert.deepEqual(t.full([2], Number.NaN).toArray().map(Number.isNaN), [true, true]);
    // empty and 0-d
    assert.deepEqual(t.zeros([0]).shape, [0]);
    assert.equal(t.ones([2, 0]).numel, 0);
    assert.deepEqual(t.ones([2, 0]).toArray(), []);
    const s = t.full([], 7);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 7);
    assert.equal(t.ones([1, 1, 1]).item(), 1);
    // bad shapes name the op
    assert.throws(() => t.zeros([2, -1]), /zeros: shape \[2, -1\] must hold non-negative integers/);
    assert.throws(() => t.ones([1.5]), /ones: shape/);
    assert.throws(() => t.full([3], 1, { dtype: 'complex' as never }), /unknown dtype 'complex'/);
  }),
);

test(
  'zerosLike / onesLike / fullLike keep shape and dtype',
  scoped(() => {
    const x = t.tensor([1, 2, 3, 4, 5, 6], [2, 3], { dtype: 'float64' });
    for (const [y, v] of [
      [t.zerosLike(x), 0],
      [t.onesLike(x), 1],
      [t.fullLike(x, 3.5), 3.5],
    ] as const) {
      assert.deepEqual(y.shape, [2, 3]);
      assert.equal(y.dtype, 'float64');
      assert.deepEqual(y.toArray(), [v, v, v, v, v, v]);
    }
    assert.equal(t.zerosLike(t.zeros([0, 4])).numel, 0);
  }),
);

test(
  'arange: integer bounds give int64, fractional give float32; empty ranges; step 0 is an error',
  scoped(() => {
    const a = t.arange(5);
    assert.equal(a.dtype, 'int64');
    assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
    assert.deepEqual(t.arange(1, 10, 3).toArray(), [1, 4, 7]);
    assert.deepEqual(t.arange(5, 0, -2).toArray(), [5, 3, 1]);
    const f = t.arange(0, 1, 0.25);
    assert.equal(f.dtype, 'float32');
    assert.deepEqual(f.toArray(), [0, 0.25, 0.5, 0.75]);
    assert.equal(t.arange(3, undefined, 1, { dtype: 'float64' }).dtype, 'float64');
    assert.deepEqual(t.arange(0).shape, [0]);
    assert.deepEqual(t.arange(1, 2).toArray(), [1]);
    assert.throws(() => t.arange(0, 5, 0), /aten::arange.*step must be nonzero/);
    assert.throws(() => t.arange(0, 5, -1), /aten::arange.*upper bound and larger bound inconsistent with step sign/);
  }),
);

test(
  'linspace and eye',
  scoped(() => {
    assertClose(t.linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(t.linspace(2, 3, 1).toArray(), [2]);
    assert.deepEqual(t.linspace(2, 3, 0).shape, [0]);
    assert.deepEqual(t.eye(3).toArray(), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  }),
);

// Reference numbers: torch 1.13 (Debian python3-torch), e.g.
//   g = torch.Generator().manual_seed(7); torch.randn(3, generator=g).tolist(); torch.randn(2, 2, generator=g).tolist()
test(
  'randn with a seeded generator draws torch.Generator().manual_seed numbers, continuing the stream',
  scoped(() => {
    const g = new t.Generator(7);
    assertClose(t.randn([3], { generator: g }), [-0.1467950940132141, 0.7861412763595581, 0.9468216300010681], 0);
    const b = t.randn([2, 2], { generator: g });
    assert.deepEqual(b.shape, [2, 2]);
    assertClose(b, [-1.1143440008163452, 1.6907901763916016, -0.8948279023170471, -0.3556250333786011], 0);
    // float64 and the vectorised path (>= 16 values): torch.randn(20, generator=g7, dtype=torch.float64)[[0, 7, 19]]
    const d = t.randn([20], { generator: new t.Generator(7), dtype: 'float64' }).toArray();
    assertClose([d[0]!, d[7]!, d[19]!], [0.06626753966449943, 0.7277603478716976, 0.6596523264462502], 0);
    // re-seeding replays
    g.manualSeed(7);
    assertClose(t.randn([1], { generator: g }), [-0.1467950940132141], 0);
    assert.deepEqual(t.randn([0], { generator: g }).shape, [0]);
  }),
);

test(
  'rand, randint, bernoulli, randperm with seeded generators match PyTorch',
  scoped(() => {
    // torch.rand(4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assertClose(
      t.rand([4], { generator: new t.Generator(3), dtype: 'float64' }),
      [0.03410819565052048, 0.28674022672130695, 0.7729149443285843, 0.17492702928129467],
      0,
    );
    // torch.rand(5, generator=torch.Generator().manual_seed(42))
    assertClose(
      t.rand([5], { generator: new t.Generator(42) }),
      [0.8822692632675171, 0.9150039553642273, 0.38286375999450684, 0.9593056440353394, 0.3904482126235962],
      0,
    );
    // torch.randint(-5, 5, (8,), generator=torch.Generator().manual_seed(3))
    const ri = t.randint(-5, 5, [8], { generator: new t.Generator(3) });
    assert.equal(ri.dtype, 'int64');
    assert.deepEqual(ri.toArray(), [1, 3, 2, 2, -5, -5, -5, 0]);
    // torch.bernoulli(torch.full((10,), 0.3), generator=torch.Generator().manual_seed(3))
    assert.deepEqual(t.bernoulli(t.full([10], 0.3), { generator: new t.Generator(3) }).toArray(), [1, 1, 1, 1, 0, 1, 0, 0, 0, 0]);
    // torch.bernoulli(torch.zeros(6), 0.5, generator=torch.Generator().manual_seed(42))
    assert.deepEqual(t.bernoulli(t.zeros([6]), { p: 0.5, generator: new t.Generator(42) }).toArray(), [1, 1, 1, 1, 0, 1]);
    // probabilities 0 and 1 are certain
    assert.deepEqual(t.bernoulli(t.tensor([0, 1, 0, 1]), { generator: new t.Generator(1) }).toArray(), [0, 1, 0, 1]);
    // torch.randperm(6, generator=torch.Generator().manual_seed(5))
    assert.deepEqual(t.randperm(6, { generator: new t.Generator(5) }).toArray(), [5, 0, 1, 3, 4, 2]);
    assert.throws(() => t.randint(5, 5, [2]), /aten::randint.*random_ expects 'from' to be less than 'to'/);
    assert.throws(() => new t.Generator(-1), /seed must be a non-negative integer/);
  }),
);

test(
  'generator state round trip and the default generator (torch.manual_seed)',
  scoped(() => {
    const g = new t.Generator(9);
    t.randn([5], { generator: g });
    const st = g.getState();
    assert.equal(st.dtype, 'uint8');
    const a = t.randn([4], { generator: g }).toArray();
    g.setState(st);
    assert.deepEqual(t.randn([4], { generator: g }).toArray(), a);
    // torch.manual_seed(11); torch.randn(3); torch.rand(2)
    t.manualSeed(11);
    assertClose(t.randn([3]), [0.7376294732093811, 1.9459291696548462, -0.6995416283607483], 0);
    const saved = t.defaultGeneratorState();
    assertClose(t.rand([2]), [0.5721226334571838, 0.924839437007904], 0);
    t.setDefaultGeneratorState(saved);
    assertClose(t.rand([2]), [0.5721226334571838, 0.924839437007904], 0);
  }),
);

test(
  'tensor() from typed arrays and JS arrays, and back',
  scoped(() => {
    const f32 = t.tensor(new Float32Array([1.5, -2, 3]));
    assert.equal(f32.dtype, 'float32');
    assert.ok(f32.data() instanceof Float32Array);
    assert.deepEqual(Array.from(f32.data() as Float32Array), [1.5, -2, 3]);
    const f64 = t.tensor(new Float64Array([0.1, 0.2, 0.3, 0.4]), [2, 2]);
    assert.equal(f64.dtype, 'float64');
    assert.deepEqual(f64.shape, [2, 2]);
    assert.deepEqual(Array.from(f64.data() as Float64Array), [0.1, 0.2, 0.3, 0.4], 'float64 keeps every bit');
    const i64 = t.tensor(new BigInt64Array([1n, -2n, 9007199254740993n]));
    assert.equal(i64.dtype, 'int64');
    assert.equal((i64.data() as BigInt64Array)[2], 9007199254740993n, 'int64 beyond 2^53 survives as bigint');
    assert.equal(t.tensor(new Int32Array([1, 2])).dtype, 'int32');
    assert.equal(t.tensor(new Int16Array([1, 2])).dtype, 'int16');
    assert.equal(t.tensor(new Int8Array([1, -2])).dtype, 'int8');
    assert.equal(t.tensor(new Uint8Array([1, 255])).dtype, 'uint8');
    const b = t.tensor([true, false, true]);
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [1, 0, 1]);
    // JS numbers default to float32; dtype converts (int64 truncates toward zero)
    assert.equal(t.tensor([1, 2]).dtype, 'float32');
    assert.deepEqual(t.tensor([1.7, -1.7], undefined, { dtype: 'int64' }).toArray(), [1, -1]);
    assert.deepEqual(t.tensor(new Float32Array([1, 2]), undefined, { dtype: 'float64' }).data(), new Float64Array([1, 2]));
    // the tensor owns a copy: changing the source later does not change it
    const src = new Float32Array([1, 2]);
    const c = t.tensor(src);
    src[0] = 100;
    assert.deepEqual(c.toArray(), [1, 2]);
    // empty, 0-d, shape/size mismatch
    assert.deepEqual(t.tensor([]).shape, [0]);
    assert.deepEqual(t.tensor(new Float32Array(0), [2, 0]).shape, [2, 0]);
    assert.equal(t.scalar(3.25).item(), 3.25);
    assert.deepEqual(t.scalar(3).shape, []);
    assert.throws(() => t.tensor([1, 2, 3], [2, 2]), /fromBuffer: 12 bytes given, shape and dtype float32 need 16/);
  }),
);

test(
  'to(): dtype conversions; item() of bools',
  scoped(() => {
    const x = t.tensor([1.9, -1.9, 0]);
    assert.deepEqual(x.long().toArray(), [1, -1, 0]);
    assert.deepEqual(x.bool().toArray(), [1, 1, 0]);
    assert.equal(x.double().dtype, 'float64');
    assert.equal(x.to({ dtype: 'int32' }).dtype, 'int32');
    assert.equal(t.tensor([true]).item(), 1);
  }),
);

test(
  'thread-count control: setNumThreads/getNumThreads round trip; invalid counts refused; results do not depend on threads',
  scoped(() => {
    const prev = t.getNumThreads();
    assert.ok(Number.isInteger(prev) && prev >= 1);
    try {
      const a = t.randn([64, 64], { generator: new t.Generator(1), dtype: 'float64' });
      t.setNumThreads(2);
      assert.equal(t.getNumThreads(), 2);
      const two = t.matmul(a, a).sum().item();
      t.setNumThreads(1);
      assert.equal(t.getNumThreads(), 1);
      const one = t.matmul(a, a).sum().item();
      assert.ok(Math.abs(two - one) <= 1e-9 * Math.abs(one), `1 thread ${one} vs 2 threads ${two}`);
      assert.throws(() => t.setNumThreads(0), /threads must be a positive integer, got 0/);
      assert.throws(() => t.setNumThreads(1.5), /threads must be a positive integer, got 1.5/);
      assert.equal(t.getNumThreads(), 1, 'a refused setting changes nothing');
    } finally {
      t.setNumThreads(prev);
    }
    assert.equal(t.getNumThreads(), prev);
  }),
);
