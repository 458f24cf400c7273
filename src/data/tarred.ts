// NeMo tarred audio datasets: batches drawn from tar shards read front to back (headers only: a member's bytes are read
// by position when its batch is decoded, in the decode workers; a .tar.gz shard is decompressed as it is read and the
// bytes travel with the item), members matched to manifest entries by file name (NeMo's file id: the base name without
// its extension; a file with several manifest entries, e.g. offsets, gives one item per entry), a seeded shard order and a shuffle_n sample buffer, and batches of batch_size in stream order.
// A shard that cannot be read on (a truncated or corrupt tar) ends with a warning naming it; the epoch goes on.
// Bucketed datasets (NeMo's list of lists of shards) are read bucket by bucket in the order of bucket-chain.ts, each
// bucket with its own manifest entries, batch size and number of passes per epoch; a batch never mixes buckets (each
// pass ends with its own last, possibly short, batch; NeMo's fixed-batch-size chain cuts the concatenated stream, so
// there one batch at each bucket boundary can hold both buckets' utterances).
//
// Resume is exact: an epoch's stream depends only on (seed, rank, epoch), so a saved {epoch, position} is replayed by
// scanning the tar headers of the batches already taken, without decoding them (NeMo's webdataset pipeline keeps no
// position within an epoch to restore). NeMo's current pipeline applies shuffle_n to the shard list (wds.shuffle before
// tarfile_to_samples) and reads each shard in order; here the shard order is a full permutation and shuffle_n buffers
// the utterances, as webdataset's sample shuffle does, so batches mix across shards.
// Provenance: nemo.collections.asr.data.audio_to_text._TarredAudioToTextDataset (_filter, _loop_offsets, _build_sample)
// over webdataset's tarfile_to_samples and shuffle; BucketingDataset/BucketingIterator for per-bucket batches.
import { basename, extname } from 'node:path';
import type { BucketingStrategy } from '../config/schema/bucketing.js';
import { epochBucketOrder } from './bucket-chain.js';
import { GzipError, openArchiveStream, type OpenedArchive } from './byte-stream.js';
import type { AudioRef } from './decode.js';
import type { ManifestEntry } from './manifest.js';
import { Rng, mixSeed } from './rng.js';
import type { SamplerState } from './sampler.js';
import { TarError, TarReader } from './tar-stream.js';

/** NeMo's file id of an audio path or member name: the base name without its last extension. */
export function fileId(name: string): string {
  const b = basename(name);
  return b.slice(0, b.length - extname(b).length);
}

/** One bucket of a tarred dataset (a plain tarred dataset is one bucket read once per epoch). */
export interface TarredBucket {
  /** This rank's shards of the bucket (expandShardedFilepaths). */
  shards: readonly string[];
  /** Indices into the sampler's entries of the bucket's manifest entries: its members are matched against these only. */
  entries: readonly number[];
  batchSize: number;
  /** Passes over the bucket per epoch (bucketing_weights). */
  weight: number;
}

export interface TarredOptions {
  seed: number;
  /** Shuffle the shard order each epoch and draw items through the shuffle_n buffer (NeMo: shuffle_n = 0 when not shuffling). */
  shuffle: boolean;
  /** Sample buffer size (NeMo's default when shuffling: 4 * batch_size). */
  shuffleN: number;
  dropLast?: boolean;
  /** Salts the shuffles per rank (replicated shards must not be read in the same order by every rank). */
  rank?: number;
  /** The order of the buckets in an epoch (default synced_randomized; one bucket read once has one order). */
  strategy?: BucketingStrategy;
  /** Warnings (a truncated or corrupt shard, members without a manifest entry). */
  warn?: (message: string) => void;
}

/** One item of the stream: the manifest entry and the member holding its audio. */
interface TarredItem {
  index: number;
  ref: AudioRef;
}

export interface TarredBatch {
  indices: number[];
  refs: AudioRef[];
  /** The bucket the batch comes from (0 for a plain tarred dataset). */
  bucket: number;
  epoch: number;
  batchInEpoch: number;
  drawn: number;
}

/** Counters of what the shard scans met, over every epoch read so far. */
export interface TarredScanStats {
  members: number;
  /** Members with no manifest entry (filtered by duration, or not in the manifest): skipped, as NeMo's _filter does. */
  unmatched: number;
  /** Shards that ended early (truncated or corrupt), by name. */
  brokenShards: string[];
}

