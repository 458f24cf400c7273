// model.train_ds / model.validation_ds — NeMo's AudioNoiseDataset / TarredAudioNoiseDataset config (spec 03, 06 §6) and the
// NEST batch augmentor MultiSpeakerNoiseAugmentation (spec 03 §2).

import type { KeyTable } from '../key-status.js';
import { isEmpty, isOneOf, noEffect, noEffectAll, refuseUnless, refuseWhen } from '../key-status.js';
import { type ConfigValue, formatPath } from '../config-tree.js';
import type { SectionReader } from '../section-reader.js';
import { REQUIRED, describeValue } from '../section-reader.js';
import { type BucketingStrategy, tarredLayout } from './bucketing.js';

const CONCAT_ONLY = 'only with is_concat: true, which is not supported';

/** model.train_ds / model.validation_ds keys (NeMo's AudioNoiseDataset config, get_audio_noise_dataset_from_config). */
export const DATASET_KEYS: KeyTable = {
  paths: ['model.train_ds', 'model.validation_ds'],
  trainingOnly: true,
  honoured: [
    'manifest_filepath',
    'noise_manifest',
    'sample_rate',
    'batch_size',
    'shuffle',
    'num_workers',
    'min_duration',
    'max_duration',
    'drop_last',
    'skip_bad_audio',
    'batch_augmentor',
    'is_tarred',
    'tarred_audio_filepaths',
    'shuffle_n',
    'tarred_shard_strategy',
    'bucketing_weights',
    'bucketing_batch_size',
    'bucketing_strategy',
  ],
  refused: {
    is_concat: refuseUnless(
      'concatenated datasets with a sampling technique are not implemented; list the manifests in manifest_filepath (read one after the other)',
      [false],
    ),
    use_lhotse: refuseUnless(
      "NeMo's Lhotse data pipeline (duration-based batches, its own sampling) is not implemented; use manifest_filepath and batch_size",
      [false],
    ),
    trim_silence: refuseUnless('silence trimming is not implemented; the audio is used as read', [false]),
    int_values: refuseUnless('audio is always read as floats in [-1, 1]; integer sample values are not implemented', [false]),
    channel_selector: refuseUnless('multi-channel audio is always averaged to mono; selecting channels is not implemented', ['average']),
    max_utts: refuseWhen('limiting the number of utterances is not implemented; shorten the manifest', '0 or null', (v) => v === null || v === 0),
    augmentor: refuseWhen(
      'per-utterance audio augmentation (perturbations) is not implemented; only batch_augmentor (noise and speech mixing)',
      'null or empty',
      isEmpty,
    ),
  },
  noEffect: {
    pin_memory: noEffect('data loading speed only'),
    ...noEffectAll(['use_start_end_token', 'labels', 'parser'], 'text settings: pretraining reads no transcripts'),
    return_sample_id: noEffect('batches carry no sample ids', isOneOf([false])),
    ...noEffectAll(
      [
        'concat_sampling_technique',
        'concat_sampling_temperature',
        'concat_sampling_scale',
        'concat_sampling_probabilities',
        'concat_shuffle',
        'concat_sampling_seed',
      ],
      CONCAT_ONLY,
    ),
  },
};

/** model.train_ds.batch_augmentor keys (MultiSpeakerNoiseAugmentation). */
export const BATCH_AUGMENTOR_KEYS: KeyTable = {
  paths: ['model.train_ds.batch_augmentor', 'model.validation_ds.batch_augmentor'],
  trainingOnly: true,
  honoured: [
    '_target_',
    'prob',
    'noise_ratio',
    'min_r_speech',
    'max_r_speech',
    'min_r_noise',
    'max_r_noise',
    'min_mix_rate',
    'max_mix_rate',
    'min_num_segments',
    'max_num_segments',
    'min_num_speakers',
    'max_num_speakers',
  ],
  refused: {},
  noEffect: {},
};

export interface BatchAugmentorConfig {
  readonly prob: number;
  readonly noise_ratio: number;
  readonly min_r_speech: number;
  readonly max_r_speech: number;
  readonly min_r_noise: number;
  readonly max_r_noise: number;
  readonly min_mix_rate: number;
  readonly max_mix_rate: number;
  readonly min_num_segments: number;
  readonly max_num_segments: number;
  readonly min_num_speakers: number;
  readonly max_num_speakers: number;
}

