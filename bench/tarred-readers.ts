// Would NeMo-style shard readers pay here (issue #20: "sharding across ranks and workers")? NeMo's DataLoader workers
// each read their own shards (webdataset_split_by_workers) and decode them; streamnest reads the shards' tar headers on
// the main thread, one shard after the other, and decodes in `num_workers` threads. Concurrent readers could only win
// the time the main thread spends reading, so this measures that share: one epoch of a tarred corpus made by
// `tarred-scale.js make` (the streaming preset's train_ds, as `pretrain` runs it, no features) with the reading alone
// (the sampler: tar headers, nothing decoded) and with 0, 1 and 2 decode threads, timing the main thread inside the
// sampler's next() (the shard reading) against the epoch's wall and CPU time. --drop-cache evicts the shards from the
// page cache before each run (cold reads).
//
//   node dist/bench/tarred-readers.js --dir /tmp/tarred-small [--drop-cache] [--runs scan,0,1,2]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import { loadConfig } from '../src/config/index.js';
import { createDatasetLoader } from '../src/data/dataset.js';
import { cpuMs } from './timing.js';

const spec = {
  dir: { type: 'string', help: 'a corpus folder written by `tarred-scale.js make` (its scale.json)' },
  dropCache: { type: 'boolean', help: 'evict the shards from the page cache before each run (dd iflag=nocache)' },
  runs: { type: 'string', default: 'scan,0,1,2', help: 'runs, in order: scan (the reading alone) or a number of decode threads' },
} satisfies OptionsSpec;

interface ScaleInfo {
  noise: string;
  tarredManifest: string;
  tarFiles: string[];
}

interface Run {
  run: string;
  utterances: number;
  audio_s: number;
  wall_s: number;
  cpu_s: number;
  /** Main-thread time inside the sampler's next(): reading the shards' tar headers. */
  reading_s: number;
  reading_us_per_utterance: number;
  reading_share_of_wall: number;
  utterances_per_s: number;
  load_average: number[];
}

async function epoch(info: ScaleInfo, run: string, dir: string): Promise<Run> {
  const scan = run === 'scan';
  const last = info.tarFiles.length - 1;
  const { config } = loadConfig('streaming', [
    'model.train_ds.is_tarred=true',
    `model.train_ds.tarred_audio_filepaths=${join(dirname(info.tarredManifest), `audio__OP_0..${last}_CL_.tar`)}`,
    `model.train_ds.manifest_filepath=${info.tarredManifest}`,
    `model.train_ds.noise_manifest=${info.noise}`,
    `model.train_ds.num_workers=${scan ? 0 : Number(run)}`,
    'model.validation_ds.manifest_filepath=val.json',
  ]);
  const ds = createDatasetLoader(config.model.train_ds as unknown as Record<string, unknown>, { seed: 1, baseDir: dir, where: 'model.train_ds' });
  const sampler = ds.sampler;
  const next = sampler.next.bind(sampler);
  let reading = 0;
  sampler.next = () => {
    const t0 = performance.now();
    try {
      return next();
    } finally {
      reading += performance.now() - t0;
    }
  };
  let utterances = 0;
  let audio = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  try {
    for (;;) {
      if (scan) {
        const b = sampler.next();
        if (b.epoch > 0) break;
        utterances += b.indices.length;
        for (const r of b.refs ?? []) audio += r.duration ?? 0;
        continue;
      }
      const b = await ds.loader.next();
      if (b.epoch > 0) break;
      utterances += b.batchSize;
      for (const n of b.audioLens) audio += n / config.model.train_ds.sample_rate;
    }
  } finally {
    await ds.loader.close();
  }
  const wall = (performance.now() - t0) / 1000;
  return {
    run: scan ? 'reading alone (scan)' : `${run} decode threads`,
    utterances,
    audio_s: +audio.toFixed(1),
    wall_s: +wall.toFixed(2),
    cpu_s: +((cpuMs() - c0) / 1000).toFixed(2),
    reading_s: +(reading / 1000).toFixed(3),
    reading_us_per_utterance: +((reading * 1000) / utterances).toFixed(1),
    reading_share_of_wall: +(reading / 1000 / wall).toFixed(4),
    utterances_per_s: +(utterances / wall).toFixed(1),
    load_average: loadavg().map((x) => +x.toFixed(2)),
  };
}

async function main(): Promise<void> {
  const { options } = parseArgs(process.argv.slice(2), spec, { maxPositionals: 0 });
  if (!options.dir) throw new Error('--dir: a corpus folder written by `tarred-scale.js make`');
  const dir = resolve(options.dir);
  const info = JSON.parse(readFileSync(join(dir, 'scale.json'), 'utf8')) as ScaleInfo;
  for (const run of options.runs.split(',')) {
    if (options.dropCache) for (const f of info.tarFiles) spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
    console.log(JSON.stringify({ ...(await epoch(info, run, dir)), cold: options.dropCache ?? false }));
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`tarred-readers: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
