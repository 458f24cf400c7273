// Loader throughput on the shipped corpus (data/corpus/): the streaming recipe's train_ds (batch 8, shuffled,
// MultiSpeakerNoiseAugmentation with the corpus noise manifest), 2 decode workers, each batch also turned into
// tensors as the trainer does. Reports batches/s and hours of audio per second, to compare with the NEST training
// step's rate (nest_train_small in bench/run.ts): the loader must never be the bottleneck.
//
//   node dist/bench/loader.js [--batches N] [--workers N] [--batch-size N]
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import { loadConfig } from '../src/config/index.js';
import { createDatasetLoader } from '../src/data/dataset.js';
import { batchToTensors } from '../src/data/batch-tensors.js';
import * as t from '../src/torch/index.js';
import { REPO_ROOT } from './workloads/nest-shapes.js';

const spec = {
  batches: { type: 'integer', default: 60, help: 'batches to time (after 4 warm-up batches)' },
  workers: { type: 'integer', default: 2, help: 'decode worker threads' },
  'batch-size': { type: 'integer', default: 8, help: 'utterances per batch' },
} satisfies OptionsSpec;

async function main(): Promise<void> {
  const { options } = parseArgs(process.argv.slice(2), spec);
  const corpus = join(REPO_ROOT, 'data', 'corpus');
  const { config } = loadConfig('streaming', [
    `model.train_ds.manifest_filepath=${join(corpus, 'train_manifest.json')}`,
    `model.train_ds.noise_manifest=${join(corpus, 'noise_manifest.json')}`,
    'model.validation_ds.manifest_filepath=val.json',
    `model.train_ds.num_workers=${options.workers}`,
    `model.train_ds.batch_size=${options['batch-size']}`,
  ]);
  t.setNumThreads(1);
  const ds = createDatasetLoader(config.model.train_ds as unknown as Record<string, unknown>, { seed: 1, baseDir: corpus, where: 'model.train_ds' });
  console.log(ds.describe());
  const take = async (): Promise<number> => {
    const b = await ds.loader.next();
    t.tidy(() => {
      const bt = batchToTensors(b);
      for (const v of Object.values(bt)) if (v instanceof t.Tensor) v.dispose();
    });
    let s = 0;
    for (const n of b.audioLens) s += n / 16000;
    return s;
  };
  for (let i = 0; i < 4; i++) await take();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let seconds = 0;
  for (let i = 0; i < options.batches; i++) seconds += await take();
  const wall = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  const cpu = (cu.user + cu.system) / 1e6; // s, all threads of the process (main + decode workers)
  await ds.loader.close();
  const res = {
    workers: options.workers,
    batch_size: options['batch-size'],
    batches: options.batches,
    wall_s: wall,
    batches_per_s: options.batches / wall,
    audio_s_per_batch: seconds / options.batches,
    hours_audio_per_s: seconds / 3600 / wall,
    x_real_time: seconds / wall,
    cpu_s: cpu,
    // audio seconds per CPU second: what the loader costs a core, independent of the machine's load
    x_real_time_per_cpu_s: seconds / cpu,
    load_average: loadavg().map((x) => +x.toFixed(2)),
  };
  console.log(JSON.stringify(res));
}

main().catch((e: unknown) => {
  process.stderr.write(`loader bench: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
