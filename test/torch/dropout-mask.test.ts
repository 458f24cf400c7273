// Dropout masks from Philox4x32-10 (native/src/dropout-mask.cc), behind t.dropout with a generator on the CPU: the
// TypeScript reference reproduces Random123's known answers; the native masks are that reference's draws under the
// documented element mapping (float32 and bfloat16, partial last blocks), with the scale 1/keep; the same whatever the
// thread count and whatever the loop (AVX-512, AVX2 or generic: the narrower ones forced with
// STREAMNEST_DROPOUT_KERNEL in child processes); the kept share is keep's; t.dropout draws its seed from the generator (reproducible, resumable from the
// generator's state) and falls back to uniform draws for float64; bad arguments get a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as t from '../../src/torch/index.js';
import { native } from '../../src/torch/native.js';
import { assertClose } from '../helpers/assert.js';
import { maskDigests, nativeMask, philox4x32, referenceKept } from './dropout-mask-helpers.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};

test("the reference Philox4x32-10 gives Random123's known answers (kat_vectors)", () => {
  const hex = (w: number[]): string => w.map((v) => v.toString(16).padStart(8, '0')).join(' ');
  assert.equal(hex(philox4x32([0, 0, 0, 0], [0, 0])), '6627e8d5 e169c58d bc57ac4c 9b00dbd8');
  const ones = 0xffffffff;
  assert.equal(hex(philox4x32([ones, ones, ones, ones], [ones, ones])), '408f276d 41c83b0e a20bc7c6 6d5451fd');
  assert.equal(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])), 'd16cfe09 94fdcceb 5001e420 24126ea1');
});

test(
  'native masks are the reference draws, 1/keep where kept (float32, and bfloat16 rounded to nearest), partial blocks included',
  scoped(() => {
    for (const [n, seed, keep] of [
      [1000, 0x0123456789abcdefn, 0.7],
      [64, 0xffffffffffffffffn, 0.9],
      [5, 0n, 0.5],
    ] as const) {
      const want = referenceKept(n, seed, keep);
      const f32 = (nativeMask([n], 'float32', seed, keep) as t.Tensor).toArray();
      assert.deepEqual(
        f32.map((v) => v !== 0),
        want,
        `float32 mask, n ${n}`,
      );
      assert.deepEqual([...new Set(f32.filter((v) => v !== 0))], [Math.fround(1 / Math.fround(keep))]);
      const bf16 = nativeMask([n], 'bfloat16', seed, keep) as t.Tensor;
      assert.equal(bf16.dtype, 'bfloat16');
      const bfValues = bf16.to({ dtype: 'float32' }).toArray();
      assert.deepEqual(
        bfValues.map((v) => v !== 0),
        want,
        `bfloat16 mask, n ${n}`,
      );
      const nearest = t
        .tensor([1 / keep], [1], { dtype: 'float32' })
        .to({ dtype: 'bfloat16' })
        .to({ dtype: 'float32' })
        .item();
      assert.deepEqual([...new Set(bfValues.filter((v) => v !== 0))], [nearest]);
    }
    const shaped = nativeMask([3, 5, 7], 'float32', 7n, 0.6) as t.Tensor;
    assert.deepEqual(shaped.shape, [3, 5, 7]);
    assert.deepEqual(
      shaped.toArray().map((v) => v !== 0),
      referenceKept(105, 7n, 0.6),
    );
  }),
);

test(
  'the kept share is keep (within 5 standard deviations over 2^20 elements); other seeds draw other masks',
  scoped(() => {
    const n = 1 << 20;
    for (const keep of [0.1, 0.5, 0.9]) {
      const kept = (nativeMask([n], 'float32', 42n, keep) as t.Tensor).ne(0).sum().item() / n;
      const sd = Math.sqrt((keep * (1 - keep)) / n);
      assert.ok(Math.abs(kept - keep) < 5 * sd, `keep ${keep}: kept share ${kept}`);
    }
    const a = nativeMask([4096], 'float32', 1n, 0.5) as t.Tensor;
    const b = nativeMask([4096], 'float32', 2n, 0.5) as t.Tensor;
    const agree = a.eq(b).sum().item() / 4096;
    assert.ok(agree > 0.45 && agree < 0.55, `masks of seeds 1 and 2 agree on ${agree} of the elements`);
  }),
);

