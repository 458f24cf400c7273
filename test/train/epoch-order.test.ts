// The seeded per-epoch batch order of the speaker-vector and diarization training streams: the first batches of a few
// epochs are pinned (numbers taken from the streams before their shared order was factored out, so the refactor keeps
// them), both streams and EpochOrder itself give the same order for the same seed and size, and a saved/restored
// position continues exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EpochOrder } from '../../src/train/epoch-order.js';
import { DiarizationTrainStream, disposeDiarizationBatch, type DiarizationExample } from '../../src/train/diarization-training.js';
import { SpeakerVectorStream, disposeSpeakerBatch, type PooledSet } from '../../src/train/speaker-embedding-training.js';

/** [epoch, indices] of each batch, as the pre-refactor streams gave them. */
type Pinned = [number, number[]][];
// 10 items, batches of 3 (one item dropped per epoch), seed 17
const N10_B3_SEED17: Pinned = [
  [0, [6, 3, 5]],
  [0, [7, 2, 8]],
  [0, [4, 9, 1]],
  [1, [7, 8, 6]],
  [1, [5, 2, 9]],
  [1, [3, 0, 4]],
  [2, [7, 1, 6]],
  [2, [2, 3, 5]],
  [2, [0, 4, 9]],
  [3, [2, 3, 6]],
];
// 7 items, batches of 2, seed 0
const N7_B2_SEED0: Pinned = [
  [0, [5, 0]],
  [0, [1, 4]],
  [0, [3, 6]],
  [1, [3, 4]],
  [1, [6, 5]],
  [1, [0, 1]],
  [2, [0, 1]],
  [2, [2, 5]],
  [2, [6, 4]],
];

/** A stream of items named u0..u{n-1}, read back as [epoch, indices] per batch. */
interface IndexStream {
  take(k: number): Promise<Pinned>;
  state(): unknown;
  restore(s: unknown): void;
}

function speakerStream(n: number, batchSize: number, seed: number): IndexStream {
  const set: PooledSet = { values: new Float32Array(n * 2), dim: 2, speakers: Array.from({ length: n }, (_, i) => `u${i}`) };
  const s = new SpeakerVectorStream(set, new Map(), batchSize, seed);
  return {
    async take(k) {
      const out: Pinned = [];
      for (let i = 0; i < k; i++) {
        const { batch, epoch } = await s.next();
        out.push([epoch, batch.speakers.map((u) => Number(u.slice(1)))]);
        disposeSpeakerBatch(batch);
      }
      return out;
    },
    state: () => s.state(),
    restore: (st) => s.restore(st),
  };
}

function diarizationStream(n: number, batchSize: number, seed: number): IndexStream {
  const examples: DiarizationExample[] = Array.from({ length: n }, (_, i) => ({ id: `u${i}`, samples: new Float32Array(4), turns: [] }));
  const s = new DiarizationTrainStream(examples, batchSize, seed);
  return {
    async take(k) {
      const out: Pinned = [];
      for (let i = 0; i < k; i++) {
        const { batch, epoch } = await s.next();
        out.push([epoch, batch.ids.map((u) => Number(u.slice(1)))]);
        disposeDiarizationBatch(batch);
      }
      return out;
    },
    state: () => s.state(),
    restore: (st) => s.restore(st),
  };
}

function epochOrder(n: number, batchSize: number, seed: number): IndexStream {
  const o = new EpochOrder(n, batchSize, seed, 'test order');
  return {
    async take(k) {
      return Array.from({ length: k }, (): [number, number[]] => {
        const { indices, epoch } = o.next();
        return [epoch, indices];
      });
    },
    state: () => o.state(),
    restore: (st) => o.restore(st),
  };
}

const STREAMS = { EpochOrder: epochOrder, speaker: speakerStream, diarization: diarizationStream };

test('EpochOrder: batches per epoch drop the last partial batch; each epoch is a permutation; the state is {epoch, pos}', () => {
  assert.equal(new EpochOrder(10, 3, 17, 'o').batchesPerEpoch, 3);
  assert.equal(new EpochOrder(6, 3, 17, 'o').batchesPerEpoch, 2);
  const o = new EpochOrder(6, 3, 5, 'o');
  for (let e = 0; e < 3; e++) {
    const seen = [...o.next().indices, ...o.next().indices].sort((a, b) => a - b);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5], `epoch ${e}`);
  }
  assert.deepEqual(o.state(), { epoch: 2, pos: 6 });
  assert.throws(() => o.restore({ epoch: 1 }), /^Error: o: bad saved position$/);
});

for (const [name, make] of Object.entries(STREAMS)) {
  test(`${name} stream: the pinned first batches of four epochs (n 10, batch 3, seed 17) and three epochs (n 7, batch 2, seed 0)`, async () => {
    assert.deepEqual(await make(10, 3, 17).take(N10_B3_SEED17.length), N10_B3_SEED17);
    assert.deepEqual(await make(7, 2, 0).take(N7_B2_SEED0.length), N7_B2_SEED0);
    // another seed gives another order
    assert.notDeepEqual(await make(10, 3, 18).take(3), N10_B3_SEED17.slice(0, 3));
  });

  test(`${name} stream: a saved position (mid-epoch and at an epoch's end), restored in a fresh stream, continues identically`, async () => {
    for (const k of [2, 3, 4]) {
      const a = make(10, 3, 17);
      await a.take(k);
      const saved = JSON.parse(JSON.stringify(a.state())) as unknown; // as a checkpoint stores it
      const b = make(10, 3, 17);
      b.restore(saved);
      const rest = await a.take(5);
      assert.deepEqual(rest, N10_B3_SEED17.slice(k, k + 5), `after ${k} batches`);
      assert.deepEqual(await b.take(5), rest, `restored after ${k} batches`);
    }
    assert.throws(() => make(10, 3, 17).restore({ epoch: '1', pos: 0 }), /bad saved position/);
    assert.throws(() => make(10, 3, 17).restore(null), /bad saved position/);
  });
}
