// NeMo's bucketed tarred datasets (issue #20): make-tarred --buckets' layout, one epoch over the buckets (each read
// `weight` times, batches within one bucket at its own batch size), the bucket order of fixed_order /
// synced_randomized / fully_randomized across ranks and epochs, exact resume, NeMo's batch-size rules, errors that
// name the key, and the pretrain (schema) and finetune routes. Real tar shards of the shipped corpus in a temp dir;
// most checks draw batches from the sampler (tar headers only), one decodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../helpers/assert.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { tarredLayout, type LayoutInput } from '../../src/config/schema/bucketing.js';
import { createDatasetLoader, type DatasetLoader } from '../../src/data/dataset.js';
import { bucketRanges, makeBucketedTarredDataset } from '../../src/data/make-tarred.js';
import type { SamplerState } from '../../src/data/sampler.js';
import type { TarredBatch } from '../../src/data/tarred.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-bucketed-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// the shipped corpus (32 clips, 2.5-4.4 s) with absolute paths, cut into 3 duration buckets of 2 shards each
const plainManifest = join(dir, 'plain.json');
const corpus = readFileSync(join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as { audio_filepath: string; duration: number; text: string })
  .map((e) => ({ ...e, audio_filepath: join(REPO_ROOT, 'data', 'corpus', e.audio_filepath) }));
writeFileSync(plainManifest, corpus.map((e) => `${JSON.stringify(e)}\n`).join(''));
const out = join(dir, 'tarred');
const made = makeBucketedTarredDataset({ manifest: plainManifest, outDir: out, shards: 2, buckets: 3, minDuration: 2.5, maxDuration: 4.5 });
const SHARDS = made.buckets.map((b) => [join(b.dir, 'audio__OP_0..1_CL_.tar')]);
const MANIFESTS = made.buckets.map((b) => [b.manifest]);

const bucketedDs = (o: Record<string, unknown> = {}): Record<string, unknown> => ({
  sample_rate: 16000,
  batch_size: 1,
  num_workers: 0,
  drop_last: false,
  skip_bad_audio: false,
  is_tarred: true,
  manifest_filepath: MANIFESTS,
  tarred_audio_filepaths: SHARDS,
  shuffle: true,
  shuffle_n: 8,
  bucketing_batch_size: [4, 3, 2],
  bucketing_weights: [1, 2, 1],
  bucketing_strategy: 'fixed_order',
  ...o,
});

/** Opens a loader (no decoding until loader.next()), runs `f`, closes it. */
async function withLoader<T>(
  ds: Record<string, unknown>,
  f: (d: DatasetLoader) => T | Promise<T>,
  o: { state?: SamplerState; shard?: { rank: number; world: number }; seed?: number } = {},
): Promise<T> {
  const d = createDatasetLoader(ds, { seed: o.seed ?? 5, baseDir: REPO_ROOT, state: o.state, shard: o.shard });
  try {
    return await f(d);
  } finally {
    await d.loader.close();
  }
}

/** The sampler's batches (tar headers only, nothing decoded). */
const draw = (d: DatasetLoader, n: number): TarredBatch[] => Array.from({ length: n }, () => d.sampler.next() as TarredBatch);
/** The first batch of the next epoch, drawn by epochOf to see the epoch end. */
const aheadOf = new WeakMap<DatasetLoader, TarredBatch>();
/** The batches of epoch `epoch` (earlier ones are drawn and dropped). */
function epochOf(d: DatasetLoader, epoch: number): TarredBatch[] {
  const got: TarredBatch[] = [];
  for (;;) {
    const b = aheadOf.get(d) ?? (d.sampler.next() as TarredBatch);
    aheadOf.delete(d);
    if (b.epoch > epoch) {
      aheadOf.set(d, b);
      return got;
    }
    if (b.epoch === epoch) got.push(b);
  }
}
/** The bucket of a manifest entry: the bucket folder its manifest lies in. */
const bucketOf = (d: DatasetLoader, index: number): number => Number(/bucket(\d+)/.exec(d.manifests.entries[index]!.where)![1]) - 1;
/** The sequence of bucket passes: consecutive batches of one bucket collapsed. */
const passes = (batches: readonly TarredBatch[]): number[] => batches.map((b) => b.bucket).filter((b, i, a) => i === 0 || a[i - 1] !== b);

