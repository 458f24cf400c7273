// The attention cache carries projected keys / values (each step projects only its new frames) and a stream reuses
// linear_pos(posEmb) per key length: both must give what re-projecting everything at every step (NeMo) gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import {
  cacheLastChannel,
  disposeEncoderCache,
  keepEncoderCache,
  keysAsRows,
  MultiHeadAttention,
  valuesAsRows,
  type AttentionCache,
  type EncoderCache,
  type RelativePositionProjections,
} from '../../src/model/index.js';
import { configureStreaming, nemoBufferPlans } from '../../src/streaming/index.js';
import { subsampledLength } from '../../src/model/index.js';
import { buildEncoder, maxAbsDiff } from '../streaming/helpers.js';

/** One streamStep of plan `p` over features [1, F, frames]: the step's valid output frames and the next cache (kept). */
function stepPlan(
  enc: ReturnType<typeof buildEncoder>,
  geo: ReturnType<typeof configureStreaming>,
  feats: Tensor,
  p: ReturnType<typeof nemoBufferPlans>[number],
  cache: EncoderCache,
  positions?: RelativePositionProjections,
): { encoded: Tensor; cache: EncoderCache } {
  const F = enc.config.feat_in;
  return t.tidy(() => {
    let x = feats.narrow(2, p.start, p.end - p.start);
    if (p.zeroPad > 0) x = t.cat([t.zeros([1, F, p.zeroPad]), x], 2);
    const r = enc.streamStep(x, t.tensor([x.size(2)], [1], { dtype: 'int64' }), cache, {
      streaming: geo.cfg,
      dropExtraPreEncoded: p.drop,
      keepAllOutputs: p.keepAll,
      positions,
    });
    return { encoded: r.encoded.narrow(2, 0, r.lengths.toArray()[0]!).contiguous(), cache: keepEncoderCache(r.cache) };
  });
}

/** Streams random features through streamStep; returns the concatenated output and the final cache. */
function stream(
  enc: ReturnType<typeof buildEncoder>,
  frames: number,
  positions: RelativePositionProjections | undefined,
  keepInputs = true,
): { out: Tensor; cache: EncoderCache } {
  const geo = configureStreaming(enc, { hopSeconds: 0.01 });
  const F = enc.config.feat_in;
  const feats = t.randn([1, F, frames], { generator: new t.Generator(5) });
  const plans = nemoBufferPlans(frames, geo, (n) => subsampledLength(n, enc.config.subsampling_factor, true));
  let cache = enc.initCache(1, geo.cfg, 'float32', keepInputs);
  const parts: Tensor[] = [];
  t.noGrad(() => {
    for (const p of plans) {
      const r = stepPlan(enc, geo, feats, p, cache, positions);
      disposeEncoderCache(cache);
      cache = r.cache;
      parts.push(r.encoded);
    }
  });
  const out = t.cat(parts, 2);
  for (const x of [feats, ...parts]) x.dispose();
  return { out, cache };
}

for (const style of ['regular', 'chunked_limited'] as const) {
  test(`attention cache (${style}): carried keys/values equal linear_k/linear_v of the carried inputs; positions reused`, () => {
    const before = t.liveTensorCount();
    const enc = buildEncoder({ att_context_style: style, att_context_size: style === 'regular' ? [16, 0] : [8, 1] });
    const positions = enc.positionProjections();
    const a = stream(enc, 400, positions);
    const b = stream(enc, 400, undefined);
    // Reusing linear_pos(posEmb) changes nothing: the same numbers as computing it at every step.
    assert.equal(maxAbsDiff(a.out, b.out), 0, 'positions store changes the output');
    // Nor does leaving the attention inputs (NeMo's cache_last_channel) out of the cache: steps read only the projections.
    const lean = stream(enc, 400, positions, false);
    assert.equal(maxAbsDiff(a.out, lean.out), 0, 'a cache without its inputs changes the output');
    assert.ok(lean.cache.layers.every((l) => l.attention.inputs === null));
    assert.throws(() => cacheLastChannel(lean.cache), /does not keep its inputs/);
    disposeEncoderCache(lean.cache);
    lean.out.dispose();
    assert.ok(positions.keyLengths.length >= 1 && positions.keyLengths.length <= 3, `key lengths held: ${positions.keyLengths.join(', ')}`);
    t.tidy(() =>
      t.noGrad(() => {
        for (const [l, layer] of enc.layers.items.entries()) {
          const c = a.cache.layers[l]!.attention;
          assert.ok(c.inputs, 'this cache keeps its inputs');
          const [b, n, d] = c.inputs.shape as [number, number, number];
          const h = layer.self_attn.h;
          assert.deepEqual(c.keys.shape, [b, h, d / h, n], 'keys: [B, h, d_k, C]');
          assert.deepEqual(c.values.shape, [b, h, n, d / h], 'values: [B, h, C, d_k]');
          const k = maxAbsDiff(keysAsRows(c), layer.self_attn.linear_k.forward(c.inputs));
          const v = maxAbsDiff(valuesAsRows(c), layer.self_attn.linear_v.forward(c.inputs));
          assert.ok(k <= 1e-5 && v <= 1e-5, `layer ${l}: carried projections differ from the projected inputs by ${k} / ${v}`);
        }
      }),
    );
    for (const r of [a, b]) {
      r.out.dispose();
      disposeEncoderCache(r.cache);
    }
    positions.dispose();
    enc.dispose();
    assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  });
}

