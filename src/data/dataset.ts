// Building a loader from a NeMo dataset section (model.train_ds / model.validation_ds): manifest_filepath,
// noise_manifest, sample_rate, batch_size, shuffle, drop_last, min_duration, max_duration, skip_bad_audio,
// num_workers, batch_augmentor; tarred datasets (is_tarred, tarred_audio_filepaths, shuffle_n, tarred_shard_strategy), bucketed
// ones too (lists of lists, bucketing_weights, bucketing_batch_size, bucketing_strategy: bucketing.ts checks them, as the
// schema does); plus streamnest's manifest_weights and prefetch. Other NeMo keys are ignored (the schema refuses those that matter).
import { isAbsolute, resolve } from 'node:path';
import { type TarredLayout, tarredLayout } from '../config/schema/bucketing.js';
import { augmentationFromConfig } from './noise-augmentation.js';
import { AudioLoader } from './loader.js';
import { formatManifestSummary, readManifests, splitManifestPaths, type ManifestSet } from './manifest.js';
import { BatchSampler, type SamplerState } from './sampler.js';
import { braceExpand, expandShardedFilepaths, normaliseBraces, type ShardStrategy } from './shard-paths.js';
import { TarredBatchSampler, type TarredBucket } from './tarred.js';
import type { BatchSource } from './loader.js';

export interface DatasetLoaderOptions {
  seed: number;
  /** Folder that relative manifest paths are resolved against (the repository root for the presets). */
  baseDir: string;
  /** Key path for error messages, e.g. "model.train_ds". */
  where?: string;
  /** Resume from a saved loader state. */
  state?: SamplerState;
  /** Data parallel: yield (and decode) only this rank's share of the common batch sequence (AudioLoader's shard). */
  shard?: { rank: number; world: number };
}

export interface DatasetLoader {
  loader: AudioLoader;
  sampler: BatchSource;
  manifests: ManifestSet;
  noise: ManifestSet | null;
  /** Human-readable summary of what was read and skipped. */
  describe(): string;
}

/** batch_size when the section has none. */
const DEFAULT_BATCH_SIZE = 8;

function opt<T>(ds: Record<string, unknown>, key: string, where: string, type: 'number' | 'boolean' | 'string', dflt: T): T {
  const v = ds[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== type) throw new Error(`${where}.${key}: expected a ${type}, got ${JSON.stringify(v)}`);
  return v as T;
}

function manifestPaths(v: unknown, key: string, baseDir: string): string[] {
  if (typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
    throw new Error(`${key}: expected a path, a comma-separated string or a list of paths, got ${JSON.stringify(v)}`);
  }
  return splitManifestPaths(v as string | string[]).map((p) => (isAbsolute(p) ? p : resolve(baseDir, p)));
}

/** NeMo's sharded manifests: a path with both _OP_ and _CL_ (manifest__OP_0..7_CL_.json) is brace-expanded. */
function expandShardedManifests(paths: string[]): string[] {
  return paths.flatMap((p) => (p.includes('_OP_') && p.includes('_CL_') ? braceExpand(normaliseBraces(p)) : [p]));
}

/** One bucket as this rank reads it: its shards and its (expanded) manifest paths. */
interface BucketSetup {
  shards: string[];
  /** Shards of the bucket over all ranks. */
  total: number;
  manifests: string[];
}

interface TarredSetup {
  layout: TarredLayout;
  buckets: BucketSetup[];
  strategy: ShardStrategy;
}

/**
 * The tarred layout (bucketing.ts, the schema's rules) with each bucket's shards for this rank (tarred_shard_strategy)
 * and manifests, resolved against baseDir; null when the section is not tarred. A problem is an error naming its key.
 */
function tarredSetup(ds: Record<string, unknown>, where: string, o: DatasetLoaderOptions): TarredSetup | null {
  const { layout, problems } = tarredLayout({
    is_tarred: ds.is_tarred,
    manifest_filepath: ds.manifest_filepath,
    tarred_audio_filepaths: ds.tarred_audio_filepaths,
    batch_size: ds.batch_size ?? DEFAULT_BATCH_SIZE,
    bucketing_weights: ds.bucketing_weights,
    bucketing_batch_size: ds.bucketing_batch_size,
    bucketing_strategy: ds.bucketing_strategy,
  });
  if (problems.length > 0) throw new Error(problems.map((p) => `${where}.${p.key}: ${p.message}`).join('\n'));
  if (layout === null) return null;
  const strategy = opt<string>(ds, 'tarred_shard_strategy', where, 'string', 'scatter');
  if (strategy !== 'scatter' && strategy !== 'replicate') throw new Error(`${where}.tarred_shard_strategy: 'scatter' or 'replicate', got '${strategy}'`);
  const world = o.shard?.world ?? 1;
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(o.baseDir, p));
  const buckets = layout.buckets.map((b, i) => {
    const key = layout.buckets.length > 1 ? `${where}.tarred_audio_filepaths[${i}]` : `${where}.tarred_audio_filepaths`;
    const warn = (m: string): void => process.emitWarning(`${key}: ${m}`, 'TarredDataset');
    const all = expandShardedFilepaths(b.shards, 'replicate', 1, 0).map(abs);
    const shards = expandShardedFilepaths(all, strategy, world, o.shard?.rank ?? 0, warn);
    if (shards.length === 0) throw new Error(`${key}: no shards for rank ${o.shard?.rank ?? 0} (${all.length} shards over ${world} ranks under ${strategy})`);
    return { shards, total: all.length, manifests: expandShardedManifests(manifestPaths(b.manifests, `${where}.manifest_filepath`, o.baseDir)) };
  });
  return { layout, buckets, strategy };
}

