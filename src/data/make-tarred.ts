// Writing a NeMo tarred audio dataset from a JSON-lines manifest, in the layout of NeMo's
// scripts/speech_recognition/convert_to_tarred_audio_dataset.py (its defaults: no slicing by offset, shard manifests on):
//   OUT/audio_0.tar ... audio_{N-1}.tar        the audio files, named by their path with '/' and '.' squashed to '_'
//   OUT/tarred_audio_manifest.json             every entry, audio_filepath = member name, plus shard_id
//   OUT/sharded_manifests/manifest_{i}.json    the entries of shard i (manifest_filepath: .../manifest__OP_0..N-1_CL_.json)
//   OUT/metadata.yaml                          ASRTarredDatasetMetadata
// As there: entries outside [min_duration, max_duration) are dropped, each shard gets floor(n / N) entries (the
// remainder is left out), optional shuffling (seeded; our generator, not Python's, so the order differs from NeMo's
// for the same seed) and sorting by duration within shards; a file listed twice in a shard is written once, its later
// entries named '<name>-sub<k>' (NeMo's quirk: its reader then finds no member for them).
// Bucketed (NeMo's --buckets_num): [min_duration, max_duration) is cut into N equal ranges, the last widened by 1e-5 s to
// take max_duration itself, and each range becomes its own dataset OUT/bucket1 ... OUT/bucketN with --shards shards.
// Provenance: convert_to_tarred_audio_dataset.py (main's bucket loop, ASRTarredDatasetBuilder.create_new_dataset,
// _create_shard, _read_manifest).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, extname, isAbsolute, join } from 'node:path';
import { stringify } from 'yaml';
import { Rng } from './rng.js';
import { tarEndMarker, tarMemberChunks } from './tar-stream.js';

export interface MakeTarredOptions {
  manifest: string;
  outDir: string;
  shards: number;
  minDuration?: number | null;
  maxDuration?: number | null;
  shuffle?: boolean;
  shuffleSeed?: number | null;
  sortInShards?: boolean;
  shardManifests?: boolean;
  onShard?: (shard: number, entries: number) => void;
}

export interface MakeTarredResult {
  entries: number;
  filtered: number;
  /** Entries left out because they do not fill a whole shard share (NeMo discards them too). */
  leftOver: number;
  entriesPerShard: number;
  seconds: number;
  tarFiles: string[];
  manifest: string;
}

type Entry = Record<string, unknown> & { audio_filepath: string; duration: number };

