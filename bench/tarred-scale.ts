// Scale of a NeMo tarred corpus (issue #20 item 4): a corpus of several GB streams through the pretraining data path
// with flat memory, and the loader keeps ahead of a NEST-Small training step.
//
//   node dist/bench/tarred-scale.js make    [--dir $TMPDIR/streamnest-tarred-5g] [--gb 5] [--source MANIFEST] [--shards 64]
//   node dist/bench/tarred-scale.js measure [--dir ...] [--route tarred|plain] [--step-seconds 14.8] [--drop-cache]
//                                           [--epochs 1] [--no-features] [--samples FILE.json]
//
// `make` repeats a manifest's real clips until their bytes reach --gb GB (1e9 bytes): repeat k of a clip is a symbolic
// link DIR/links/r<k>/<clip> (a distinct path, so a distinct member name and file id), and the repeated manifest goes
// through makeTarredDataset (`streamnest make-tarred`'s code) into DIR/tarred/. The links stay for the plain route.
// `measure` reads one whole epoch through what `pretrain` runs for its train_ds: createDatasetLoader with the streaming
// preset's train_ds (batch 8, shuffle, shuffle_n 2048, MultiSpeakerNoiseAugmentation, its num_workers capped to 2 decode
// threads), is_tarred over DIR/tarred (or the plain manifest of the links), then batchToTensors and the preset's
// log-mel preprocessor in training mode (dither) on the clean and the noisy audio, as NestModel.forward does, on one
// torch thread. RSS (and the caching CPU allocator's live and cached bytes) is sampled every second; the result is one
// JSON line and one sentence (GB and hours read, utterances/s, audio s/s, RSS at 10/50/90/100% and max, the ratio of
// the loader's rate to a NEST-Small step's: B=8 x 16 s = 128 s of audio per --step-seconds). Figures: BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statfsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { AudioToMelSpectrogramPreprocessor } from '../src/audio/preprocessor.js';
import { parseArgs, type OptionsSpec, type ParsedOptions } from '../src/cli/args.js';
import { loadConfig } from '../src/config/index.js';
import { batchToTensors } from '../src/data/batch-tensors.js';
import { createDatasetLoader } from '../src/data/dataset.js';
import { makeTarredDataset } from '../src/data/make-tarred.js';
import { nestModelArgs } from '../src/ssl/nest-factory.js';
import * as t from '../src/torch/index.js';

const spec = {
  dir: { type: 'string', default: join(tmpdir(), 'streamnest-tarred-5g'), help: 'corpus folder (never inside the repository)' },
  gb: { type: 'number', default: 5, help: 'make: GB (1e9 bytes) of audio to write' },
  source: {
    type: 'string',
    default: 'data/corpus/train_manifest.json',
    help: 'make: manifest of the real clips to repeat (BENCHMARKS.md: the low-resource corpus)',
  },
  noise: { type: 'string', default: 'data/corpus/noise_manifest.json', help: 'make: noise manifest the measure uses' },
  shards: { type: 'integer', default: 64, help: 'make: tar shards' },
  route: { type: 'string', default: 'tarred', choices: ['tarred', 'plain'], help: 'measure: the tar shards or the plain manifest of the same audio' },
  stepSeconds: { type: 'number', default: 14.8, help: 'measure: seconds of one NEST-Small training step (B=8 x 16 s)' },
  stepSource: {
    type: 'string',
    default: '../shared/measurements.md: NEST-Small streaming step, B=8 x 16 s, one core of this machine',
    help: 'measure: where --step-seconds comes from (printed)',
  },
  dropCache: { type: 'boolean', help: 'measure: drop the corpus files from the page cache first (dd iflag=nocache), for a cold read' },
  epochs: { type: 'integer', default: 1, help: 'measure: epochs to read (more than 1: is the memory bounded over epochs?)' },
  features: { type: 'boolean', default: true, help: 'measure: compute the features (--no-features: the loader alone)' },
  samples: { type: 'string', help: 'measure: write the per-second memory samples here (JSON)' },
} satisfies OptionsSpec;
type Options = ParsedOptions<typeof spec>;

/** What `make` wrote (DIR/scale.json), read back by `measure`. */
interface ScaleInfo {
  source: string;
  noise: string;
  repeats: number;
  entries: number;
  seconds: number;
  /** Bytes of the audio files (every repeat), and of the tar shards. */
  audioBytes: number;
  tarBytes: number;
  shards: number;
  plainManifest: string;
  tarredManifest: string;
  tarFiles: string[];
}

const AUDIO_PER_STEP_S = 8 * 16; // a NEST-Small step's batch: B=8 x 16 s

