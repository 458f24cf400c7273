import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/assert.js';
import { readManifests } from '../../src/data/manifest.js';
import { BatchSampler, type SamplerState } from '../../src/data/sampler.js';
import { AudioLoader } from '../../src/data/loader.js';
import { NEST_AUGMENTATION } from '../../src/data/noise-augmentation.js';
import { readWav } from '../../src/audio/wav.js';
import type { LoadedBatch } from '../../src/data/batch-builder.js';

const CORPUS = join(REPO_ROOT, 'data', 'corpus');
const train = readManifests(join(CORPUS, 'train_manifest.json'), { minDuration: 1.0, maxDuration: 60 });
const noise = readManifests(join(CORPUS, 'noise_manifest.json'), { kind: 'noise' });
const samplerOpts = { batchSize: 4, seed: 7, dropLast: true };
const items = train.entries.map((e) => ({ duration: e.duration, source: e.source }));
const build = { augmentation: { ...NEST_AUGMENTATION, prob: 1 } };

function loader(workers: number, state?: SamplerState): AudioLoader {
  return new AudioLoader(train.entries, noise.entries, new BatchSampler(items, samplerOpts, state), { seed: 3, workers, prefetch: 3, build });
}

async function take(l: AudioLoader, n: number): Promise<LoadedBatch[]> {
  const out: LoadedBatch[] = [];
  for (let i = 0; i < n; i++) out.push(await l.next());
  return out;
}

function comparable(b: LoadedBatch) {
  return { indices: b.indices, audio: b.audio, lens: b.audioLens, noisy: b.noisyAudio, noisyLens: b.noisyLens, epoch: b.epoch, k: b.batchInEpoch };
}

test('loader: padded batches of clean audio from the files; worker and in-process batches are identical', async () => {
  const inProcess = loader(0);
  const threaded = loader(1);
  try {
    const a = await take(inProcess, 3);
    const b = await take(threaded, 3);
    for (let i = 0; i < 3; i++) assert.deepEqual(comparable(b[i]!), comparable(a[i]!), `batch ${i}`);
    const first = a[0]!;
    assert.equal(first.batchSize, 4);
    assert.equal(first.audio.length, 4 * first.maxLen);
    assert.equal(first.maxLen, Math.max(...first.audioLens));
    first.indices.forEach((idx, r) => {
      const wav = readWav(train.entries[idx]!.audioFilepath).samples;
      assert.equal(first.audioLens[r], Math.max(16000, wav.length));
      assert.deepEqual(first.audio.subarray(r * first.maxLen, r * first.maxLen + wav.length), wav, `row ${r} is not the clean file`);
    });
    assert.ok(first.draws.length === 4 && first.draws.every((d) => d.applied));
    assert.notDeepEqual(first.noisyAudio, first.audio);
    assert.match(threaded.formatSummary(), /^3 batches, 12 utterances, .* none skipped$/);
  } finally {
    await inProcess.close();
    await threaded.close();
  }
});

test('loader: stop after k batches, restore the saved state, the next batches are identical (across an epoch end)', async () => {
  const ref = loader(1);
  const k = 5; // 8 batches per epoch: runs into epoch 1
  let all: LoadedBatch[];
  let saved: SamplerState;
  try {
    const head = await take(ref, k);
    saved = JSON.parse(JSON.stringify(ref.state()));
    all = [...head, ...(await take(ref, 6))];
  } finally {
    await ref.close();
  }
  const resumed = loader(1, saved);
  try {
    const tail = await take(resumed, 6);
    for (let i = 0; i < 6; i++) assert.deepEqual(comparable(tail[i]!), comparable(all[k + i]!), `batch ${k + i}`);
    assert.ok(all.some((b) => b.epoch === 1));
  } finally {
    await resumed.close();
  }
});

test('loader shard: ranks take the common sequence modulo the world size, decode only their own batches and resume exactly', async () => {
  const shard = (rank: number, state?: SamplerState) =>
    new AudioLoader(train.entries, noise.entries, new BatchSampler(items, samplerOpts, state), { seed: 3, workers: 0, build, shard: { rank, world: 2 } });
  const whole = loader(0);
  const ranks = [shard(0), shard(1)];
  try {
    const all = await take(whole, 10); // into the second epoch (8 batches per epoch)
    const mine = await Promise.all(ranks.map((l) => take(l, 5)));
    for (let i = 0; i < 10; i++) assert.deepEqual(comparable(mine[i % 2]![i >> 1]!), comparable(all[i]!), `batch ${i}: rank ${i % 2}'s ${i >> 1}`);
    // rank 1 never built rank 0's batches: its loader summary holds its own utterances only
    assert.equal(ranks[1]!.summary().utterances, 5 * 4);
    const saved = JSON.parse(JSON.stringify(ranks[1]!.state())) as SamplerState;
    assert.equal(saved.drawn, 10, "the sampler counts every rank's batches");
    const next = await take(ranks[1]!, 2);
    const resumed = shard(1, saved);
    try {
      const again = await take(resumed, 2);
      for (let i = 0; i < 2; i++) assert.deepEqual(comparable(again[i]!), comparable(next[i]!), `resumed batch ${i}`);
    } finally {
      await resumed.close();
    }
  } finally {
    await whole.close();
    for (const l of ranks) await l.close();
  }
});

test("loader shard: a broken file in another rank's batch is never read", async () => {
  const entries = train.entries.slice(0, 2).map((e, i) => (i === 1 ? { ...e, audioFilepath: '/nonexistent/broken.wav' } : e));
  const its = entries.map((e) => ({ duration: e.duration, source: e.source }));
  const opts = { batchSize: 1, seed: 1, shuffle: false };
  const rank0 = new AudioLoader(entries, [], new BatchSampler(its, opts), { seed: 3, workers: 0, shard: { rank: 0, world: 2 } });
  const unsharded = new AudioLoader(entries, [], new BatchSampler(its, opts), { seed: 3, workers: 0 });
  try {
    const got = await take(rank0, 3); // its own batches: item 0 of every epoch
    assert.ok(got.every((b) => b.indices[0] === 0));
    await take(unsharded, 1);
    await assert.rejects(() => unsharded.next(), /broken\.wav/, 'the unsharded loader reads it (and fails)');
  } finally {
    await rank0.close();
    await unsharded.close();
  }
});
