// NeMo's tarred dataset layout of a train_ds / validation_ds section: one tarred dataset (one bucket), or a bucketed
// one (tarred_audio_filepaths and manifest_filepath as lists of lists, one per duration bucket), with
// bucketing_weights, bucketing_batch_size and bucketing_strategy checked and resolved as NeMo does. A pure function of
// the section's values, so the schema (readDatasetConfig) and the data loader (createDatasetLoader, which fine-tuning
// reaches without the schema) apply the same rules and name the same keys.
// Provenance: nemo.collections.asr.data.audio_to_text_dataset (get_tarred_dataset, convert_to_config_list,
// get_chain_dataset, calc_bucketing_batch_sizes).

export const BUCKETING_STRATEGIES = ['fixed_order', 'synced_randomized', 'fully_randomized'] as const;
/** fixed_order: buckets in their order every epoch; synced_randomized: shuffled per epoch, the same on every rank; fully_randomized: per rank. */
export type BucketingStrategy = (typeof BUCKETING_STRATEGIES)[number];

/** One bucket: its shards (a brace pattern, or a list of paths taken as is) and its manifests. */
export interface TarredBucketSpec {
  readonly shards: string | readonly string[];
  readonly manifests: readonly string[];
}

export interface TarredLayout {
  readonly buckets: readonly TarredBucketSpec[];
  /** Passes over each bucket per epoch (bucketing_weights; 1 each without). */
  readonly weights: readonly number[];
  /** Batch size of each bucket (bucketing_batch_size by NeMo's rules; batch_size for every bucket without). */
  readonly batchSizes: readonly number[];
  readonly strategy: BucketingStrategy;
}

/** The section's values the layout depends on (raw, as in the YAML tree). */
export interface LayoutInput {
  readonly is_tarred: unknown;
  readonly manifest_filepath: unknown;
  readonly tarred_audio_filepaths: unknown;
  readonly batch_size: unknown;
  readonly bucketing_weights: unknown;
  readonly bucketing_batch_size: unknown;
  readonly bucketing_strategy: unknown;
}

export interface KeyProblem {
  readonly key: string;
  readonly message: string;
}

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
/** NeMo's `if bucketing_weights:`: null and an empty list mean none. */
const unset = (v: unknown): boolean => v === undefined || v === null || (Array.isArray(v) && v.length === 0);

/**
 * NeMo's convert_to_config_list: a string is split at commas and a list of strings is one bucket; a list of lists is
 * one bucket per inner list. A list mixing strings and lists, or an empty bucket, is a problem at `key`.
 */
function bucketLists(key: string, v: unknown, problems: KeyProblem[]): string[][] | null {
  if (isString(v)) return [v.split(',').map((s) => s.trim())];
  if (!Array.isArray(v) || v.length === 0) {
    problems.push({ key, message: `expected a path, a list of paths, or a list of lists of paths (one per bucket); got ${show(v)}` });
    return null;
  }
  if (v.every(isString)) return [v];
  if (!v.every((b) => Array.isArray(b))) {
    problems.push({ key, message: 'a list of lists (one list per bucket) or a list of paths, not a mixture of both (NeMo refuses it too)' });
    return null;
  }
  const bad = v.findIndex((b: unknown[]) => b.length === 0 || !b.every(isString));
  if (bad >= 0) {
    problems.push({ key, message: `bucket ${bad + 1} must be a non-empty list of paths; got ${show(v[bad])}` });
    return null;
  }
  return v as string[][];
}

/** bucketing_weights: one positive integer per bucket, or null. */
function readWeights(v: unknown, buckets: number, problems: KeyProblem[]): number[] {
  const ones = Array.from({ length: buckets }, () => 1);
  if (unset(v)) return ones;
  if (!Array.isArray(v) || !v.every(isPositiveInt)) {
    problems.push({ key: 'bucketing_weights', message: `bucket weights must be positive integers (one per bucket), as NeMo requires; got ${show(v)}` });
    return ones;
  }
  if (v.length !== buckets) {
    problems.push({ key: 'bucketing_weights', message: `${v.length} weights for ${buckets} bucket${buckets === 1 ? '' : 's'}: give one per bucket` });
    return ones;
  }
  return v;
}

/**
 * NeMo's calc_bucketing_batch_sizes, per bucket. An integer n scales linearly: bucket i (from 0) gets n * (D - i),
 * where D is NeMo's count of chained datasets, the sum of the weights (so [32, 24, 16, 8] for n = 8 and 4 buckets
 * without weights; with bucketing_weights the sizes grow with the sum, as in NeMo's code). A list is taken as given,
 * one size per bucket. Either way batch_size must be 1 (NeMo's DataLoader then takes one bucket batch at a time).
 */