/** The sampler's buckets: each bucket's entries are those read from its own manifests (readManifests' source index). */
function samplerBuckets(t: TarredSetup, manifests: ManifestSet): TarredBucket[] {
  const bucketOfSource = t.buckets.flatMap((b, i) => b.manifests.map(() => i));
  const entries = t.buckets.map((): number[] => []);
  manifests.entries.forEach((e, i) => {
    entries[bucketOfSource[e.source]!]!.push(i);
  });
  return t.buckets.map((b, i) => ({ shards: b.shards, entries: entries[i]!, batchSize: t.layout.batchSizes[i]!, weight: t.layout.weights[i]! }));
}

/** The describe() line of a tarred dataset. */
function describeTarred(t: TarredSetup, batches: number, batchSize: number, shuffleN: number | null): string {
  const mine = t.buckets.reduce((a, b) => a + b.shards.length, 0);
  const total = t.buckets.reduce((a, b) => a + b.total, 0);
  const l = t.layout;
  const bucketed = t.buckets.length > 1 || l.weights[0] !== 1;
  const sizes = bucketed ? `batch sizes ${l.batchSizes.join('/')}, weights ${l.weights.join('/')}` : `batch_size ${batchSize}`;
  return (
    `tarred, ${mine} of ${total} shards (${t.strategy})${bucketed ? ` in ${t.buckets.length} buckets read ${l.strategy}` : ''}, ` +
    `about ${batches} batches per epoch over all ranks (${sizes}${shuffleN === null ? '' : `, shuffle_n ${shuffleN}`})`
  );
}

export function createDatasetLoader(ds: Record<string, unknown>, o: DatasetLoaderOptions): DatasetLoader {
  const where = o.where ?? 'dataset';
  if (ds.manifest_filepath === undefined || ds.manifest_filepath === null || ds.manifest_filepath === '???') {
    throw new Error(`${where}.manifest_filepath: required`);
  }
  const skipBad = opt(ds, 'skip_bad_audio', where, 'boolean', false);
  const minDuration = opt<number | undefined>(ds, 'min_duration', where, 'number', undefined);
  const maxDuration = opt<number | undefined>(ds, 'max_duration', where, 'number', undefined);
  const weights = ds.manifest_weights == null ? undefined : (ds.manifest_weights as number[]);
  const tarred = tarredSetup(ds, where, o);
  if (tarred && weights) throw new Error(`${where}.manifest_weights: not with is_tarred (the shards set what is read)`);
  const paths = tarred ? tarred.buckets.flatMap((b) => b.manifests) : manifestPaths(ds.manifest_filepath, `${where}.manifest_filepath`, o.baseDir);
  const manifests = readManifests(paths, {
    skipBad,
    minDuration,
    maxDuration,
    weights,
    checkFiles: !tarred, // a tarred manifest's audio_filepath names a member, not a file
  });
  const noise =
    ds.noise_manifest == null ? null : readManifests(manifestPaths(ds.noise_manifest, `${where}.noise_manifest`, o.baseDir), { skipBad, kind: 'noise' });
  const batchSize = opt(ds, 'batch_size', where, 'number', DEFAULT_BATCH_SIZE);
  const shuffle = opt(ds, 'shuffle', where, 'boolean', false);
  const dropLast = opt(ds, 'drop_last', where, 'boolean', false);
  // NeMo: shuffle_n = config.get('shuffle_n', 4 * batch_size) if shuffle else 0 (batch_size is 1 under bucketing_batch_size)
  const shuffleN = shuffle ? opt(ds, 'shuffle_n', where, 'number', 4 * batchSize) : 0;
  const sampler: BatchSource = tarred
    ? new TarredBatchSampler(
        samplerBuckets(tarred, manifests),
        manifests.entries,
        { seed: o.seed, shuffle, shuffleN, dropLast, rank: o.shard?.rank ?? 0, strategy: tarred.layout.strategy },
        o.state,
      )
    : new BatchSampler(
        manifests.entries.map((e) => ({ duration: e.duration, source: e.source })),
        { batchSize, seed: o.seed, shuffle, dropLast, weights, stepGroup: o.shard?.world ?? 1 },
        o.state,
      );
  const aug = ds.batch_augmentor == null ? null : augmentationFromConfig(ds.batch_augmentor as Record<string, unknown>, `${where}.batch_augmentor`);
  const workers = Math.min(2, Math.max(0, Math.floor(opt(ds, 'num_workers', where, 'number', 0))));
  const loader = new AudioLoader(manifests.entries, noise?.entries ?? [], sampler, {
    seed: o.seed,
    workers,
    shard: !tarred && o.shard && o.shard.world > 1 ? o.shard : undefined, // tarred: the shard files are split instead
    prefetch: opt(ds, 'prefetch', where, 'number', 2),
    build: { sampleRate: opt(ds, 'sample_rate', where, 'number', 16000), skipBadAudio: skipBad, augmentation: aug },
  });
  return {
    loader,
    sampler,
    manifests,
    noise,
    describe: () =>
      `${where}: ${formatManifestSummary(manifests)}\n` +
      (noise ? `${where}.noise_manifest: ${formatManifestSummary(noise)}\n` : '') +
      (tarred
        ? `${where}: ${describeTarred(tarred, sampler.batchesPerEpoch, batchSize, shuffle ? shuffleN : null)}`
        : `${where}: ${sampler.batchesPerEpoch} batches per epoch (batch_size ${batchSize}${shuffle ? ', shuffled, duration-bucketed' : ''})`),
  };
}
