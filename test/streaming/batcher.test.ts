// Many independent streams: joining and leaving at any time, pushed in random pieces, batched into shared encoder
// steps (caches stacked / unstacked) — each stream's output equals its own offline pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import {
  configureStreaming,
  powerOfTwoBatches,
  SharedBatchCache,
  sharedBatchOf,
  StreamBatcher,
  StreamingEncoder,
  stackCaches,
  unstackCache,
} from '../../src/streaming/index.js';
import { disposeEncoderCache, encoderCacheTensors, mapEncoderCache, type EncoderCache } from '../../src/model/index.js';
import { buildEncoder, buildPreprocessor, longAudio, maxAbsDiff, offlineEncode, randomInts } from './helpers.js';

test('stack / unstack of caches round-trips: every tensor of each stream comes back bit for bit', () => {
  const enc = buildEncoder();
  const geo = configureStreaming(enc, { hopSeconds: 0.01 });
  // initial caches are all zeros; fill every tensor with distinct seeded values so that a swapped stream, a wrong
  // slice or a lost element shows up
  const g = new t.Generator(1234);
  const filled = (): EncoderCache => {
    const init = enc.initCache(1, geo.cfg);
    const c = mapEncoderCache(init, (x) =>
      x.dtype.startsWith('float') ? t.randn(x.shape, { generator: g, dtype: x.dtype }) : t.randint(0, 1_000_000, x.shape, { generator: g, dtype: x.dtype }),
    );
    disposeEncoderCache(init);
    return c;
  };
  const a = filled();
  const b = filled();
  const bytes = (x: Tensor): Buffer => Buffer.from(x.contiguous().toBuffer());
  t.tidy(() => {
    const s = stackCaches([a, b]);
    assert.deepEqual(s.layers[0]!.attention.inputs?.shape, [2, geo.cfg.lastChannelCacheSize, 32]);
    for (const [i, orig] of [a, b].entries()) {
      const want = encoderCacheTensors(orig);
      const got = encoderCacheTensors(unstackCache(s, i));
      assert.equal(got.length, want.length, `stream ${i}: number of cache tensors`);
      assert.ok(want.length > 1 && want.every((x) => x.numel > 0), 'every cache tensor holds values to compare');
      for (const [j, x] of want.entries()) {
        const y = got[j]!;
        assert.deepEqual(y.shape, x.shape, `stream ${i} tensor ${j}: shape`);
        assert.equal(y.dtype, x.dtype, `stream ${i} tensor ${j}: dtype`);
        assert.ok(bytes(y).equals(bytes(x)), `stream ${i} tensor ${j} [${x.shape}]: values differ after stack / unstack`);
      }
    }
    // the two streams differ, so a swap would be caught
    assert.ok(!bytes(a.layers[0]!.conv.frames).equals(bytes(b.layers[0]!.conv.frames)));
  });
  for (const c of [a, b]) disposeEncoderCache(c);
  enc.dispose();
});

test('StreamBatcher: 4 streams joining and leaving at random times equal their offline outputs', () => {
  const before = t.liveTensorCount();
  const enc = buildEncoder({ att_context_size: [8, 1] });
  const pre = buildPreprocessor();
  const geo = configureStreaming(enc, { hopSeconds: 0.01 });
  const se = new StreamingEncoder(enc, { geometry: geo, preprocessor: pre });
  let batched = 0;
  se.onStep = (e) => {
    if (e.streams > 1) batched++;
  };
  const audios = [7.3, 4.1, 9.0, 2.25].map((s, i) => longAudio(s, i + 2));
  const joinAt = [0, 3, 8, 20]; // rounds
  const rnd = randomInts(99);
  const bat = new StreamBatcher(se);
  const pos = audios.map(() => 0);
  const outs: Tensor[][] = audios.map(() => []);
  const left = audios.map(() => false);
  for (let round = 0; left.some((l) => !l); round++) {
    for (const [i, a] of audios.entries()) {
      if (round === joinAt[i]) bat.join(`s${i}`);
      if (round < joinAt[i]! || left[i]) continue;
      if (pos[i]! < a.length) {
        const n = Math.min(a.length - pos[i]!, rnd(500, 6000));
        bat.push(`s${i}`, a.subarray(pos[i]!, pos[i]! + n));
        pos[i]! += n;
      } else if (bat.active.includes(`s${i}`)) {
        bat.leave(`s${i}`);
        left[i] = true;
      }
    }
    for (const [id, e] of bat.step()) outs[Number(id.slice(1))]!.push(e);
  }
  for (const [id, e] of bat.step()) outs[Number(id.slice(1))]!.push(e);
  assert.equal(bat.active.length, 0, 'every stream left');
  assert.ok(batched > 10, `steps shared by several streams: ${batched}`);
  for (const [i, a] of audios.entries()) {
    const s = t.cat(outs[i]!, 1);
    const o = offlineEncode(pre, enc, a);
    assert.equal(s.size(1), o.size(1), `stream ${i} frames`);
    const d = maxAbsDiff(s, o);
    assert.ok(d <= 1e-5, `stream ${i}: max |diff| ${d}`);
    for (const x of [s, o, ...outs[i]!]) x.dispose();
  }
  bat.dispose();
  se.dispose();
  enc.dispose();
  pre.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});