/** A path, a list of paths, or (bucketed tarred datasets) one list of paths per bucket. */
export type PathsOrBuckets = string | readonly string[] | readonly (readonly string[])[];

export interface DatasetConfig {
  /** One manifest, a comma-separated list, or a list of manifests (JSON lines); bucketed tarred: one list per bucket. */
  /** null as NeMo stores it in .nemo archives (datasets are not needed to load a model); training then asks for one. */
  readonly manifest_filepath: PathsOrBuckets | null;
  readonly noise_manifest: string | readonly string[] | null;
  readonly sample_rate: number;
  readonly batch_size: number;
  readonly shuffle: boolean;
  readonly num_workers: number;
  readonly min_duration: number | null;
  readonly max_duration: number | null;
  readonly drop_last: boolean;
  /** streamnest: skip unreadable audio instead of failing. */
  readonly skip_bad_audio: boolean;
  /** null: no batch augmentation (noisy audio = audio + noise). */
  readonly batch_augmentor: BatchAugmentorConfig | null;
  /** NeMo tarred dataset: the manifest's audio_filepath names members of the tarred_audio_filepaths shards. */
  readonly is_tarred: boolean;
  /** A brace pattern (audio_{0..511}.tar, or with NeMo's _OP_/_CL_ spelling), a list of shard paths, or one list per bucket. */
  readonly tarred_audio_filepaths: PathsOrBuckets | null;
  /** Sample shuffle buffer when shuffling; null: NeMo's 4 * batch_size. */
  readonly shuffle_n: number | null;
  /** Data parallel: each rank reads its own slice of the shards (scatter) or all of them (replicate). */
  readonly tarred_shard_strategy: 'scatter' | 'replicate';
  /** Bucketed tarred datasets: passes over each bucket per epoch (null: once each). */
  readonly bucketing_weights: readonly number[] | null;
  /** Bucketed tarred datasets: per-bucket batch sizes (an integer scales linearly, NeMo's rule; batch_size is then 1). */
  readonly bucketing_batch_size: number | readonly number[] | null;
  /** The order of the buckets in each epoch. */
  readonly bucketing_strategy: BucketingStrategy;
}

/** A path or a non-empty list of paths; `v` is the key's value, read once (reading ??? again would report it twice). */
function readPaths(r: SectionReader, key: string, required: boolean, v: ConfigValue | undefined): string | string[] | null {
  if (v === undefined || v === null) {
    if (required && !r.has(key)) r.problem(key, 'required key is missing (a manifest path or a list of them)');
    return null;
  }
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
  r.problem(key, `expected a path or a list of paths; got ${describeValue(v)}`);
  return null;
}

function readBatchAugmentor(r: SectionReader): BatchAugmentorConfig {
  r.classify(BATCH_AUGMENTOR_KEYS);
  r.target('MultiSpeakerNoiseAugmentation');
  const unit = { min: 0, max: 1 } as const;
  const c: BatchAugmentorConfig = {
    prob: r.number('prob', 0.0, unit),
    noise_ratio: r.number('noise_ratio', 0.0, unit),
    min_r_speech: r.number('min_r_speech', -5.0),
    max_r_speech: r.number('max_r_speech', 5.0),
    min_r_noise: r.number('min_r_noise', -5.0),
    max_r_noise: r.number('max_r_noise', 20.0),
    min_mix_rate: r.number('min_mix_rate', 0.0, unit),
    max_mix_rate: r.number('max_mix_rate', 1.0, unit),
    min_num_segments: r.int('min_num_segments', 1, { min: 1 }),
    max_num_segments: r.int('max_num_segments', 5, { min: 1 }),
    min_num_speakers: r.int('min_num_speakers', 1, { min: 1 }),
    max_num_speakers: r.int('max_num_speakers', 4, { min: 1 }),
  };
  const ordered: [keyof BatchAugmentorConfig, keyof BatchAugmentorConfig][] = [
    ['min_r_speech', 'max_r_speech'],
    ['min_r_noise', 'max_r_noise'],
    ['min_mix_rate', 'max_mix_rate'],
    ['min_num_segments', 'max_num_segments'],
    ['min_num_speakers', 'max_num_speakers'],
  ];
  for (const [lo, hi] of ordered) {
    if (c[lo] > c[hi]) r.problem(hi, `must be >= ${lo} (${c[lo]}); got ${c[hi]}`);
  }
  r.finish();
  return c;
}

