// Tensor handles (native/src/tensor.h): slots released at dispose, stale handles refused, generations that keep reused
// slots apart, the FinalizationRegistry safety net for undisposed tensors, per-thread tables, cached shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import * as t from '../../src/torch/index.js';
import { native, type NativeTensor } from '../../src/torch/native.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test('a disposed tensor is refused with a clear error, and its stale handle cannot reach the slot it left', () => {
  const before = t.liveTensorCount();
  const x = t.tensor([1, 2, 3]);
  const stale = x.native;
  x.dispose();
  x.dispose(); // twice is allowed
  assert.equal(t.liveTensorCount(), before, 'dispose released the slot at once');
  assert.equal(x.isDisposed, true);
  assert.throws(() => x.shape, /shape: tensor was already disposed/);
  assert.throws(() => t.exp(x), /aten::exp: self: tensor was already disposed/);
  // the next tensor takes the freed slot: the old handle still names the old generation
  const y = t.tensor([7, 8]);
  assert.notEqual(y.native, stale);
  assert.throws(() => native.tensorShape(stale), /shape: tensor was already disposed/);
  assert.equal(native.tensorDispose(stale), false, 'a stale handle releases nothing');
  assert.deepEqual(y.toArray(), [7, 8], 'the slot’s new tensor is untouched');
  y.dispose();
  assert.equal(t.liveTensorCount(), before);
});

test('values that are no handles are refused as such, and handles are not numbers', () => {
  t.tidy(() => {
    const exp = t.op('exp');
    assert.throws(() => t.call(exp, 3), /aten::exp: self: expected a tensor/);
    const forged = 12345678901234567890n as NativeTensor;
    assert.throws(() => native.callOp(exp.id, forged), /aten::exp: self: (tensor was already disposed|tensor belongs to another thread)/);
    assert.throws(() => native.tensorShape(1 as unknown as NativeTensor), /shape: expected a tensor/);
    const x = t.ones([2]);
    // a tensor where the schema wants a number (Scalar) is an error, not the handle's value
    assert.throws(() => native.callOp(t.op('add', 'Scalar').id, x.native, x.native), /aten::add\.Scalar: argument 'other' \(Scalar\): expected a number/);
  });
});

test('handles of many tensors stay distinct through slot reuse (generations)', () => {
  const before = t.liveTensorCount();
  const make = (i: number) => t.full([1], i);
  let live = Array.from({ length: 500 }, (_, i) => make(i));
  const retired: NativeTensor[] = [];
  for (let round = 0; round < 4; round++) {
    // dispose every other tensor, then refill: the freed slots are reused by the new tensors
    const kept = live.filter((x, i) => {
      if (i % 2 === 0) return true;
      retired.push(x.native);
      x.dispose();
      return false;
    });
    live = [...kept, ...Array.from({ length: 250 }, (_, i) => make(1000 * (round + 1) + i))];
    assert.equal(t.liveTensorCount() - before, live.length);
  }
  const handles = new Set(live.map((x) => x.native));
  assert.equal(handles.size, live.length, 'every live tensor has its own handle');
  for (const h of retired) assert.ok(!handles.has(h), 'no retired handle was handed out again');
  for (const h of retired) assert.equal(native.tensorIsDisposed(h), true);
  const values = live.map((x) => x.item());
  assert.equal(new Set(values).size, live.length, 'each handle still reaches its own tensor');
  for (const x of live) x.dispose();
  assert.equal(t.liveTensorCount(), before);
});

test('a tensor garbage-collected without dispose has its slot released (the FinalizationRegistry safety net)', async () => {
  const before = t.liveTensorCount();
  const leak = (): void => {
    for (let i = 0; i < 100; i++) t.ones([8]); // made outside any scope, never disposed
    t.keep(t.tidy(() => t.zeros([4]))); // kept, then dropped
  };
  leak();
  assert.equal(t.liveTensorCount() - before, 101);
  for (let i = 0; i < 20 && t.liveTensorCount() > before; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10)); // the registry's callbacks run in a later task
  }
  assert.equal(t.liveTensorCount(), before, 'the collected tensors’ slots were released');
});

test('a tensor returned from the outermost tidy scope is guarded too; one returned into an enclosing scope is that scope’s', async () => {
  const before = t.liveTensorCount();
  t.tidy(() => t.ones([3]).mul(2)); // returned from the outermost scope, then dropped without dispose
  t.tidy(() => {
    const inner = t.tidy(() => t.ones([3]).mul(2));
    assert.equal(t.liveTensorCount() - before, 2);
    assert.deepEqual(inner.toArray(), [2, 2, 2]);
  });
  assert.equal(t.liveTensorCount() - before, 1, 'the enclosing scope disposed the inner result');
  for (let i = 0; i < 20 && t.liveTensorCount() > before; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(t.liveTensorCount(), before, 'the dropped result was released by the safety net');
});

test('each worker thread has its own table: a handle posted across is refused, and a worker’s tensors go with it', async () => {
  const before = t.liveTensorCount();
  const x = t.keep(t.ones([2]));
  const torchUrl = new URL('../../src/torch/index.js', import.meta.url).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.torchUrl).then((t) => {
      const mine = t.keep(t.ones([3]).mul(5)); // never disposed: released when the thread's environment goes
      let error = '';
      try { t.exp(new t.Tensor(workerData.handle)); } catch (e) { error = e.message; }
      parentPort.postMessage({ error, sum: mine.sum().item(), live: t.liveTensorCount() });
    });`;
  const worker = new Worker(code, { eval: true, workerData: { torchUrl, handle: x.native } });
  // listen for the exit before awaiting the reply: the thread may exit in the same turn that delivers its message,
  // and an 'exit' listener added after that event would wait on an empty event loop
  const exited = new Promise((r) => worker.once('exit', r));
  const reply = await new Promise<{ error: string; sum: number; live: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await exited;
  assert.match(reply.error, /aten::exp: self: tensor belongs to another thread/);
  assert.equal(reply.sum, 15);
  assert.ok(reply.live >= before + 2, 'the count is process-wide');
  assert.deepEqual(x.toArray(), [1, 1], 'the main thread’s tensor is untouched');
  x.dispose();
  assert.equal(t.liveTensorCount(), before, 'the worker’s undisposed tensors were released with its environment');
});

test('the cached shape and dtype follow in-place resizes and assign, and callers cannot corrupt them', () => {
  t.tidy(() => {
    const x = t.zeros([4]);
    assert.deepEqual(x.shape, [4]);
    x.shape.push(99);
    assert.deepEqual(x.shape, [4], 'the returned array is a copy');
    t.call(t.op('resize_'), x, [2, 3]);
    assert.deepEqual(x.shape, [2, 3], 'resize_ (a schema that writes its argument) dropped the cache');
    assert.equal(x.ndim, 2);
    assert.equal(x.size(-1), 3);
    const y = t.tensor([1, 2, 3, 4, 5], undefined, { dtype: 'float64' });
    assert.equal(x.dtype, 'float32');
    x.assign(y);
    assert.deepEqual(x.shape, [5]);
    assert.equal(x.dtype, 'float64');
    assert.ok(x.sameStorage(y));
  });
});