/** The items of one shard in tar order (a generator: headers are read as items are taken). */
function* shardItems(
  shard: string,
  byId: ReadonlyMap<string, readonly number[]>,
  entries: readonly ManifestEntry[],
  stats: TarredScanStats,
  warn: (m: string) => void,
): Generator<TarredItem> {
  let opened: OpenedArchive;
  try {
    opened = openArchiveStream(shard);
  } catch (e) {
    stats.brokenShards.push(shard);
    warn(`tarred shard ${shard}: cannot open (${(e as Error).message}); skipped`);
    return;
  }
  try {
    const reader = new TarReader(opened.stream, shard, { maxMembers: Number.MAX_SAFE_INTEGER, maxTotalBytes: Number.MAX_SAFE_INTEGER });
    for (;;) {
      let e: ReturnType<TarReader['next']>;
      let bytes: Uint8Array | undefined;
      try {
        e = reader.next();
        // a gzip shard cannot be read by position: its members' bytes travel with the item (a copy: the stream reuses its buffers)
        if (e !== null && e.type === 'file' && opened.gzip && byId.has(fileId(e.name))) bytes = reader.readData(e).slice();
      } catch (err) {
        if (!(err instanceof TarError) && !(err instanceof GzipError)) throw err;
        stats.brokenShards.push(shard);
        warn(`tarred shard ${shard} ends early, the rest of it is skipped: ${err.message}`);
        return;
      }
      if (e === null) return;
      if (e.type !== 'file') continue;
      stats.members++;
      const list = byId.get(fileId(e.name));
      if (!list) {
        stats.unmatched++;
        continue;
      }
      for (const index of list) {
        const m = entries[index]!;
        yield {
          index,
          ref: {
            path: m.audioFilepath,
            offset: m.offset,
            duration: m.duration,
            where: m.where,
            member: { shard, member: e.name, start: e.dataAt, size: e.size, ...(bytes ? { bytes } : {}) },
          },
        };
      }
    }
  } finally {
    opened.close();
  }
}

/** webdataset's shuffle: a buffer of n items, each output drawn at random from it (drained in random order at the end). */
function* bufferShuffle<T>(items: Iterable<T>, n: number, rng: Rng): Generator<T> {
  if (n <= 1) {
    yield* items;
    return;
  }
  const buf: T[] = [];
  const take = (): T => {
    const k = Math.floor(rng.random() * buf.length);
    const x = buf[k]!;
    buf[k] = buf[buf.length - 1]!;
    buf.pop();
    return x;
  };
  for (const it of items) {
    buf.push(it);
    if (buf.length >= n) yield take();
  }
  while (buf.length > 0) yield take();
}

/** The items of one pass over a bucket: its shards in a seeded order, through the shuffle_n buffer when shuffling. */
function* passItems(
  shards: readonly string[],
  byId: ReadonlyMap<string, readonly number[]>,
  entries: readonly ManifestEntry[],
  o: { shuffle: boolean; shuffleN: number; stats: TarredScanStats; warn: (m: string) => void },
  rng: Rng,
): Generator<TarredItem> {
  const order = o.shuffle ? rng.shuffle([...shards]) : shards;
  const items = (function* () {
    for (const s of order) yield* shardItems(s, byId, entries, o.stats, o.warn);
  })();
  yield* o.shuffle ? bufferShuffle(items, o.shuffleN, rng) : items;
}

/** Batches of `size` items in stream order (BucketingIterator); the last one short, or dropped under drop_last. */
function* batchesOf<T>(items: Iterable<T>, size: number, dropLast: boolean): Generator<T[]> {
  let batch: T[] = [];
  for (const it of items) {
    batch.push(it);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0 && !dropLast) yield batch;
}

/** Checks the buckets and warns about a bucket with no manifest entries (it gives no batches). */
function checkBuckets(buckets: readonly TarredBucket[], entries: readonly ManifestEntry[], warn: (m: string) => void): void {
  if (buckets.length === 0) throw new Error('tarred dataset: no buckets');
  if (entries.length === 0) throw new Error('tarred dataset: the manifest has no entries (empty, or everything was filtered out)');
  const name = (b: number): string => (buckets.length > 1 ? `tarred dataset bucket ${b + 1}` : 'tarred dataset');
  buckets.forEach((k, b) => {
    if (!Number.isInteger(k.batchSize) || k.batchSize < 1) throw new Error(`${name(b)}: batch_size must be a positive integer, got ${k.batchSize}`);
    if (!Number.isInteger(k.weight) || k.weight < 1) throw new Error(`${name(b)}: its weight must be a positive integer, got ${k.weight}`);
    if (k.shards.length === 0) throw new Error(`${name(b)}: no shards for this rank (tarred_audio_filepaths expanded to nothing, or fewer shards than ranks)`);
    if (k.entries.length === 0) warn(`${name(b)}: its manifest has no entries (empty, or everything was filtered out): it gives no batches`);
  });
}

/**
 * Batches of a tarred dataset, with BatchSampler's interface (next, state, setState, batchesPerEpoch) so AudioLoader
 * runs it unchanged. `buckets` hold this rank's shards and their manifest entries (indices into `entries`, the
 * manifests after filtering, whose audio_filepath names the member). batchesPerEpoch counts the whole manifest, as
 * NeMo's __len__ does and as BatchSampler's count does under data parallel (each of W ranks takes about 1/W of it);
 * an epoch really ends when this rank's shards do.
 */