/** NeMo's _read_manifest: audio paths resolved (manifest-relative when not found as given), duration filters applied. */
function readEntries(path: string, o: MakeTarredOptions): { kept: Entry[]; filtered: number } {
  if (!existsSync(path)) throw new Error(`make-tarred: manifest not found: ${path}`);
  const kept: Entry[] = [];
  let filtered = 0;
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${path}:${i + 1}`;
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch (err) {
        throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
      }
      const key = 'audio_filepath' in e ? 'audio_filepath' : 'audio_file';
      const audio = e[key];
      if (typeof audio !== 'string' || audio === '') throw new Error(`${where}: no 'audio_filepath' (or 'audio_file')`);
      if (typeof e.duration !== 'number' || !Number.isFinite(e.duration)) throw new Error(`${where}: 'duration' must be a number`);
      let resolved = audio;
      if (!existsSync(audio) && !isAbsolute(audio)) {
        resolved = join(dirname(path), audio);
        if (!existsSync(resolved)) throw new Error(`${where}: could not find ${audio} or ${resolved}`);
      } else if (!existsSync(audio)) throw new Error(`${where}: could not find ${audio}`);
      const d = e.duration;
      if ((o.maxDuration == null || d < o.maxDuration) && (o.minDuration == null || d >= o.minDuration)) kept.push({ ...e, [key]: resolved } as Entry);
      else filtered++;
    });
  return { kept, filtered };
}

/** NeMo's squashed member name: the path without its extension, '/' and '.' replaced by '_', then the extension. */
export function squashedName(audioPath: string): { base: string; ext: string } {
  const ext = extname(audioPath);
  const base = audioPath
    .slice(0, audioPath.length - ext.length)
    .replaceAll('/', '_')
    .replaceAll('.', '_');
  return { base, ext };
}

/** Writes one shard (audio_{id}.tar) member by member and returns its manifest entries (NeMo's _create_shard). */
function writeShard(entries: Entry[], outDir: string, id: number, sort: boolean): Record<string, unknown>[] {
  if (sort) entries.sort((a, b) => a.duration - b.duration);
  const fd = openSync(join(outDir, `audio_${id}.tar`), 'w');
  const count = new Map<string, number>();
  const out: Record<string, unknown>[] = [];
  const mtime = Math.floor(Date.now() / 1000);
  try {
    for (const e of entries) {
      const audio = (e.audio_filepath ?? e.audio_file) as string;
      const { base, ext } = squashedName(audio);
      const squashed = `${base}${ext}`;
      let name: string;
      const seen = count.get(squashed);
      if (seen === undefined) {
        for (const c of tarMemberChunks({ name: squashed, data: readFileSync(audio) }, mtime)) writeSync(fd, c);
        name = squashed;
        count.set(squashed, 1);
      } else {
        name = `${base}-sub${seen}${ext}`;
        count.set(squashed, seen + 1);
      }
      out.push({ ...e, audio_filepath: name, shard_id: id });
    }
    writeSync(fd, tarEndMarker());
  } finally {
    closeSync(fd);
  }
  return out;
}

function jsonLines(entries: readonly Record<string, unknown>[]): string {
  return entries.map((e) => `${JSON.stringify(e)}\n`).join('');
}

export function makeTarredDataset(o: MakeTarredOptions): MakeTarredResult {
  if (!Number.isInteger(o.shards) || o.shards < 1) throw new Error(`make-tarred: --shards must be a positive integer, got ${o.shards}`);
  mkdirSync(o.outDir, { recursive: true });
  const { kept, filtered } = readEntries(o.manifest, o);
  if (kept.length === 0) throw new Error(`make-tarred: no entries left after the duration filters (${filtered} filtered out)`);
  let entries = kept;
  if (o.shuffle) entries = new Rng(o.shuffleSeed ?? 0).shuffle([...kept]);
  const per = Math.floor(entries.length / o.shards);
  if (per === 0) throw new Error(`make-tarred: ${entries.length} entries cannot fill ${o.shards} shards (each needs at least one)`);
  const all: Record<string, unknown>[] = [];
  const tarFiles: string[] = [];
  const manifestsDir = join(o.outDir, 'sharded_manifests');
  if (o.shardManifests !== false) mkdirSync(manifestsDir, { recursive: true });
  for (let i = 0; i < o.shards; i++) {
    const shard = writeShard(entries.slice(per * i, per * (i + 1)), o.outDir, i, o.sortInShards ?? false);
    tarFiles.push(join(o.outDir, `audio_${i}.tar`));
    if (o.shardManifests !== false) writeFileSync(join(manifestsDir, `manifest_${i}.json`), jsonLines(shard));
    all.push(...shard);
    o.onShard?.(i, shard.length);
  }
  const manifest = join(o.outDir, 'tarred_audio_manifest.json');
  writeFileSync(manifest, jsonLines(all));
  writeFileSync(join(o.outDir, 'metadata.yaml'), stringify(metadata(o, per)));
  return {
    entries: all.length,
    filtered,
    leftOver: entries.length - all.length,
    entriesPerShard: per,
    seconds: all.reduce((a, e) => a + (e.duration as number), 0),
    tarFiles,
    manifest,
  };
}

export interface MakeBucketedResult {
  /** Each bucket's dataset (OUT/bucket{i}) with its duration range [minDuration, maxDuration). */
  buckets: (MakeTarredResult & { dir: string; minDuration: number; maxDuration: number })[];
}

/** The duration range of each of `n` buckets over [min, max), as NeMo cuts it (the last one takes max too). */
export function bucketRanges(min: number, max: number, n: number): [number, number][] {
  const width = (max - min) / n;
  return Array.from({ length: n }, (_, i): [number, number] => {
    const lo = min + i * width;
    return [lo, lo + width + (i === n - 1 ? 1e-5 : 0)];
  });
}

/** NeMo's --buckets_num: one tarred dataset per duration range, OUT/bucket1 ... OUT/bucketN. */
export function makeBucketedTarredDataset(o: MakeTarredOptions & { buckets: number }): MakeBucketedResult {
  if (!Number.isInteger(o.buckets) || o.buckets < 2) throw new Error(`make-tarred: --buckets must be an integer of at least 2, got ${o.buckets}`);
  const min = o.minDuration;
  const max = o.maxDuration;
  if (min == null || max == null || !(max > min))
    throw new Error(`make-tarred: --buckets needs --min-duration and --max-duration (max > min): the buckets split that range; got ${min} and ${max}`);
  const buckets = bucketRanges(min, max, o.buckets).map(([lo, hi], i) => {
    const dir = join(o.outDir, `bucket${i + 1}`);
    try {
      return { ...makeTarredDataset({ ...o, outDir: dir, minDuration: lo, maxDuration: hi }), dir, minDuration: lo, maxDuration: hi };
    } catch (e) {
      throw new Error(`make-tarred: bucket ${i + 1} (durations [${lo}, ${hi}) s): ${(e as Error).message.replace(/^make-tarred: /, '')}`);
    }
  });
  return { buckets };
}

/** NeMo's ASRTarredDatasetMetadata for a new dataset (version 0). */
function metadata(o: MakeTarredOptions, perShard: number): Record<string, unknown> {
  return {
    created_datetime: new Date().toISOString().replace('T', ' ').slice(0, 19),
    version: 0,
    num_samples_per_shard: perShard,
    is_concatenated_manifest: false,
    dataset_config: {
      num_shards: o.shards,
      shuffle: o.shuffle ?? false,
      max_duration: o.maxDuration ?? null,
      min_duration: o.minDuration ?? null,
      shuffle_seed: o.shuffleSeed ?? null,
      sort_in_shards: o.sortInShards ?? false,
      slice_with_offset: false,
      shard_manifests: o.shardManifests !== false,
      keep_files_together: false,
      force_codec: null,
      use_lhotse: false,
      use_bucketing: false,
      num_buckets: null,
      bucket_duration_bins: null,
    },
    history: [],
  };
}