test('make-tarred --buckets: NeMo equal duration ranges over [min, max), one dataset per bucket (bucket1 ... bucketN)', () => {
  assert.deepEqual(
    bucketRanges(2, 8, 3).map(([lo, hi]) => [lo, +hi.toFixed(6)]),
    [
      [2, 4],
      [4, 6],
      [6, 8.00001],
    ],
  );
  let total = 0;
  for (const [i, b] of made.buckets.entries()) {
    assert.equal(b.dir, join(out, `bucket${i + 1}`));
    for (const f of ['audio_0.tar', 'audio_1.tar', 'tarred_audio_manifest.json', 'metadata.yaml']) assert.ok(existsSync(join(b.dir, f)), `${b.dir}/${f}`);
    const durations = readFileSync(b.manifest, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { duration: number }).duration);
    assert.ok(
      durations.every((x) => x >= b.minDuration && x < b.maxDuration),
      `bucket ${i + 1}: ${durations.join(', ')}`,
    );
    assert.match(readFileSync(join(b.dir, 'metadata.yaml'), 'utf8'), new RegExp(`min_duration: ${b.minDuration}`));
    total += b.entries + b.leftOver;
  }
  assert.equal(total, corpus.length); // every clip falls in exactly one bucket
  assert.throws(
    () => makeBucketedTarredDataset({ manifest: plainManifest, outDir: join(dir, 'x'), shards: 2, buckets: 3 }),
    /--buckets needs --min-duration and --max-duration/,
  );
  assert.throws(
    () => makeBucketedTarredDataset({ manifest: plainManifest, outDir: join(dir, 'y'), shards: 2, buckets: 3, minDuration: 0, maxDuration: 60 }),
    /bucket 2 \(durations \[20, 40\) s\): no entries left after the duration filters/,
  );
});

test("NeMo's batch sizes: an integer scales linearly (with weights, by NeMo's count of chained datasets), a list is as given", () => {
  const base: LayoutInput = {
    is_tarred: true,
    manifest_filepath: MANIFESTS,
    tarred_audio_filepaths: SHARDS,
    batch_size: 1,
    bucketing_weights: null,
    bucketing_batch_size: 8,
    bucketing_strategy: null,
  };
  const sizes = (o: Partial<LayoutInput>): readonly number[] | undefined => tarredLayout({ ...base, ...o }).layout?.batchSizes;
  assert.deepEqual(sizes({}), [24, 16, 8]); // the docs' example for 4 buckets is [32, 24, 16, 8]
  assert.deepEqual(sizes({ bucketing_weights: [2, 1, 1] }), [32, 24, 16]); // calc_bucketing_batch_sizes: scale = sum(weights) - i
  assert.deepEqual(sizes({ bucketing_batch_size: [5, 4, 3], bucketing_weights: [2, 1, 1] }), [5, 4, 3]);
  assert.deepEqual(sizes({ bucketing_batch_size: null, batch_size: 6 }), [6, 6, 6]); // fixed-size bucketing
  const l = tarredLayout({ ...base, bucketing_batch_size: null, batch_size: 6 }).layout!;
  assert.equal(l.strategy, 'synced_randomized'); // NeMo's default
  assert.deepEqual(l.buckets[0], { shards: SHARDS[0]![0], manifests: MANIFESTS[0] }); // a one-element list is its brace pattern
});

