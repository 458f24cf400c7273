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