const gb = (bytes: number): string => (bytes / 1e9).toFixed(2);
const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);

/** The source manifest's lines with absolute audio paths (relative ones resolve against the manifest's folder). */
function sourceEntries(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      if (typeof e.audio_filepath !== 'string') throw new Error(`${path}:${i + 1}: no audio_filepath`);
      return { ...e, audio_filepath: isAbsolute(e.audio_filepath) ? e.audio_filepath : resolve(dirname(path), e.audio_filepath) };
    });
}

/** Refuses to start when the folder's file system cannot take the corpus with 10 GB to spare. */
function checkDisk(dir: string, bytes: number): void {
  const s = statfsSync(dir);
  const free = s.bavail * s.bsize;
  if (free < bytes + 10e9) throw new Error(`${dir}: ${gb(free)} GB free, the corpus needs ${gb(bytes)} GB and 10 GB are kept free`);
  console.log(`${dir}: ${gb(free)} GB free, writing ${gb(bytes)} GB`);
}

function make(o: Options): void {
  const dir = resolve(o.dir);
  if (existsSync(join(dir, 'scale.json'))) throw new Error(`${dir} already holds a corpus (scale.json): remove it first`);
  const clips = sourceEntries(o.source);
  const passBytes = clips.reduce((a, e) => a + statSync(e.audio_filepath as string).size, 0);
  const repeats = Math.ceil((o.gb * 1e9) / passBytes);
  mkdirSync(dir, { recursive: true });
  checkDisk(dir, repeats * passBytes);
  const lines: string[] = [];
  for (let k = 0; k < repeats; k++) {
    const linkDir = join(dir, 'links', `r${String(k).padStart(3, '0')}`);
    mkdirSync(linkDir, { recursive: true });
    for (const e of clips) {
      const link = join(linkDir, basename(e.audio_filepath as string));
      symlinkSync(e.audio_filepath as string, link);
      lines.push(JSON.stringify({ ...e, audio_filepath: link }));
    }
  }
  const plainManifest = join(dir, 'plain_manifest.json');
  writeFileSync(plainManifest, `${lines.join('\n')}\n`);
  const t0 = performance.now();
  let written = 0;
  const r = makeTarredDataset({
    manifest: plainManifest,
    outDir: join(dir, 'tarred'),
    shards: o.shards,
    onShard: (i) => {
      written += statSync(join(dir, 'tarred', `audio_${i}.tar`)).size;
      const s = (performance.now() - t0) / 1000;
      process.stderr.write(`make: shard ${i + 1}/${o.shards}, ${gb(written)} GB in ${s.toFixed(0)} s (${(written / 1e6 / s).toFixed(0)} MB/s)\n`);
    },
  });
  const info: ScaleInfo = {
    source: o.source,
    noise: resolve(o.noise),
    repeats,
    entries: r.entries,
    seconds: r.seconds,
    audioBytes: repeats * passBytes,
    tarBytes: written,
    shards: o.shards,
    plainManifest,
    tarredManifest: r.manifest,
    tarFiles: r.tarFiles,
  };
  writeFileSync(join(dir, 'scale.json'), `${JSON.stringify(info, null, 1)}\n`);
  console.log(
    `make: ${r.entries} utterances (${repeats} x ${clips.length} clips of ${o.source}), ${(r.seconds / 3600).toFixed(2)} h, ` +
      `${gb(written)} GB in ${o.shards} shards under ${join(dir, 'tarred')}; ${r.leftOver} left over`,
  );
}

/** One per-second sample: the epoch's progress and the process's memory. */
interface MemorySample {
  s: number;
  fraction: number;
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  liveMb: number | null;
  cachedMb: number | null;
}

function sampleMemory(s: number, fraction: number): MemorySample {
  const m = process.memoryUsage();
  const a = t.cpuAllocatorStats();
  return {
    s: +s.toFixed(1),
    fraction: +fraction.toFixed(4),
    rssMb: mb(m.rss),
    heapUsedMb: mb(m.heapUsed),
    externalMb: mb(m.external),
    arrayBuffersMb: mb(m.arrayBuffers),
    liveMb: a.enabled && a.liveBytes !== undefined ? mb(a.liveBytes) : null,
    cachedMb: a.enabled && a.cachedBytes !== undefined ? mb(a.cachedBytes) : null,
  };
}

/** The process's peak RSS (VmHWM), MB. */
function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