test('initStreamState(3): streams of different lengths pushed together, finish() ends them all', () => {
  const enc = buildEncoder({ att_context_style: 'regular', att_context_size: [16, 0] });
  const pre = buildPreprocessor();
  const se = new StreamingEncoder(enc, { geometry: configureStreaming(enc, { hopSeconds: 0.01, chunkFrames: 3 }), preprocessor: pre });
  const audios = [3.1, 1.7, 2.4].map((s, i) => longAudio(s, i));
  let state = se.initStreamState(3);
  const outs: Tensor[][] = [[], [], []];
  for (let p = 0; p < 3.2 * 16000; p += 4000) {
    const r = se.pushAudio(
      audios.map((a) => a.subarray(Math.min(p, a.length), Math.min(p + 4000, a.length))),
      state,
    );
    r.encoded.forEach((e, i) => {
      outs[i]!.push(e);
    });
    state = r.state;
  }
  se.finish(state).encoded.forEach((e, i) => {
    outs[i]!.push(e);
  });
  for (const [i, a] of audios.entries()) {
    const s = t.cat(outs[i]!, 1);
    const o = offlineEncode(pre, enc, a);
    assert.equal(s.size(1), o.size(1));
    assert.ok(maxAbsDiff(s, o) <= 1e-5);
    for (const x of [s, o, ...outs[i]!]) x.dispose();
  }
  se.dispose();
  enc.dispose();
  pre.dispose();
});

test('streams that step together again reuse their batched caches; reordered, they are stacked; both equal offline, nothing leaks', () => {
  const before = t.liveTensorCount();
  const enc = buildEncoder({ att_context_style: 'regular', att_context_size: [16, 0] });
  const pre = buildPreprocessor();
  const se = new StreamingEncoder(enc, { geometry: configureStreaming(enc, { hopSeconds: 0.01, chunkFrames: 2 }), preprocessor: pre });
  const audios = [2.6, 2.6, 2.6, 2.6].map((s, i) => longAudio(s, i + 5));
  let state = se.initStreamState(4);
  let order = [0, 1, 2, 3]; // state.streams[k] is audio order[k]
  const outs: Tensor[][] = [[], [], [], []];
  const seen = { shared: 0, stacked: 0 };
  for (let p = 0, round = 0; p < 2.6 * 16000; p += 3200, round++) {
    if (round === 4) {
      // a server's turn may list the same streams in another order: the rows no longer line up
      order = [order[3]!, order[0]!, order[1]!, order[2]!];
      state = { streams: [state.streams[3]!, state.streams[0]!, state.streams[1]!, state.streams[2]!] };
      assert.equal(sharedBatchOf(state.streams), null, 'reordered rows are not reused');
    }
    if (sharedBatchOf(state.streams)) seen.shared++;
    else seen.stacked++;
    const r = se.pushAudio(
      order.map((i) => audios[i]!.subarray(p, Math.min(p + 3200, audios[i]!.length))),
      state,
    );
    r.encoded.forEach((e, k) => {
      outs[order[k]!]!.push(e);
    });
    state = r.state;
    if (r.encoded.some((e) => e.size(1) > 0)) {
      const batch = sharedBatchOf(state.streams);
      assert.ok(batch && batch.rows === 4, `round ${round}: the four streams hold the rows of one batched step`);
    }
  }
  assert.ok(seen.shared >= 5 && seen.stacked >= 2, `steps reading shared caches ${seen.shared}, stacking ${seen.stacked}`);
  se.finish(state).encoded.forEach((e, k) => {
    outs[order[k]!]!.push(e);
  });
  for (const [i, a] of audios.entries()) {
    const s = t.cat(outs[i]!, 1);
    const o = offlineEncode(pre, enc, a);
    assert.equal(s.size(1), o.size(1));
    const d = maxAbsDiff(s, o);
    assert.ok(d <= 1e-5, `stream ${i}: max |diff| ${d}`);
    for (const x of [s, o, ...outs[i]!]) x.dispose();
  }
  se.dispose();
  enc.dispose();
  pre.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});

test('SharedBatchCache frees the batched caches with the last row and refuses a second release', () => {
  const enc = buildEncoder();
  const geo = configureStreaming(enc, { hopSeconds: 0.01 });
  const before = t.liveTensorCount();
  const shared = new SharedBatchCache(enc.initCache(2, geo.cfg), 2);
  const held = t.liveTensorCount() - before;
  assert.ok(held > 0);
  shared.release();
  assert.equal(t.liveTensorCount() - before, held, 'one row still holds the caches');
  shared.release();
  assert.equal(t.liveTensorCount(), before, 'freed with the last row');
  assert.throws(() => shared.release(), /released twice/);
  enc.dispose();
});

test('batches are split into powers of two, largest first, keeping every stream once and in order', () => {
  assert.deepEqual(
    powerOfTwoBatches([...'abcdefghijklmnopqrstu']).map((b) => b.length),
    [16, 4, 1],
  );
  assert.deepEqual(powerOfTwoBatches([1, 2, 3]), [[1, 2], [3]]);
  assert.deepEqual(powerOfTwoBatches([]), []);
  for (let n = 1; n <= 70; n++) {
    const items = Array.from({ length: n }, (_, i) => i);
    const parts = powerOfTwoBatches(items);
    assert.deepEqual(parts.flat(), items);
    assert.ok(parts.every((p) => (p.length & (p.length - 1)) === 0));
    assert.ok(
      parts.every((p, i) => i === 0 || p.length < parts[i - 1]!.length),
      'distinct sizes, largest first',
    );
  }
});