test('a bucketed epoch reads every utterance of every bucket weight times, never mixes buckets, at each bucket batch size', async () => {
  await withLoader(bucketedDs(), (d) => {
    const sizes = [4, 3, 2];
    const weights = [1, 2, 1];
    for (const epoch of [0, 1]) {
      const batches = epochOf(d, epoch);
      const seen = new Map<number, number>();
      for (const b of batches) {
        assert.ok(
          b.indices.every((i) => bucketOf(d, i) === b.bucket),
          `batch ${b.batchInEpoch} of bucket ${b.bucket} holds another bucket's utterance`,
        );
        assert.ok(b.indices.length <= sizes[b.bucket]!);
        for (const i of b.indices) seen.set(i, (seen.get(i) ?? 0) + 1);
      }
      assert.equal(seen.size, d.manifests.entries.length);
      for (const [i, n] of seen) assert.equal(n, weights[bucketOf(d, i)], `entry ${i}`);
      // each pass cuts its bucket's utterances into full batches and one short last batch
      const perPass = made.buckets.map((b, k) => Math.ceil(b.entries / sizes[k]!));
      assert.equal(
        batches.length,
        perPass.reduce((a, n, k) => a + n * weights[k]!, 0),
      );
      assert.equal(d.sampler.batchesPerEpoch, batches.length);
      assert.deepEqual(passes(batches), [0, 1, 2]); // fixed_order: bucket 1 is read twice in a row, every epoch
      for (const [k, b] of made.buckets.entries()) {
        const pass = [
          ...Array.from({ length: Math.floor(b.entries / sizes[k]!) }, () => sizes[k]!),
          ...(b.entries % sizes[k]! > 0 ? [b.entries % sizes[k]!] : []),
        ];
        assert.deepEqual(
          batches.filter((x) => x.bucket === k).map((x) => x.indices.length),
          Array.from({ length: weights[k]! }, () => pass).flat(),
          `bucket ${k}`,
        );
      }
    }
    assert.match(
      d.describe(),
      /tarred, 6 of 6 shards \(scatter\) in 3 buckets read fixed_order, about 16 batches per epoch over all ranks \(batch sizes 4\/3\/2, weights 1\/2\/1, shuffle_n 8\)/,
    );
  });
});

test('the loader decodes bucketed batches: the same utterances as the sampler drew, one bucket per batch', async () => {
  const planned = await withLoader(bucketedDs(), (d) => draw(d, 5));
  await withLoader(bucketedDs(), async (d) => {
    for (const p of planned) {
      const b = await d.loader.next();
      assert.deepEqual(b.indices, p.indices);
      assert.equal(b.batchSize, p.indices.length);
      assert.ok(b.audioLens.every((n) => n > 2.5 * 16000));
    }
  });
});

test('synced_randomized: every rank reads the buckets in the same order, a new one each epoch; fully_randomized: per rank', async () => {
  const orders = async (strategy: string, rank: number): Promise<number[][]> =>
    withLoader(
      bucketedDs({ bucketing_strategy: strategy }),
      (d) => [0, 1, 2, 3, 4, 5].map((e) => passes(epochOf(d, e))),
      { shard: { rank, world: 2 } }, // scatter: each rank reads one of each bucket's two shards
    );
  const s0 = await orders('synced_randomized', 0);
  const s1 = await orders('synced_randomized', 1);
  assert.deepEqual(s0, s1);
  assert.ok(
    s0.some((o) => o.join() !== s0[0]!.join()),
    `the order never changes: ${JSON.stringify(s0)}`,
  );
  const f0 = await orders('fully_randomized', 0);
  const f1 = await orders('fully_randomized', 1);
  assert.notDeepEqual(f0, f1);
  // the ranks read disjoint shards: no utterance on both
  const utterances = (rank: number): Promise<Set<number>> =>
    withLoader(bucketedDs({ bucketing_strategy: 'synced_randomized' }), (d) => new Set(epochOf(d, 0).flatMap((b) => b.indices)), { shard: { rank, world: 2 } });
  const [u0, u1] = [await utterances(0), await utterances(1)];
  assert.ok([...u0].every((i) => !u1.has(i)));
});

