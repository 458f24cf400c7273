import test from 'node:test';
import assert from 'node:assert/strict';
import { BatchSampler, paddingFraction, type SamplerItem } from '../../src/data/sampler.js';
import { Rng } from '../../src/data/rng.js';

/** A realistic spread: log-normal around 6 s, clipped to [1, 20] s like NEST's min/max filters. */
function realisticItems(n: number, seed: number): SamplerItem[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({ duration: Math.min(20, Math.max(1, Math.exp(Math.log(6) + 0.6 * rng.normal()))), source: 0 }));
}

test('sampler: duration bucketing keeps padding under 10% (vs. much more without)', () => {
  const items = realisticItems(3000, 1);
  const dur = (i: number) => items[i]!.duration!;
  const plan = (bucketing: boolean) => {
    const s = new BatchSampler(items, { batchSize: 8, seed: 5, bucketing, dropLast: true });
    return Array.from({ length: s.batchesPerEpoch }, () => s.next().indices);
  };
  const withB = paddingFraction(plan(true), dur);
  const without = paddingFraction(plan(false), dur);
  assert.ok(withB < 0.1, `padding with bucketing ${withB}`);
  assert.ok(without > 0.25, `padding without bucketing ${without}`);
});

test('sampler: an epoch visits every item once; drop_last drops only the short batch; epochs differ', () => {
  const items = realisticItems(101, 2);
  const s = new BatchSampler(items, { batchSize: 8, seed: 1 });
  assert.equal(s.batchesPerEpoch, 13);
  const seen: number[] = [];
  for (let b = 0; b < 13; b++) seen.push(...s.next().indices);
  assert.deepEqual(
    seen.slice().sort((a, b) => a - b),
    items.map((_, i) => i),
  );
  const e1 = s.next();
  assert.equal(e1.epoch, 1);
  const d = new BatchSampler(items, { batchSize: 8, seed: 1, dropLast: true });
  assert.equal(d.batchesPerEpoch, 12);
  for (let b = 0; b < 12; b++) assert.equal(d.next().indices.length, 8);
  // different seeds give different orders; same seed the same
  const a = new BatchSampler(items, { batchSize: 8, seed: 1 }).next().indices;
  const a2 = new BatchSampler(items, { batchSize: 8, seed: 1 }).next().indices;
  const c = new BatchSampler(items, { batchSize: 8, seed: 2 }).next().indices;
  assert.deepEqual(a, a2);
  assert.notDeepEqual(a, c);
});

test('sampler: stop after k batches, restore the JSON state, the next batches are identical (across epochs)', () => {
  const items = realisticItems(50, 3);
  const opts = { batchSize: 4, seed: 9, dropLast: true };
  const ref = new BatchSampler(items, opts);
  const all = Array.from({ length: 40 }, () => ref.next()); // > 3 epochs of 12 batches
  for (const k of [0, 5, 12, 13, 30]) {
    const s = new BatchSampler(items, opts);
    for (let i = 0; i < k; i++) s.next();
    const saved = JSON.parse(JSON.stringify(s.state()));
    const resumed = new BatchSampler(items, opts, saved);
    for (let i = k; i < 40; i++) assert.deepEqual(resumed.next(), all[i], `k=${k}, batch ${i}`);
  }
});

test('sampler: manifest weights repeat or subsample entries per epoch', () => {
  const items: SamplerItem[] = [
    ...Array.from({ length: 10 }, () => ({ duration: 2, source: 0 })),
    ...Array.from({ length: 10 }, () => ({ duration: 3, source: 1 })),
  ];
  const s = new BatchSampler(items, { batchSize: 5, seed: 0, weights: [2, 0.5] });
  const seen: number[] = [];
  for (let b = 0; b < s.batchesPerEpoch; b++) seen.push(...s.next().indices);
  assert.equal(seen.filter((i) => i < 10).length, 20);
  assert.equal(seen.filter((i) => i >= 10).length, 5);
  assert.throws(() => new BatchSampler([], { batchSize: 2, seed: 0 }), /no items/);
  assert.throws(() => new BatchSampler(items, { batchSize: 64, seed: 0, dropLast: true }), /no batches/);
});

test('sampler stepGroup: the ranks of one data-parallel step get duration neighbours, aligned across epochs and resume', () => {
  const items = realisticItems(217, 4); // 217 items: an epoch of 55 batches (2 or 3 ranks) does not divide into steps
  const dur = (i: number) => items[i]!.duration!;
  const longest = (b: readonly number[]) => Math.max(...b.map(dur));
  for (const world of [2, 3]) {
    const opts = { batchSize: 4, seed: 7, stepGroup: world };
    const s = new BatchSampler(items, opts);
    const perEpoch = s.batchesPerEpoch;
    assert.ok(perEpoch % world !== 0, `${perEpoch} batches per epoch`);
    const drawn = Array.from({ length: 4 * perEpoch }, () => s.next()); // 4 epochs
    // every item once per epoch, as without groups
    for (let e = 0; e < 4; e++) {
      const seen = drawn.filter((b) => b.epoch === e).flatMap((b) => b.indices);
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        items.map((_, i) => i),
      );
    }
    // a step = the batches drawn world*k .. world*k + world-1; inside an epoch its batches' longest items differ
    // far less than those of batches drawn at random from the epoch (the single-process order)
    const spread = (batches: { indices: number[] }[]) => {
      let sum = 0;
      let n = 0;
      for (let k = 0; k + world <= batches.length; k += world) {
        const lens = batches.slice(k, k + world).map((b) => longest(b.indices));
        sum += Math.max(...lens) - Math.min(...lens);
        n++;
      }
      return sum / n;
    };
    const inEpoch = drawn.filter((b) => b.epoch === 1);
    const offset = inEpoch[0]!.drawn % world;
    const stepsOfEpoch = inEpoch.slice((world - offset) % world);
    const plain = new BatchSampler(items, { batchSize: 4, seed: 7 });
    const plainBatches = Array.from({ length: 51 }, () => plain.next());
    assert.ok(spread(stepsOfEpoch) < 0.25 * spread(plainBatches), `world ${world}: ${spread(stepsOfEpoch)} vs ${spread(plainBatches)}`);
    // resuming anywhere (mid-step, at epoch ends) replays the same batches
    for (const k of [1, perEpoch - 1, perEpoch, perEpoch + 1, 2 * perEpoch + 1, 3 * perEpoch - 2]) {
      const a = new BatchSampler(items, opts);
      for (let i = 0; i < k; i++) a.next();
      const resumed = new BatchSampler(items, opts, JSON.parse(JSON.stringify(a.state())));
      for (let i = k; i < Math.min(k + 60, drawn.length); i++) assert.deepEqual(resumed.next(), drawn[i], `world ${world}, resumed at ${k}, batch ${i}`);
    }
  }
  // one rank: the order is the plain shuffle's, batch for batch
  const one = new BatchSampler(items, { batchSize: 4, seed: 7, stepGroup: 1 });
  const plain = new BatchSampler(items, { batchSize: 4, seed: 7 });
  for (let i = 0; i < 60; i++) assert.deepEqual(one.next(), plain.next());
  assert.throws(() => new BatchSampler(items, { batchSize: 4, seed: 7, stepGroup: 0 }), /stepGroup must be a positive integer/);
});
