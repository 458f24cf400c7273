// The caching CPU allocator (native/src/cpu-allocator.cc) under a training step: the NEST-Small streaming float32 step
// of bench/mixed_precision.ts in a loop, with every batch the same length or the length changing every step (10-16 s,
// as duration-bucketed batches do), printing per step the allocator's hits and misses, the minor page faults, user and
// system CPU, and the cache's bound against the live peak and the working set. A steady step that misses, or faults in
// fresh pages, is what the bound exists to prevent.
//   node dist/bench/cpu-allocator.js [--steps 6] [--batch 8] [--vary] [--threads 1]
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import { NestModel } from '../src/ssl/nest-model.js';
import * as t from '../src/torch/index.js';
import { nestArgs } from './workloads/nest-shapes.js';
import { NEST_BATCH, NEST_SECONDS } from './workloads/nest_train.js';

const spec = {
  steps: { type: 'integer', default: 6 },
  batch: { type: 'integer', default: NEST_BATCH },
  vary: { type: 'boolean', help: 'change the batch length every step (10-16 s)' },
  threads: { type: 'integer', default: 1 },
} satisfies OptionsSpec;

const VARIED_SECONDS = [16, 12, 14, 10, 15, 11, 13, 16, 12, 14];
const MB = (bytes: number | undefined): string => ((bytes ?? 0) / 2 ** 20).toFixed(0);

/** One training step through NestModel.forward, as the trainer runs it (the phase-by-phase spelling is in mixed_precision.ts). */
function trainStep(model: NestModel, opt: t.AdamW, audio: t.Tensor, noisy: t.Tensor, len: t.Tensor): void {
  t.tidy(() => {
    model.lossOf(model.forward({ audio, audioLen: len, noisy, noisyLen: len })).backward();
    opt.step();
    model.zeroGrad();
  });
}

async function main(): Promise<void> {
  const { options } = parseArgs(process.argv.slice(2), spec);
  t.setNumThreads(options.threads);
  const model = new NestModel(nestArgs('streaming', 'small', 4321));
  model.train();
  const opt = new t.AdamW(model.trainableParameters(), { lr: 1e-4, betas: [0.9, 0.98], eps: 1e-8, weightDecay: 1e-3 });
  const g = new t.Generator(5);
  const B = options.batch;
  const full = NEST_SECONDS * 16000;
  const audioAll = t.keep(t.randn([B, full], { generator: g }).mul(0.1));
  const noisyAll = t.keep(audioAll.add(t.randn([B, full], { generator: g }).mul(0.05)));
  console.log(
    `NEST-Small fp32 step, B=${B}, ${options.vary ? 'lengths 10-16 s changing every step' : `${NEST_SECONDS} s every step`}, ${options.threads} thread(s)`,
  );
  for (let i = 0; i < options.steps; i++) {
    const n = options.vary ? VARIED_SECONDS[i % VARIED_SECONDS.length]! * 16000 : full;
    const audio = audioAll.narrow(1, 0, n).contiguous();
    const noisy = noisyAll.narrow(1, 0, n).contiguous();
    const len = t.full([B], n, { dtype: 'int64' });
    const faults0 = process.resourceUsage().minorPageFault;
    const s0 = t.cpuAllocatorStats();
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    trainStep(model, opt, audio, noisy, len);
    for (const x of [audio, noisy, len]) x.dispose();
    await new Promise((res) => setImmediate(res));
    const s = t.cpuAllocatorStats();
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `step ${i} (${n / 16000} s): wall ${(performance.now() - w0).toFixed(0)} ms, user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms, ` +
        `${process.resourceUsage().minorPageFault - faults0} page faults, ${(s.hits ?? 0) - (s0.hits ?? 0)} hits, ${(s.misses ?? 0) - (s0.misses ?? 0)} misses; ` +
        `MB live ${MB(s.liveBytes)}, cached ${MB(s.cachedBytes)}, bound ${MB(s.boundBytes)}, peak ${MB(s.peakLiveBytes)}, working set ${MB(s.workingSetBytes)}, ` +
        `RSS ${MB(process.memoryUsage().rss)}`,
    );
  }
}

await main();