test('attention step: caches append in place in their buffer; an older cache, or one stepped from twice, keeps its values and gives the same result', () => {
  const before = t.liveTensorCount();
  t.tidy(() =>
    t.noGrad(() => {
      const att = new MultiHeadAttention({ nHeads: 2, dModel: 8, dropoutAtt: 0, useBias: true, init: { generator: new t.Generator(1) } }).eval();
      const g = new t.Generator(2);
      const xs = Array.from({ length: 14 }, () => t.randn([1, 2, 8], { generator: g })); // 2 frames per step
      for (const drop of [0, 1]) {
        // reference: no buffer (every step concatenates)
        let ref = att.initCache(1, 5);
        const refOut: Tensor[] = [];
        for (const x of xs) {
          const r = att.step(x, null, null, { ...ref, room: null }, drop);
          refOut.push(r.y);
          ref = r.cache;
        }
        let c = att.initCache(1, 5);
        const caches: AttentionCache[] = [];
        const snapshots: Tensor[] = [];
        const offsets: number[] = [];
        for (const [i, x] of xs.entries()) {
          const r = att.step(x, null, null, c, drop);
          assert.ok(maxAbsDiff(r.y, refOut[i]!) <= 1e-6, `drop ${drop} step ${i}: in-place append changes the output`);
          caches.push(r.cache);
          snapshots.push(t.cat([keysAsRows(r.cache), valuesAsRows(r.cache)], 2));
          offsets.push(r.cache.room?.offset ?? -1);
          c = r.cache;
        }
        assert.ok(
          offsets.some((o, i) => i > 0 && o === 2 - drop && offsets[i - 1]! > o),
          `drop ${drop}: the buffer fills and a new one starts (offsets ${offsets.join(', ')})`,
        );
        assert.ok(
          offsets.some((o) => o > 2),
          `drop ${drop}: caches are windows further into a buffer (offsets ${offsets.join(', ')})`,
        );
        // stepping older caches again (twice each, with new frames) gives what concatenating gives and leaves every
        // cache handed out unchanged
        const other = t.randn([1, 2, 8], { generator: g });
        for (const i of [5, 6, 12])
          for (let k = 0; k < 2; k++) {
            const again = att.step(other, null, null, caches[i]!, drop);
            const plain = att.step(other, null, null, { ...caches[i]!, room: null }, drop);
            assert.ok(maxAbsDiff(again.y, plain.y) <= 1e-6, `drop ${drop}: cache ${i} stepped from again gives another output`);
          }
        for (const [i, cache] of caches.entries())
          assert.equal(maxAbsDiff(t.cat([keysAsRows(cache), valuesAsRows(cache)], 2), snapshots[i]!), 0, `drop ${drop}: cache ${i} was overwritten`);
      }
      att.dispose();
    }),
  );
  assert.equal(t.liveTensorCount(), before, 'buffers go with the last cache that views them');
});

test('streaming steps: the cache buffer that replaces a full one takes blocks the caching allocator already holds (no fresh pages mid-stream)', () => {
  // Buffers of 512 + 32 frames of d 32 (68 KB, above the allocator's 64 KiB floor); one frame per step, so a buffer
  // fills every 32 steps. Without the spare blocks reserved at the first step, the first replacement misses the cache
  // (2 blocks per layer) and faults in fresh pages.
  if (!t.cpuAllocatorStats().enabled) return; // STREAMNEST_CPU_CACHE_MB=0: nothing to check
  const before = t.liveTensorCount();
  const enc = buildEncoder({ att_context_style: 'regular', att_context_size: [512, 0] });
  const geo = configureStreaming(enc, { hopSeconds: 0.01 });
  const F = enc.config.feat_in;
  const frames = 8 * 80;
  const plans = nemoBufferPlans(frames, geo, (n) => subsampledLength(n, enc.config.subsampling_factor, true)).slice(0, -1); // the short last chunk has shapes of its own
  assert.ok(plans.length >= 70, `${plans.length} steps: at least two buffer replacements`);
  const feats = t.randn([1, F, frames], { generator: new t.Generator(5) });
  let cache = enc.initCache(1, geo.cfg, 'float32', false);
  const misses: number[] = [];
  const buffers: boolean[] = []; // whether the step's cache starts a new buffer
  t.noGrad(() => {
    for (const p of plans) {
      const m0 = t.cpuAllocatorStats().misses!;
      const r = stepPlan(enc, geo, feats, p, cache);
      misses.push(t.cpuAllocatorStats().misses! - m0);
      r.encoded.dispose();
      buffers.push(r.cache.layers[0]!.attention.room?.offset === 1);
      disposeEncoderCache(cache);
      cache = r.cache;
    }
  });
  const replacements = buffers.flatMap((fresh, i) => (fresh && i > 1 ? [i] : []));
  assert.ok(replacements.length >= 2, `buffers replaced at steps ${replacements.join(', ')}`);
  for (const i of replacements) assert.equal(misses[i], 0, `step ${i} replaced the buffers with fresh memory (misses per step: ${misses.join(' ')})`);
  disposeEncoderCache(cache);
  feats.dispose();
  enc.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked (the spare blocks are freed)');
});

test('attention step with autograd on: successive steps concatenate, so backward through several steps works', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    const att = new MultiHeadAttention({ nHeads: 2, dModel: 8, dropoutAtt: 0, useBias: true, init: { generator: new t.Generator(1) } }).eval();
    for (const p of att.parameters()) p.requiresGrad = true;
    const g = new t.Generator(3);
    let c = att.initCache(1, 5);
    const ys: Tensor[] = [];
    for (let i = 0; i < 4; i++) {
      const r = att.step(t.randn([1, 2, 8], { generator: g }), null, null, c, 0);
      assert.equal(r.cache.room ?? null, null, 'no buffer with autograd on');
      ys.push(r.y);
      c = r.cache;
    }
    t.cat(ys, 1).sum().backward();
    assert.ok(att.linear_k.weight.grad, 'gradients reach linear_k through every step');
    att.dispose();
  });
  assert.equal(t.liveTensorCount(), before);
});
