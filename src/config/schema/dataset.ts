// model.train_ds / model.validation_ds — NeMo's AudioNoiseDataset / TarredAudioNoiseDataset config (spec 03, 06 §6) and the
// NEST batch augmentor MultiSpeakerNoiseAugmentation (spec 03 §2).

import type { KeyTable } from '../key-status.js';
import { isEmpty, isOneOf, noEffect, noEffectAll, refuseUnless, refuseWhen } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { REQUIRED, describeValue } from '../section-reader.js';

const NO_BUCKETS = 'bucketed tarred datasets (one list of shards per duration bucket) are not implemented';
const BUCKETS_ONLY = `only for ${NO_BUCKETS.replace(' are not implemented', ', which are not implemented')}`;
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
  ],
  refused: {
    bucketing_weights: refuseWhen(`${NO_BUCKETS}; bucket upsampling has nothing to act on`, 'null or empty', isEmpty),
    bucketing_batch_size: refuseWhen(`${NO_BUCKETS}; per-bucket batch sizes have nothing to act on`, 'null or empty', isEmpty),
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
    bucketing_strategy: noEffect(BUCKETS_ONLY),
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

export interface DatasetConfig {
  /** One manifest, a comma-separated list, or a list of manifests (JSON lines). */
  /** null as NeMo stores it in .nemo archives (datasets are not needed to load a model); training then asks for one. */
  readonly manifest_filepath: string | readonly string[] | null;
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
  /** A brace pattern (audio_{0..511}.tar, or with NeMo's _OP_/_CL_ spelling) or a list of shard paths. */
  readonly tarred_audio_filepaths: string | readonly string[] | null;
  /** Sample shuffle buffer when shuffling; null: NeMo's 4 * batch_size. */
  readonly shuffle_n: number | null;
  /** Data parallel: each rank reads its own slice of the shards (scatter) or all of them (replicate). */
  readonly tarred_shard_strategy: 'scatter' | 'replicate';
}

function readPaths(r: SectionReader, key: string, required: boolean): string | string[] | null {
  const v = r.value(key);
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

export function readDatasetConfig(r: SectionReader, defaultSampleRate: number): DatasetConfig {
  r.classify(DATASET_KEYS);
  const manifest_filepath = readPaths(r, 'manifest_filepath', true);
  const noise_manifest = readPaths(r, 'noise_manifest', false);
  const aug = r.value('batch_augmentor');
  const batch_augmentor = aug === undefined || aug === null ? null : readBatchAugmentor(r.section('batch_augmentor', false));
  const min_duration = r.nullableNumber('min_duration', null, { min: 0 });
  const max_duration = r.nullableNumber('max_duration', null, { min: 0, minExclusive: true });
  if (min_duration !== null && max_duration !== null && min_duration > max_duration) {
    r.problem('max_duration', `must be >= min_duration (${min_duration}); got ${max_duration}`);
  }
  const config: DatasetConfig = {
    manifest_filepath,
    noise_manifest,
    sample_rate: r.int('sample_rate', defaultSampleRate, { min: 1 }),
    batch_size: r.int('batch_size', REQUIRED, { min: 1 }),
    shuffle: r.bool('shuffle', false),
    num_workers: r.int('num_workers', 0, { min: 0 }),
    min_duration,
    max_duration,
    drop_last: r.bool('drop_last', false),
    skip_bad_audio: r.bool('skip_bad_audio', false),
    batch_augmentor,
    ...readTarred(r),
  };
  r.finish();
  return config;
}

function readTarred(r: SectionReader): Pick<DatasetConfig, 'is_tarred' | 'tarred_audio_filepaths' | 'shuffle_n' | 'tarred_shard_strategy'> {
  const is_tarred = r.bool('is_tarred', false);
  const spec = r.value('tarred_audio_filepaths');
  let tarred_audio_filepaths: string | string[] | null = null;
  if (Array.isArray(spec) && spec.some((x) => Array.isArray(x))) {
    r.problem('tarred_audio_filepaths', `${NO_BUCKETS}; give one brace pattern or one list of shards`);
  } else if (spec !== undefined && spec !== null) {
    tarred_audio_filepaths = readPaths(r, 'tarred_audio_filepaths', false);
  }
  // a stored model's configuration keeps NeMo's training paths, which need not exist here: only training needs shards
  if (is_tarred && r.ctx.training && (tarred_audio_filepaths === null || tarred_audio_filepaths === '')) {
    r.problem('tarred_audio_filepaths', 'is_tarred: true needs the shards (a brace pattern such as audio_{0..511}.tar, or a list of paths)');
  }
  return {
    is_tarred,
    tarred_audio_filepaths,
    shuffle_n: r.nullableInt('shuffle_n', null, { min: 0 }),
    tarred_shard_strategy: r.oneOf('tarred_shard_strategy', ['scatter', 'replicate'] as const, 'scatter'),
  };
}
