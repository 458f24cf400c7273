// `streamnest make-tarred`: shard a manifest's audio into a NeMo tarred dataset (see src/data/make-tarred.ts).
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'make-tarred';
export const summary = "Shard a manifest's audio into a NeMo tarred dataset (convert_to_tarred_audio_dataset.py's layout)";

const spec = {
  manifest: { type: 'string', metavar: 'FILE', help: 'NeMo JSON-lines manifest (audio_filepath, duration, ...)' },
  out: { type: 'string', metavar: 'DIR', help: 'output folder (created)' },
  shards: { type: 'integer', help: 'number of tar shards' },
  minDuration: { type: 'number', help: 'drop entries shorter than this (seconds)' },
  maxDuration: { type: 'number', help: 'drop entries of this duration or longer (seconds)' },
  shuffle: { type: 'boolean', help: 'shuffle the entries before sharding' },
  shuffleSeed: { type: 'integer', help: 'seed of --shuffle' },
  sortInShards: { type: 'boolean', help: 'sort the entries of each shard by duration' },
  noShardManifests: { type: 'boolean', help: 'do not write sharded_manifests/manifest_{i}.json' },
  buckets: {
    type: 'integer',
    help: "NeMo's --buckets_num: split [--min-duration, --max-duration) into N equal duration ranges, one dataset each (DIR/bucket1 ... bucketN, --shards shards each)",
  },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest make-tarred --manifest FILE --out DIR --shards N [options]

${summary}.
Writes DIR/audio_0.tar ... audio_{N-1}.tar, DIR/tarred_audio_manifest.json (audio_filepath = the member name, plus
shard_id), DIR/sharded_manifests/manifest_{i}.json and DIR/metadata.yaml, as NeMo's script does with its defaults.
Each shard gets floor(entries / N) entries; the remainder is left out (as NeMo does). Members are the audio files as
they are (any format streamnest reads), named by their path with '/' and '.' replaced by '_'.

Use it in a config:
  model.train_ds.is_tarred=true model.train_ds.tarred_audio_filepaths=DIR/audio__OP_0..N-1_CL_.tar
  model.train_ds.manifest_filepath=DIR/tarred_audio_manifest.json
With --buckets B, one list per bucket (the command prints them):
  model.train_ds.tarred_audio_filepaths=[[DIR/bucket1/audio__OP_0..N-1_CL_.tar],...] model.train_ds.manifest_filepath=[[DIR/bucket1/tarred_audio_manifest.json],...]

Options:
${formatOptions(spec)}

Example: streamnest make-tarred --manifest data/corpus/train_manifest.json --out /tmp/tarred --shards 4`;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!options.manifest || !options.out || options.shards === undefined)
    throw new ArgError(`make-tarred: --manifest, --out and --shards are required\n\n${usage}`);
  const { makeBucketedTarredDataset, makeTarredDataset } = await import('../../data/make-tarred.js');
  const o = {
    manifest: options.manifest,
    outDir: options.out,
    shards: options.shards,
    minDuration: options.minDuration ?? null,
    maxDuration: options.maxDuration ?? null,
    shuffle: options.shuffle ?? false,
    shuffleSeed: options.shuffleSeed ?? null,
    sortInShards: options.sortInShards ?? false,
    shardManifests: !options.noShardManifests,
  };
  if (options.buckets !== undefined && options.buckets > 1) {
    const { buckets } = makeBucketedTarredDataset({ ...o, buckets: options.buckets });
    const last = options.shards - 1;
    for (const [i, b] of buckets.entries()) {
      process.stdout.write(
        `streamnest: bucket ${i + 1}, durations [${b.minDuration.toFixed(3)}, ${b.maxDuration.toFixed(3)}) s: ${b.tarFiles.length} shards of ${b.entriesPerShard} entries ` +
          `(${b.entries} entries, ${(b.seconds / 3600).toFixed(3)} h) in ${b.dir}${b.leftOver > 0 ? `; ${b.leftOver} left over and not written` : ''}\n`,
      );
    }
    const list = (f: (dir: string) => string): string => `[${buckets.map((b) => `[${f(b.dir)}]`).join(',')}]`;
    process.stdout.write(
      `  model.train_ds.is_tarred=true model.train_ds.tarred_audio_filepaths=${list((d) => `${d}/audio__OP_0..${last}_CL_.tar`)} ` +
        `model.train_ds.manifest_filepath=${list((d) => `${d}/tarred_audio_manifest.json`)}\n`,
    );
    return 0;
  }
  const r = makeTarredDataset(o);
  process.stdout.write(
    `streamnest: wrote ${r.tarFiles.length} shards of ${r.entriesPerShard} entries (${r.entries} entries, ${(r.seconds / 3600).toFixed(3)} h) to ${options.out}` +
      `${r.filtered > 0 ? `; ${r.filtered} filtered by duration` : ''}${r.leftOver > 0 ? `; ${r.leftOver} left over (not a whole shard share) and not written` : ''}\n` +
      `  model.train_ds.is_tarred=true model.train_ds.tarred_audio_filepaths=${options.out}/audio__OP_0..${r.tarFiles.length - 1}_CL_.tar model.train_ds.manifest_filepath=${r.manifest}\n`,
  );
  return 0;
}