function readBatchSizes(v: unknown, batchSize: unknown, weights: readonly number[], problems: KeyProblem[]): number[] {
  const fixed = weights.map(() => (isPositiveInt(batchSize) ? batchSize : 1));
  if (v === undefined || v === null) return fixed;
  const chained = weights.reduce((a, w) => a + w, 0);
  if (chained < 2) {
    problems.push({
      key: 'bucketing_batch_size',
      message:
        'needs two or more buckets (or bucketing_weights reading one more than once); NeMo ignores it for a single dataset and batches by batch_size: set it to null',
    });
    return fixed;
  }
  if (batchSize !== 1) {
    problems.push({
      key: 'batch_size',
      message: `must be 1 when bucketing_batch_size is set (NeMo's rule: each bucket batch is one item of its DataLoader); got ${show(batchSize)}`,
    });
  }
  if (isPositiveInt(v)) return weights.map((_, i) => v * (chained - i));
  if (Array.isArray(v) && v.every(isPositiveInt)) {
    if (v.length === weights.length) return v;
    problems.push({ key: 'bucketing_batch_size', message: `${v.length} batch sizes for ${weights.length} buckets: give one per bucket (or one integer)` });
    return fixed;
  }
  problems.push({ key: 'bucketing_batch_size', message: `expected a positive integer or a list of them (one per bucket); got ${show(v)}` });
  return fixed;
}

/** bucketing_strategy: one of NeMo's three (synced_randomized when unset). */
function readStrategy(v: unknown, problems: KeyProblem[]): BucketingStrategy {
  if (v === undefined || v === null) return 'synced_randomized';
  if ((BUCKETING_STRATEGIES as readonly unknown[]).includes(v)) return v as BucketingStrategy;
  problems.push({ key: 'bucketing_strategy', message: `expected one of ${BUCKETING_STRATEGIES.join(', ')}; got ${show(v)}` });
  return 'synced_randomized';
}

/** Bucketed values in a section that is not tarred: NeMo reads them only in its tarred datasets. */
function notTarredProblems(v: LayoutInput): KeyProblem[] {
  const problems: KeyProblem[] = [];
  const why = "only for tarred datasets (is_tarred: true): NeMo's other datasets do not bucket";
  if (Array.isArray(v.manifest_filepath) && v.manifest_filepath.some((m) => Array.isArray(m)))
    problems.push({ key: 'manifest_filepath', message: `a list of lists (one manifest list per bucket) is ${why}; give a path or a list of paths` });
  if (!unset(v.bucketing_weights)) problems.push({ key: 'bucketing_weights', message: `${why}; set it to null` });
  if (v.bucketing_batch_size !== undefined && v.bucketing_batch_size !== null)
    problems.push({ key: 'bucketing_batch_size', message: `${why}; set it to null` });
  return problems;
}

/**
 * The tarred layout of a dataset section, or null when it is not tarred, with every problem by key. A plain tarred
 * dataset is one bucket; a bucketed one needs as many manifest lists as lists of shards.
 */
export function tarredLayout(v: LayoutInput): { layout: TarredLayout | null; strategy: BucketingStrategy; problems: KeyProblem[] } {
  const problems: KeyProblem[] = [];
  const strategy = readStrategy(v.bucketing_strategy, problems);
  if (v.is_tarred !== true) return { layout: null, strategy, problems: [...problems, ...notTarredProblems(v)] };
  if (v.tarred_audio_filepaths === undefined || v.tarred_audio_filepaths === null || v.tarred_audio_filepaths === '') {
    problems.push({
      key: 'tarred_audio_filepaths',
      message: 'is_tarred: true needs the shards (a brace pattern such as audio_{0..511}.tar, a list of paths, or one list per bucket)',
    });
    return { layout: null, strategy, problems };
  }
  // a plain list of shards stays one list (taken as is); a string is one brace pattern
  const shards =
    isString(v.tarred_audio_filepaths) || (Array.isArray(v.tarred_audio_filepaths) && v.tarred_audio_filepaths.every(isString))
      ? [v.tarred_audio_filepaths as string | string[]]
      : bucketLists('tarred_audio_filepaths', v.tarred_audio_filepaths, problems);
  const manifests = v.manifest_filepath === undefined || v.manifest_filepath === null ? null : bucketLists('manifest_filepath', v.manifest_filepath, problems);
  if (shards === null || manifests === null) return { layout: null, strategy, problems };
  if (manifests.length !== shards.length) {
    problems.push({
      key: 'manifest_filepath',
      message: `${manifests.length} bucket${manifests.length === 1 ? '' : 's'} of manifests for the ${shards.length} buckets of shards in tarred_audio_filepaths: give one manifest list per list of shards, in the same order`,
    });
    return { layout: null, strategy, problems };
  }
  // NeMo: a bucket's one-element list is its brace pattern
  const buckets = shards.map((s, i) => ({ shards: Array.isArray(s) && s.length === 1 ? s[0]! : s, manifests: manifests[i]! }));
  const weights = readWeights(v.bucketing_weights, buckets.length, problems);
  const batchSizes = readBatchSizes(v.bucketing_batch_size, v.batch_size, weights, problems);
  return { layout: { buckets, weights, batchSizes, strategy }, strategy, problems };
}