export class TarredBatchSampler {
  readonly stats: TarredScanStats = { members: 0, unmatched: 0, brokenShards: [] };
  /** Per bucket: file id -> its entries' indices. */
  private readonly byId: Map<string, number[]>[];
  private readonly warn: (m: string) => void;
  private epoch = 0;
  private position = 0;
  private drawn = 0;
  private stream: Generator<{ bucket: number; items: TarredItem[] }>;
  private readonly estimate: number;

  constructor(
    private readonly buckets: readonly TarredBucket[],
    private readonly entries: readonly ManifestEntry[],
    private readonly opts: TarredOptions,
    state?: SamplerState,
  ) {
    this.warn = opts.warn ?? ((m) => process.emitWarning(m, 'TarredDataset'));
    checkBuckets(buckets, entries, this.warn);
    this.byId = buckets.map((b) => {
      const m = new Map<string, number[]>();
      for (const i of b.entries) {
        const id = fileId(entries[i]!.audioFilepath);
        const l = m.get(id);
        if (l) l.push(i);
        else m.set(id, [i]);
      }
      return m;
    });
    const count = (n: number, size: number): number => (opts.dropLast ? Math.floor(n / size) : Math.ceil(n / size));
    this.estimate = Math.max(
      1,
      buckets.reduce((a, b) => a + b.weight * count(b.entries.length, b.batchSize), 0),
    );
    this.stream = this.epochBatches(0);
    if (state) this.setState(state);
  }

  get batchesPerEpoch(): number {
    return this.estimate;
  }

  /** The epoch's RNG: a function of (seed, rank, epoch) only, so any epoch can be replayed on its own. */
  private epochRng(epoch: number): Rng {
    return new Rng(mixSeed(this.opts.seed, this.opts.rank ?? 0, epoch, 0x7a2));
  }

  /** The RNG of the rep-th pass over `bucket` in `epoch` (the first pass over bucket 0 is the epoch's RNG, as before buckets). */
  private passRng(epoch: number, bucket: number, rep: number): Rng {
    return bucket === 0 && rep === 0 ? this.epochRng(epoch) : new Rng(mixSeed(this.opts.seed, this.opts.rank ?? 0, epoch, 0x7a2, bucket, rep));
  }

  private *epochBatches(epoch: number): Generator<{ bucket: number; items: TarredItem[] }> {
    const order = epochBucketOrder(
      this.buckets.map((b) => b.weight),
      this.opts.strategy ?? 'synced_randomized',
      this.opts.seed,
      this.opts.rank ?? 0,
      epoch,
    );
    const passes = this.buckets.map(() => 0);
    const o = { shuffle: this.opts.shuffle, shuffleN: this.opts.shuffleN, stats: this.stats, warn: this.warn };
    for (const bucket of order) {
      const rng = this.passRng(epoch, bucket, passes[bucket]!++);
      const b = this.buckets[bucket]!;
      const items = passItems(b.shards, this.byId[bucket]!, this.entries, o, rng);
      for (const batch of batchesOf(items, b.batchSize, this.opts.dropLast ?? false)) yield { bucket, items: batch };
    }
  }

  /** The next batch; rolls over to the next epoch when the shards are exhausted. */
  next(): TarredBatch {
    let r = this.stream.next();
    if (r.done) {
      this.epoch++;
      this.position = 0;
      this.stream = this.epochBatches(this.epoch);
      r = this.stream.next();
      if (r.done) {
        throw new Error(
          `tarred dataset: an epoch gave no batch (${this.stats.members} members read, ${this.stats.unmatched} without a manifest entry` +
            `${this.stats.brokenShards.length > 0 ? `, broken shards: ${this.stats.brokenShards.slice(0, 3).join(', ')}` : ''}); do the manifest's audio_filepath names match the members?`,
        );
      }
    }
    const { bucket, items } = r.value;
    return {
      indices: items.map((i) => i.index),
      refs: items.map((i) => i.ref),
      bucket,
      epoch: this.epoch,
      batchInEpoch: this.position++,
      drawn: this.drawn++,
    };
  }

  state(): SamplerState {
    return { epoch: this.epoch, position: this.position, rng: this.epochRng(this.epoch).getState(), drawn: this.drawn };
  }

  /** Replays the saved epoch up to its position (tar headers are scanned, nothing is decoded). */
  setState(s: SamplerState): void {
    if (!s || !Number.isInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.position) || s.position < 0) {
      throw new Error(`tarred sampler state: expected {epoch, position, rng}, got ${JSON.stringify(s)}`);
    }
    this.epoch = s.epoch;
    this.position = 0;
    this.stream.return(undefined); // closes the shard being read
    this.stream = this.epochBatches(s.epoch);
    for (let k = 0; k < s.position; k++) {
      if (this.stream.next().done)
        throw new Error(`tarred sampler state: position ${s.position} is past the ${k} batches of epoch ${s.epoch} (different shards?)`);
      this.position++;
    }
    this.drawn = s.drawn ?? 0;
  }
}