/** Files of the route and their bytes on disk (the shards, or every distinct clip behind the links). */
function routeFiles(info: ScaleInfo, route: string): { files: string[]; bytes: number } {
  const files = route === 'tarred' ? info.tarFiles : [...new Set(sourceEntries(info.source).map((e) => e.audio_filepath as string))];
  const bytes = route === 'tarred' ? files.reduce((a, f) => a + statSync(f).size, 0) : info.audioBytes;
  return { files, bytes };
}

/** Evicts files from the page cache (GNU dd: iflag=nocache count=0 drops the whole file's cached pages). */
function dropFromCache(files: readonly string[]): void {
  for (const f of files) spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
}

/** Percent of the files' pages in the page cache (util-linux fincore), or null when fincore is missing. */
function cachedPercent(files: readonly string[]): number | null {
  const r = spawnSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES,SIZE', ...files.slice(0, 200)], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  let res = 0;
  let size = 0;
  for (const l of r.stdout.trim().split('\n')) {
    const [a, b] = l.split(' ').map(Number);
    res += a ?? 0;
    size += b ?? 0;
  }
  return size > 0 ? +((100 * res) / size).toFixed(1) : null;
}

function datasetOverrides(info: ScaleInfo, route: string): string[] {
  const common = [`model.train_ds.noise_manifest=${info.noise}`, 'model.validation_ds.manifest_filepath=val.json'];
  if (route === 'plain') return [`model.train_ds.manifest_filepath=${info.plainManifest}`, ...common];
  const last = info.tarFiles.length - 1;
  return [
    'model.train_ds.is_tarred=true',
    `model.train_ds.tarred_audio_filepaths=${join(dirname(info.tarredManifest), `audio__OP_0..${last}_CL_.tar`)}`,
    `model.train_ds.manifest_filepath=${info.tarredManifest}`,
    ...common,
  ];
}

/** The sample nearest after `fraction` of the epoch (the last one for 1). */
function at(samples: readonly MemorySample[], fraction: number): MemorySample {
  return samples.find((s) => s.fraction >= fraction) ?? samples[samples.length - 1]!;
}

async function measure(o: Options): Promise<void> {
  const dir = resolve(o.dir);
  if (o.epochs < 1) throw new Error(`--epochs ${o.epochs}: at least 1`);
  if (!existsSync(join(dir, 'scale.json'))) throw new Error(`${dir}: no scale.json (run \`tarred-scale.js make --dir ${o.dir}\` first)`);
  const info = JSON.parse(readFileSync(join(dir, 'scale.json'), 'utf8')) as ScaleInfo;
  const { files, bytes } = routeFiles(info, o.route);
  if (o.dropCache) dropFromCache(files);
  const cachedBefore = cachedPercent(files);
  const { config } = loadConfig('streaming', datasetOverrides(info, o.route));
  t.setNumThreads(1);
  const ds = createDatasetLoader(config.model.train_ds as unknown as Record<string, unknown>, { seed: 1, baseDir: dir, where: 'model.train_ds' });
  console.log(ds.describe());
  const pre = new AudioToMelSpectrogramPreprocessor(nestModelArgs(config.model, 1).preprocessor, new t.Generator(2)); // training mode: dither
  const perEpoch = ds.sampler.batchesPerEpoch;
  const total = perEpoch * o.epochs;
  const samples: MemorySample[] = [];
  let batches = 0;
  let audioS = 0;
  let utterances = 0;
  const load0 = loadavg();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  samples.push(sampleMemory(0, 0));
  const timer = setInterval(() => samples.push(sampleMemory(elapsed(), batches / total)), 1000);
  let nextReport = 0.1;
  let epoch = 0;
  try {
    for (;;) {
      const b = await ds.loader.next();
      if (b.epoch > epoch) {
        process.stderr.write(`measure: epoch ${epoch} done after ${elapsed().toFixed(0)} s, RSS ${mb(process.memoryUsage().rss)} MB\n`);
        epoch = b.epoch;
      }
      if (epoch >= o.epochs) break;
      t.tidy(() => {
        const x = batchToTensors(b);
        if (!o.features) return;
        pre.forward(x.audio, x.audioLen);
        pre.forward(x.noisyAudio, x.noisyAudioLen);
      });
      batches++;
      utterances += b.batchSize;
      for (const n of b.audioLens) audioS += n / config.model.train_ds.sample_rate;
      if (batches / total >= nextReport) {
        const m = samples[samples.length - 1]!;
        process.stderr.write(
          `measure: ${(100 * nextReport).toFixed(0)}%, ${batches} batches, ${(audioS / 3600).toFixed(2)} h in ${elapsed().toFixed(0)} s, RSS ${m.rssMb} MB\n`,
        );
        nextReport += 0.1;
      }
    }
  } finally {
    clearInterval(timer);
  }
  const wall = elapsed();
  const cu = process.cpuUsage(c0);
  const cpu = (cu.user + cu.system) / 1e6;
  samples.push(sampleMemory(wall, batches / total));
  await ds.loader.close();
  pre.dispose();
  if (o.samples) writeFileSync(o.samples, `${JSON.stringify(samples)}\n`);
  report(o, {
    route: o.route,
    bytes: bytes * o.epochs,
    audioS,
    utterances,
    batches,
    perEpoch,
    wall,
    cpu,
    samples,
    cachedBefore,
    load: [load0, loadavg()],
    entries: ds.manifests.entries.length,
  });
}