test(
  'the same mask with 1 or 2 threads',
  scoped(() => {
    const before = t.getNumThreads();
    try {
      t.setNumThreads(1);
      const one = nativeMask([300_001], 'bfloat16', 99n, 0.8) as t.Tensor;
      t.setNumThreads(2);
      const two = nativeMask([300_001], 'bfloat16', 99n, 0.8) as t.Tensor;
      assert.equal(one.ne(two).sum().item(), 0);
    } finally {
      t.setNumThreads(before);
    }
  }),
);

for (const loop of ['avx2', 'generic'] as const) {
  test(`the ${loop} loop (STREAMNEST_DROPOUT_KERNEL=${loop}, in a child process) makes the same masks as this process`, () => {
    const script = fileURLToPath(new URL('./dropout-mask-child.js', import.meta.url));
    const r = spawnSync(process.execPath, [script], { env: { ...process.env, STREAMNEST_DROPOUT_KERNEL: loop }, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { kernel: string; digests: string[] };
    // a CPU without AVX2 runs the generic loop when asked for avx2
    assert.ok(out.kernel === loop || (loop === 'avx2' && out.kernel === 'generic'), `the child ran the ${out.kernel} loop`);
    assert.deepEqual(out.digests, maskDigests(), `this process runs the ${native.dropoutMaskKernel()} loop`);
  });
}

test(
  "t.dropout with a generator: x times the mask keyed by the generator's next 64-bit draw; replayed from its state; float64 keeps uniform draws",
  scoped(() => {
    const g = new t.Generator(11);
    const x = t.randn([6, 50], { generator: new t.Generator(1) });
    const state = g.getState();
    const y = t.dropout(x, 0.25, true, g);
    const replay = new t.Generator(0);
    replay.setState(state);
    const seed = replay.randomUint64();
    assert.equal(typeof seed, 'bigint');
    const mask = nativeMask([6, 50], 'float32', seed, 0.75) as t.Tensor;
    assert.deepEqual(y.toArray(), x.mul(mask).toArray());
    assert.notDeepEqual(t.dropout(x, 0.25, true, g).toArray(), y.toArray(), 'the next call draws another mask');
    replay.setState(state);
    assert.deepEqual(t.dropout(x, 0.25, true, replay).toArray(), y.toArray(), 'the same generator state, the same mask');
    // bfloat16 input: a bfloat16 mask
    const xb = x.to({ dtype: 'bfloat16' });
    assert.equal(t.dropout(xb, 0.25, true, g).dtype, 'bfloat16');
    // float64 (no native route): uniform draws below 1 - p
    const x64 = x.to({ dtype: 'float64' });
    const g64 = new t.Generator(5);
    const y64 = t.dropout(x64, 0.3, true, g64);
    const keep64 = t
      .rand([6, 50], { generator: new t.Generator(5) })
      .lt(0.7)
      .to({ dtype: 'float64' });
    assertClose(y64, x64.mul(keep64).div(0.7), 1e-15);
  }),
);

test('bad arguments: a clear error; a dtype without a native route: null', () => {
  assert.throws(() => nativeMask([4], 'float32', 1n, 1), /keep probability must be in \(0, 1\), got 1/);
  assert.throws(() => nativeMask([4], 'float32', 1n, 0), /keep probability must be in \(0, 1\), got 0/);
  assert.throws(() => native.dropoutMask([4], 6, -1n, 0.5), /the seed must be an unsigned 64-bit integer/);
  assert.throws(() => native.dropoutMask([4], 6, 1 as unknown as bigint, 0.5), /dropoutMask\(shape, scalarType, seed: bigint, keep\)/);
  assert.equal(nativeMask([4], 'float64', 1n, 0.5), null);
  const before = t.liveTensorCount();
  t.tidy(() => {
    nativeMask([1000], 'float32', 3n, 0.5);
  });
  assert.equal(t.liveTensorCount(), before, 'no tensor left behind');
});