test('resume is exact: a state taken mid-epoch (mid-bucket) gives the remaining batches and the next epoch unchanged', async () => {
  const ds = bucketedDs({ bucketing_strategy: 'synced_randomized' });
  const whole = await withLoader(ds, (d) => draw(d, 40).map((b) => [b.epoch, b.bucket, ...b.indices]));
  for (const k of [7, 13]) {
    const state = await withLoader(ds, (d) => {
      draw(d, k);
      return d.sampler.state();
    });
    const rest = await withLoader(ds, (d) => draw(d, 40 - k).map((b) => [b.epoch, b.bucket, ...b.indices]), { state });
    assert.deepEqual(rest, whole.slice(k), `resumed after ${k} batches`);
  }
  // through the loader (decoded), as the trainer saves it
  const state = await withLoader(ds, async (d) => {
    for (let i = 0; i < 3; i++) await d.loader.next();
    return d.loader.state();
  });
  const next = await withLoader(ds, async (d) => (await d.loader.next()).indices, { state });
  assert.deepEqual(next, whole[3]!.slice(2));
});

test('bad bucketed configs are errors naming the key', () => {
  const fails = (o: Record<string, unknown>, re: RegExp): void => {
    assert.throws(() => createDatasetLoader(bucketedDs(o), { seed: 1, baseDir: REPO_ROOT, where: 'model.train_ds' }), re);
  };
  fails(
    { manifest_filepath: MANIFESTS.slice(0, 2) },
    /model\.train_ds\.manifest_filepath: 2 buckets of manifests for the 3 buckets of shards in tarred_audio_filepaths/,
  );
  fails({ manifest_filepath: MANIFESTS[0]![0] }, /model\.train_ds\.manifest_filepath: 1 bucket of manifests for the 3 buckets/);
  fails({ tarred_audio_filepaths: [SHARDS[0], SHARDS[1]![0]] }, /model\.train_ds\.tarred_audio_filepaths: a list of lists .* not a mixture/);
  fails({ tarred_audio_filepaths: [SHARDS[0], [], SHARDS[2]] }, /model\.train_ds\.tarred_audio_filepaths: bucket 2 must be a non-empty list of paths/);
  fails({ bucketing_weights: [1, 2] }, /model\.train_ds\.bucketing_weights: 2 weights for 3 buckets/);
  fails({ bucketing_weights: [1, 0.5, 1] }, /model\.train_ds\.bucketing_weights: bucket weights must be positive integers/);
  fails({ batch_size: 4 }, /model\.train_ds\.batch_size: must be 1 when bucketing_batch_size is set/);
  fails({ bucketing_batch_size: [4, 3] }, /model\.train_ds\.bucketing_batch_size: 2 batch sizes for 3 buckets/);
  fails({ bucketing_batch_size: 'big' }, /model\.train_ds\.bucketing_batch_size: expected a positive integer or a list of them/);
  fails({ bucketing_strategy: 'synced' }, /model\.train_ds\.bucketing_strategy: expected one of fixed_order, synced_randomized, fully_randomized/);
  fails(
    { manifest_filepath: MANIFESTS[0]![0], tarred_audio_filepaths: SHARDS[0]![0], bucketing_weights: null },
    /model\.train_ds\.bucketing_batch_size: needs two or more buckets/,
  );
  fails(
    { is_tarred: false, manifest_filepath: plainManifest },
    /model\.train_ds\.bucketing_weights: only for tarred datasets[\s\S]*bucketing_batch_size: only for tarred/,
  );
  fails(
    { is_tarred: false, bucketing_weights: null, bucketing_batch_size: null },
    /model\.train_ds\.manifest_filepath: a list of lists .* only for tarred datasets/,
  );
  // a bucket with fewer shards than ranks (scatter): named by its index
  assert.throws(
    () =>
      createDatasetLoader(bucketedDs({ tarred_audio_filepaths: [[join(made.buckets[0]!.dir, 'audio_0.tar')], SHARDS[1], SHARDS[2]] }), {
        seed: 1,
        baseDir: REPO_ROOT,
        where: 'model.train_ds',
        shard: { rank: 1, world: 2 },
      }),
    /model\.train_ds\.tarred_audio_filepaths\[0\]: no shards for rank 1 \(1 shards over 2 ranks under scatter\)/,
  );
});