interface Measured {
  route: string;
  bytes: number;
  audioS: number;
  utterances: number;
  batches: number;
  perEpoch: number;
  wall: number;
  cpu: number;
  samples: MemorySample[];
  cachedBefore: number | null;
  load: number[][];
  entries: number;
}

function report(o: Options, m: Measured): void {
  const rate = m.audioS / m.wall; // seconds of audio per second
  const stepRate = AUDIO_PER_STEP_S / o.stepSeconds;
  const rss = (f: number): number => at(m.samples, f).rssMb;
  const live = m.samples.map((s) => s.liveMb).filter((x): x is number => x !== null);
  const res = {
    route: m.route,
    features: o.features,
    epochs: o.epochs,
    gb_read: +(m.bytes / 1e9).toFixed(3),
    hours_audio: +(m.audioS / 3600).toFixed(3),
    utterances: m.utterances,
    manifest_entries: m.entries * o.epochs,
    batches: m.batches,
    batches_per_epoch_estimate: m.perEpoch,
    wall_s: +m.wall.toFixed(1),
    utterances_per_s: +(m.utterances / m.wall).toFixed(1),
    audio_s_per_s: +rate.toFixed(1),
    cpu_s: +m.cpu.toFixed(1),
    audio_s_per_cpu_s: +(m.audioS / m.cpu).toFixed(1),
    rss_mb: {
      '10%': rss(0.1),
      '50%': rss(0.5),
      '90%': rss(0.9),
      '100%': rss(1),
      max_sampled: Math.max(...m.samples.map((s) => s.rssMb)),
      peak_vmhwm: peakRssMb(),
    },
    allocator_live_mb:
      live.length > 0 ? { '10%': at(m.samples, 0.1).liveMb, '50%': at(m.samples, 0.5).liveMb, '100%': at(m.samples, 1).liveMb, max: Math.max(...live) } : null,
    step: { seconds: o.stepSeconds, audio_s: AUDIO_PER_STEP_S, audio_s_per_s: +stepRate.toFixed(2), source: o.stepSource },
    ratio_loader_to_step: +(rate / stepRate).toFixed(1),
    // the loader's CPU for one step's 128 s of audio, against the step's own time on one core
    loader_cpu_s_per_step: +((m.cpu * AUDIO_PER_STEP_S) / m.audioS).toFixed(2),
    page_cache_before_pct: m.cachedBefore,
    load_average: m.load.map((l) => l.map((x) => +x.toFixed(2))),
  };
  console.log(JSON.stringify(res));
  console.log(
    `${m.route}: ${res.gb_read} GB, ${res.hours_audio} h of audio, ${m.utterances} utterances in ${res.wall_s} s: ${res.utterances_per_s} utt/s, ` +
      `${res.audio_s_per_s} s of audio per s; RSS ${rss(0.1)} / ${rss(0.5)} / ${rss(0.9)} / ${rss(1)} MB at 10/50/90/100%, max ${res.rss_mb.max_sampled} MB ` +
      `(VmHWM ${res.rss_mb.peak_vmhwm}); a NEST-Small step consumes ${res.step.audio_s_per_s} s/s (128 s in ${o.stepSeconds} s, from ${o.stepSource}): ` +
      `the loader is ${res.ratio_loader_to_step}x ahead`,
  );
}

async function main(): Promise<void> {
  const { options, positionals } = parseArgs(process.argv.slice(2), spec, { maxPositionals: 1 });
  const [what] = positionals;
  if (`${resolve(options.dir)}${sep}`.startsWith(`${resolve(import.meta.dirname, '..', '..')}${sep}`))
    throw new Error(`--dir ${options.dir}: not inside the repository`);
  if (what === 'make') make(options);
  else if (what === 'measure') await measure(options);
  else throw new Error('usage: tarred-scale.js (make|measure) [options]');
}

main().catch((e: unknown) => {
  process.stderr.write(`tarred-scale: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
