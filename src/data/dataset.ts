// Building a loader from a NeMo dataset section (model.train_ds / model.validation_ds): manifest_filepath,
// noise_manifest, sample_rate, batch_size, shuffle, drop_last, min_duration, max_duration, skip_bad_audio,
// num_workers, batch_augmentor; plus streamnest's manifest_weights and prefetch. Other NeMo keys are ignored.
import { isAbsolute, resolve } from 'node:path';
import { augmentationFromConfig } from './noise-augmentation.js';
import { AudioLoader } from './loader.js';
import { formatManifestSummary, readManifests, splitManifestPaths, type ManifestSet } from './manifest.js';
import { BatchSampler, type SamplerState } from './sampler.js';

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
  sampler: BatchSampler;
  manifests: ManifestSet;
  noise: ManifestSet | null;
  /** Human-readable summary of what was read and skipped. */
  describe(): string;
}

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

export function createDatasetLoader(ds: Record<string, unknown>, o: DatasetLoaderOptions): DatasetLoader {
  const where = o.where ?? 'dataset';
  if (ds.manifest_filepath === undefined || ds.manifest_filepath === null || ds.manifest_filepath === '???') {
    throw new Error(`${where}.manifest_filepath: required`);
  }
  const skipBad = opt(ds, 'skip_bad_audio', where, 'boolean', false);
  const minDuration = opt<number | undefined>(ds, 'min_duration', where, 'number', undefined);
  const maxDuration = opt<number | undefined>(ds, 'max_duration', where, 'number', undefined);
  const weights = ds.manifest_weights == null ? undefined : (ds.manifest_weights as number[]);
  const manifests = readManifests(manifestPaths(ds.manifest_filepath, `${where}.manifest_filepath`, o.baseDir), {
    skipBad,
    minDuration,
    maxDuration,
    weights,
  });
  const noise =
    ds.noise_manifest == null ? null : readManifests(manifestPaths(ds.noise_manifest, `${where}.noise_manifest`, o.baseDir), { skipBad, kind: 'noise' });
  const batchSize = opt(ds, 'batch_size', where, 'number', 8);
  const shuffle = opt(ds, 'shuffle', where, 'boolean', false);
  const sampler = new BatchSampler(
    manifests.entries.map((e) => ({ duration: e.duration, source: e.source })),
    { batchSize, seed: o.seed, shuffle, dropLast: opt(ds, 'drop_last', where, 'boolean', false), weights },
    o.state,
  );
  const aug = ds.batch_augmentor == null ? null : augmentationFromConfig(ds.batch_augmentor as Record<string, unknown>, `${where}.batch_augmentor`);
  const workers = Math.min(2, Math.max(0, Math.floor(opt(ds, 'num_workers', where, 'number', 0))));
  const loader = new AudioLoader(manifests.entries, noise?.entries ?? [], sampler, {
    seed: o.seed,
    workers,
    shard: o.shard && o.shard.world > 1 ? o.shard : undefined,
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
      `${where}: ${sampler.batchesPerEpoch} batches per epoch (batch_size ${batchSize}${shuffle ? ', shuffled, duration-bucketed' : ''})`,
  };
}