test('pretrain: the schema honours the bucketed keys and refuses bad ones by key and line; its output drives the loader', async () => {
  const list = (l: string[][]): string => `[${l.map((b) => `[${b.join(',')}]`).join(',')}]`;
  const overrides = [
    '++model.train_ds.is_tarred=true',
    `++model.train_ds.tarred_audio_filepaths=${list(SHARDS)}`,
    `model.train_ds.manifest_filepath=${list(MANIFESTS)}`,
    'model.train_ds.batch_size=1',
    '++model.train_ds.bucketing_batch_size=2',
    '++model.train_ds.bucketing_weights=[1,1,2]',
    '++model.train_ds.bucketing_strategy=fully_randomized',
    'model.train_ds.noise_manifest=null',
    'model.validation_ds.manifest_filepath=val.json',
  ];
  const { config, warnings } = loadConfig('tiny', overrides);
  assert.ok(!warnings.some((w) => /bucketing/.test(w)), warnings.join('\n'));
  const ds = config.model.train_ds;
  assert.deepEqual([ds.bucketing_batch_size, ds.bucketing_weights, ds.bucketing_strategy], [2, [1, 1, 2], 'fully_randomized']);
  await withLoader(ds as unknown as Record<string, unknown>, (d) => {
    const sizes = [8, 6, 4]; // 2 x (4 - i): NeMo counts the chained datasets, 1 + 1 + 2
    for (const b of epochOf(d, 0)) assert.ok(b.indices.length <= sizes[b.bucket]!);
    assert.match(d.describe(), /batch sizes 8\/6\/4, weights 1\/1\/2/);
  });
  const issue = (extra: string[]): ConfigError => {
    try {
      loadConfig('tiny', [...overrides, ...extra]);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e;
    }
    assert.fail(`no ConfigError for ${extra.join(' ')}`);
  };
  const mismatch = issue([`model.train_ds.manifest_filepath=${list(MANIFESTS.slice(1))}`]);
  assert.deepEqual(
    mismatch.issues.map((i) => i.path),
    ['model.train_ds.manifest_filepath'],
  );
  assert.match(mismatch.message, /model\.train_ds\.manifest_filepath \(override .*\): 2 buckets of manifests for the 3 buckets of shards/);
  assert.deepEqual(
    issue(['model.train_ds.batch_size=8', '++model.train_ds.bucketing_weights=[1,2]']).issues.map((i) => i.path),
    ['model.train_ds.bucketing_weights', 'model.train_ds.batch_size'],
  );
});

test('finetune: its loader reads the bucketed dataset, validated by the fine-tuning schema, with the transcripts', async () => {
  const { loadFinetuneConfig } = await import('../../src/train/ctc-finetuning.js');
  const loaded = loadFinetuneConfig('ctc_tiny', stringify(loadConfig('tiny').raw.model), [
    '++model.train_ds.is_tarred=true',
    `++model.train_ds.tarred_audio_filepaths=${JSON.stringify(SHARDS)}`,
    `model.train_ds.manifest_filepath=${JSON.stringify(MANIFESTS)}`,
    'model.train_ds.batch_size=1',
    '++model.train_ds.bucketing_batch_size=[4,3,2]',
  ]);
  await withLoader(loaded.config.model.train_ds as unknown as Record<string, unknown>, (d) => {
    const batches = epochOf(d, 0); // drop_last (ctc_tiny): each pass drops its short last batch
    assert.ok(batches.length > 0 && batches.every((b) => b.indices.length === [4, 3, 2][b.bucket]));
    const texts = new Set(batches.flatMap((b) => b.indices.map((i) => d.manifests.entries[i]!.text)));
    assert.ok([...texts].every((t) => corpus.some((c) => c.text === t)));
    assert.ok(texts.size > corpus.length / 2);
  });
});
