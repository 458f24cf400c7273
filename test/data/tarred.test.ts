// NeMo tarred datasets: brace expansion and shard selection, make-tarred's layout, a tarred run against a plain run
// over the same audio (the shipped corpus plus MP3/Opus members), exact resume, scatter/replicate over ranks, and bad
// members / truncated shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { REPO_ROOT } from '../helpers/assert.js';
import { createDatasetLoader } from '../../src/data/dataset.js';
import { makeTarredDataset, squashedName } from '../../src/data/make-tarred.js';
import { braceExpand, expandShardedFilepaths, normaliseBraces } from '../../src/data/shard-paths.js';
import { readTar } from '../../src/data/tar-stream.js';
import type { LoadedBatch } from '../../src/data/batch-builder.js';
import type { SamplerState } from '../../src/data/sampler.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-tarred-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// the shipped corpus plus two compressed clips: 34 entries
const plainManifest = join(dir, 'plain.json');
const corpus = readFileSync(join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Record<string, unknown>)
  .map((e) => ({ ...e, audio_filepath: join(REPO_ROOT, 'data', 'corpus', e.audio_filepath as string) }));
// (copied under distinct base names: NeMo matches members by file name without extension, so x.mp3 and x.opus would collide)
const compressed = [
  ['speech_hello.mp3', 'hello_mp3.mp3'],
  ['speech_hello.opus', 'hello_opus.opus'],
].map(([f, copy]) => {
  const p = join(dir, copy!);
  writeFileSync(p, readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'audio', 'compressed', f!)));
  return { audio_filepath: p, duration: 1.0, offset: 0, text: f };
});
writeFileSync(plainManifest, [...corpus, ...compressed].map((e) => `${JSON.stringify(e)}\n`).join(''));
const N_ENTRIES = corpus.length + compressed.length;

const made = makeTarredDataset({ manifest: plainManifest, outDir: join(dir, 'tarred'), shards: 2 });
const SHARDS = join(dir, 'tarred', 'audio__OP_0..1_CL_.tar');

const baseDs = {
  sample_rate: 16000,
  batch_size: 4,
  num_workers: 0,
  drop_last: false,
  skip_bad_audio: false,
};
const tarredDs = (o: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...baseDs,
  manifest_filepath: made.manifest,
  is_tarred: true,
  tarred_audio_filepaths: SHARDS,
  shuffle: true,
  shuffle_n: 8,
  ...o,
});

/** Clean audio of every row of `n` batches, by the entry's text. */
async function rows(ds: Record<string, unknown>, n: number, o: { seed?: number; state?: SamplerState; shard?: { rank: number; world: number } } = {}) {
  const d = createDatasetLoader(ds, { seed: o.seed ?? 3, baseDir: REPO_ROOT, state: o.state, shard: o.shard });
  const out: { text: string; audio: Float32Array }[] = [];
  const batches: LoadedBatch[] = [];
  try {
    for (let k = 0; k < n; k++) {
      const b = await d.loader.next();
      batches.push(b);
      for (const [r, idx] of b.indices.entries()) {
        out.push({ text: d.manifests.entries[idx]!.text, audio: b.audio.slice(r * b.maxLen, r * b.maxLen + b.audioLens[r]!) });
      }
    }
    return { out, batches, state: d.loader.state(), d };
  } finally {
    await d.loader.close();
  }
}

test('braceexpand syntax and NeMo spellings', () => {
  assert.deepEqual(braceExpand('audio_{0..3}.tar'), ['audio_0.tar', 'audio_1.tar', 'audio_2.tar', 'audio_3.tar']);
  assert.deepEqual(braceExpand('a_{08..10}.tar'), ['a_08.tar', 'a_09.tar', 'a_10.tar']);
  assert.deepEqual(braceExpand('{a,b}{1..2}'), ['a1', 'a2', 'b1', 'b2']);
  assert.deepEqual(braceExpand('x{1..7..3}'), ['x1', 'x4', 'x7']);
  assert.deepEqual(braceExpand('{c..a}'), ['c', 'b', 'a']);
  assert.deepEqual(braceExpand('{a,{b,c}d}'), ['a', 'bd', 'cd']);
  assert.deepEqual(braceExpand('no{brace'), ['no{brace']);
  assert.deepEqual(braceExpand('{x}'), ['{x}']);
  for (const s of ['audio__OP_0..2_CL_.tar', 'audio_(0..2).tar', 'audio_[0..2].tar', 'audio_<0..2>.tar']) {
    assert.deepEqual(braceExpand(normaliseBraces(s)), ['audio_0.tar', 'audio_1.tar', 'audio_2.tar'], s);
  }
  assert.throws(() => braceExpand('{0..99999999}'), /more than/);
});