/** `table`: the keys of the training that reads it (DATASET_KEYS: NEST pretraining's AudioNoiseDataset). */
export function readDatasetConfig(r: SectionReader, defaultSampleRate: number, table: KeyTable = DATASET_KEYS): DatasetConfig {
  r.classify(table);
  const manifest_filepath = readPathsOrBuckets(r, 'manifest_filepath', true);
  const noise_manifest = readPaths(r, 'noise_manifest', false, r.value('noise_manifest'));
  const aug = r.value('batch_augmentor');
  const batch_augmentor = aug === undefined || aug === null ? null : readBatchAugmentor(r.section('batch_augmentor', false));
  const min_duration = r.nullableNumber('min_duration', null, { min: 0 });
  const max_duration = r.nullableNumber('max_duration', null, { min: 0, minExclusive: true });
  if (min_duration !== null && max_duration !== null && min_duration > max_duration) {
    r.problem('max_duration', `must be >= min_duration (${min_duration}); got ${max_duration}`);
  }
  const batch_size = r.int('batch_size', REQUIRED, { min: 1 });
  const config: DatasetConfig = {
    manifest_filepath,
    noise_manifest,
    sample_rate: r.int('sample_rate', defaultSampleRate, { min: 1 }),
    batch_size,
    shuffle: r.bool('shuffle', false),
    num_workers: r.int('num_workers', 0, { min: 0 }),
    min_duration,
    max_duration,
    drop_last: r.bool('drop_last', false),
    skip_bad_audio: r.bool('skip_bad_audio', false),
    batch_augmentor,
    ...readTarred(r, manifest_filepath, batch_size),
  };
  r.finish();
  return config;
}

/** readPaths, or one non-empty list of paths per bucket (bucketed tarred datasets). */
function readPathsOrBuckets(r: SectionReader, key: string, required: boolean): PathsOrBuckets | null {
  const v = r.value(key);
  if (Array.isArray(v) && v.length > 0 && v.every((b) => Array.isArray(b))) {
    if (v.every((b) => Array.isArray(b) && b.length > 0 && b.every((x) => typeof x === 'string'))) return v as string[][];
    r.problem(key, `expected one non-empty list of paths per bucket; got ${describeValue(v)}`);
    return null;
  }
  return readPaths(r, key, required, v);
}

type TarredKeys =
  | 'is_tarred'
  | 'tarred_audio_filepaths'
  | 'shuffle_n'
  | 'tarred_shard_strategy'
  | 'bucketing_weights'
  | 'bucketing_batch_size'
  | 'bucketing_strategy';

/**
 * The tarred keys, checked together by tarredLayout (bucketing.ts: the data loader applies the same rules). A stored
 * model's configuration keeps NeMo's training values, which need not hold here: only training refuses them.
 */
function readTarred(r: SectionReader, manifest_filepath: PathsOrBuckets | null, batch_size: number): Pick<DatasetConfig, TarredKeys> {
  const is_tarred = r.bool('is_tarred', false);
  const tarred = r.has('tarred_audio_filepaths') ? readPathsOrBuckets(r, 'tarred_audio_filepaths', false) : null;
  const weights = r.value('bucketing_weights');
  const sizes = r.value('bucketing_batch_size');
  const { layout, strategy, problems } = tarredLayout({
    is_tarred,
    manifest_filepath,
    tarred_audio_filepaths: tarred,
    batch_size,
    bucketing_weights: weights,
    bucketing_batch_size: sizes,
    bucketing_strategy: r.value('bucketing_strategy'),
  });
  const reported = new Set(r.ctx.issues.map((i) => i.path));
  for (const p of problems) {
    if (reported.has(formatPath(r.keyPath(p.key)))) continue; // its shape was reported already
    if (r.ctx.training) r.problem(p.key, p.message);
    else r.ctx.warnings.push(`${formatPath(r.keyPath(p.key))}: ${p.message} (refused for training; accepted in a stored model's configuration)`);
  }
  return {
    is_tarred,
    tarred_audio_filepaths: tarred,
    shuffle_n: r.nullableInt('shuffle_n', null, { min: 0 }),
    tarred_shard_strategy: r.oneOf('tarred_shard_strategy', ['scatter', 'replicate'] as const, 'scatter'),
    bucketing_weights: layout && Array.isArray(weights) && weights.length > 0 ? layout.weights : null,
    bucketing_batch_size: layout && sizes !== undefined && sizes !== null ? (sizes as number | number[]) : null,
    bucketing_strategy: strategy,
  };
}