test('expand_sharded_filepaths: scatter gives each rank its slice (an uneven remainder is read by none, with a warning), replicate gives all', () => {
  const warnings: string[] = [];
  assert.deepEqual(
    expandShardedFilepaths('s_{0..6}', 'scatter', 3, 1, (m) => warnings.push(m)),
    ['s_2', 's_3'],
  );
  assert.match(warnings[0]!, /7 tarred shards do not split evenly over 3 ranks/);
  assert.deepEqual(expandShardedFilepaths('s_{0..3}', 'replicate', 2, 1), ['s_0', 's_1', 's_2', 's_3']);
  assert.deepEqual(expandShardedFilepaths(['b', 'a'], 'scatter', 1, 0), ['b', 'a']); // a list is not expanded nor sorted
});

test("make-tarred writes NeMo's layout: audio_{i}.tar, tarred_audio_manifest.json, sharded manifests, metadata.yaml", () => {
  assert.equal(made.entries, N_ENTRIES);
  assert.equal(made.entriesPerShard, N_ENTRIES / 2);
  const out = join(dir, 'tarred');
  for (const f of [
    'audio_0.tar',
    'audio_1.tar',
    'tarred_audio_manifest.json',
    'metadata.yaml',
    'sharded_manifests/manifest_0.json',
    'sharded_manifests/manifest_1.json',
  ]) {
    assert.ok(existsSync(join(out, f)), f);
  }
  const lines = readFileSync(made.manifest, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const members = new Set([0, 1].flatMap((i) => readTar(readFileSync(join(out, `audio_${i}.tar`))).map((m) => `${i}/${m.name}`)));
  for (const e of lines) assert.ok(members.has(`${e.shard_id}/${e.audio_filepath}`), JSON.stringify(e));
  const first = lines[0]!;
  assert.equal(first.audio_filepath, squashedName(corpus[0]!.audio_filepath).base + '.wav');
  assert.ok(!(first.audio_filepath as string).includes('/'));
  assert.equal(first.text, (corpus[0] as { text?: string }).text);
  assert.match(readFileSync(join(out, 'metadata.yaml'), 'utf8'), /num_samples_per_shard: 17/);
  const shard1 = readFileSync(join(out, 'sharded_manifests', 'manifest_1.json'), 'utf8')
    .trim()
    .split('\n');
  assert.equal(shard1.length, N_ENTRIES / 2);
  assert.ok(shard1.every((l) => (JSON.parse(l) as { shard_id: number }).shard_id === 1));
});

test('a tarred run and a plain run over the same audio see the same utterances, decoded identically (WAV, MP3, Opus members)', async () => {
  const epoch = Math.ceil(N_ENTRIES / 4);
  const tarred = await rows(tarredDs(), epoch);
  const plain = await rows({ ...baseDs, manifest_filepath: plainManifest, shuffle: false }, epoch);
  assert.equal(tarred.out.length, N_ENTRIES);
  assert.equal(plain.out.length, N_ENTRIES);
  const byText = new Map(plain.out.map((r) => [r.text, r.audio]));
  assert.deepEqual(new Set(tarred.out.map((r) => r.text)), new Set(byText.keys()));
  for (const r of tarred.out) assert.deepEqual(r.audio, byText.get(r.text), r.text);
  // shuffled: not the manifest order
  assert.notDeepEqual(
    tarred.out.map((r) => r.text),
    plain.out.map((r) => r.text),
  );
  assert.equal(tarred.state.epoch, 0);
  assert.match(tarred.d.describe(), /tarred, 2 of 2 shards \(scatter\), about 9 batches per epoch/);
});

test('a gzip-compressed shard (.tar.gz) reads like the plain one', async () => {
  const gz = join(dir, 'tarred', 'audio_1.tar.gz');
  writeFileSync(gz, gzipSync(readFileSync(join(dir, 'tarred', 'audio_1.tar'))));
  const epoch = Math.ceil(N_ENTRIES / 4);
  const mixed = await rows(tarredDs({ tarred_audio_filepaths: [join(dir, 'tarred', 'audio_0.tar'), gz] }), epoch);
  const plain = await rows(tarredDs(), epoch);
  assert.deepEqual(
    mixed.out.map((r) => r.text),
    plain.out.map((r) => r.text),
  );
  for (const [i, r] of mixed.out.entries()) assert.deepEqual(r.audio, plain.out[i]!.audio);
});

test('resume is exact: a restored state replays the rest of the epoch and the next one', async () => {
  const whole = await rows(tarredDs(), 14);
  const first = await rows(tarredDs(), 5);
  const rest = await rows(tarredDs(), 9, { state: first.state });
  assert.deepEqual(
    [...first.out, ...rest.out].map((r) => r.text),
    whole.out.map((r) => r.text),
  );
  // epoch 1 is read in another order than epoch 0
  const perEpoch = Math.ceil(N_ENTRIES / 4);
  assert.notDeepEqual(
    whole.batches.slice(perEpoch, perEpoch + 2).map((b) => b.indices),
    whole.batches.slice(0, 2).map((b) => b.indices),
  );
});

test('data parallel: scatter splits the shards between ranks (disjoint, together everything); replicate reads all on each', async () => {
  const per = Math.ceil(N_ENTRIES / 2 / 4);
  const r0 = await rows(tarredDs(), per, { shard: { rank: 0, world: 2 } });
  const r1 = await rows(tarredDs(), per, { shard: { rank: 1, world: 2 } });
  const t0 = new Set(r0.out.map((r) => r.text));
  const t1 = new Set(r1.out.map((r) => r.text));
  assert.equal(t0.size + t1.size, N_ENTRIES);
  assert.ok([...t0].every((t) => !t1.has(t)));
  const rep = await rows(tarredDs({ tarred_shard_strategy: 'replicate' }), Math.ceil(N_ENTRIES / 4), { shard: { rank: 1, world: 2 } });
  assert.equal(new Set(rep.out.map((r) => r.text)).size, N_ENTRIES);
});

test('a corrupt member is reported with its shard and member name (skipped under skip_bad_audio); a truncated shard ends with a warning', async () => {
  const bad = join(dir, 'bad');
  const m = makeTarredDataset({ manifest: plainManifest, outDir: bad, shards: 2 });
  // garble the audio of the first member of shard 0 (its data begin after the 512-byte header)
  const tar0 = join(bad, 'audio_0.tar');
  const bytes = readFileSync(tar0);
  bytes.fill(0x55, 512, 512 + 64);
  writeFileSync(tar0, bytes);
  const member = readTar(bytes)[0]!.name;
  // cut shard 1 in the middle of a member
  const tar1 = join(bad, 'audio_1.tar');
  truncateSync(tar1, Math.floor(statSync(tar1).size / 2));
  const ds = { ...baseDs, manifest_filepath: m.manifest, is_tarred: true, tarred_audio_filepaths: join(bad, 'audio_{0..1}.tar'), shuffle: false };
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    await assert.rejects(
      rows(ds, 1),
      (e: unknown) => e instanceof Error && e.message.includes(`${tar0}:${member}`) && /not a RIFF\/WAVE|unrecognised audio format/.test(e.message),
    );
    const d = createDatasetLoader({ ...ds, skip_bad_audio: true }, { seed: 1, baseDir: REPO_ROOT });
    let seen = 0;
    try {
      for (let k = 0; k < 6; k++) seen += (await d.loader.next()).batchSize;
    } finally {
      await d.loader.close();
    }
    const s = d.loader.summary();
    assert.equal(s.skips.counts.bad_audio, 1);
    assert.ok(
      s.skips.examples.some((x) => x.includes(`${tar0}:${member}`)),
      s.skips.examples.join('\n'),
    );
    assert.ok(seen > N_ENTRIES / 2 && seen < N_ENTRIES - 1, `read ${seen}`); // shard 0 less one, and the first half of shard 1
    await new Promise((r) => setImmediate(r));
    assert.ok(
      warnings.some((w) => w.includes(`tarred shard ${tar1} ends early`)),
      warnings.join('\n'),
    );
  } finally {
    process.off('warning', onWarning);
  }
});
