// Phase-by-phase CPU time (user+sys of the process, ms, median) of the NEST-Small streaming training step
// (bench/workloads/nest_train.ts), streamnest vs its PyTorch twin (bench/pytorch/nest_phases.py).
//   node dist/bench/nest_phases.js [--threads N] [--repeat N]
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import * as t from '../src/torch/index.js';
import { NestModel } from '../src/ssl/nest-model.js';
import { nestArgs, REPO_ROOT, writeHandoff } from './workloads/nest-shapes.js';
import { NEST_BATCH, NEST_SECONDS } from './workloads/nest_train.js';
import { cpuMs, median } from './timing.js';

const spec = {
  threads: { type: 'integer', default: 1 },
  repeat: { type: 'integer', default: 3 },
} satisfies OptionsSpec;

async function main(): Promise<void> {
  const { options } = parseArgs(process.argv.slice(2), spec);
  t.setNumThreads(options.threads);
  console.log(
    `threads ${options.threads}, repeat ${options.repeat}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const args = nestArgs('streaming', 'small', 4321);
  const model = new NestModel(args);
  const optim = { lr: 1e-4, betas: [0.9, 0.98] as [number, number], eps: 1e-8, weightDecay: 1e-3 };
  writeHandoff('nest_small_streaming', { ...args, optim, batch: NEST_BATCH, samples: NEST_SECONDS * 16000 }, (p) => t.saveStateDict(p, model.stateDict()));
  model.train();
  const g = new t.Generator(5);
  const N = NEST_SECONDS * 16000;
  const audio = t.keep(t.randn([NEST_BATCH, N], { generator: g }).mul(0.1));
  const noisy = t.keep(audio.add(t.randn([NEST_BATCH, N], { generator: g }).mul(0.05)));
  const len = t.keep(t.full([NEST_BATCH], N, { dtype: 'int64' }));
  const opt = new t.AdamW(model.trainableParameters(), optim);
  const times = new Map<string, number[]>();
  for (let it = 0; it <= options.repeat; it++) {
    const ph = new Map<string, number>();
    let c = cpuMs();
    const mark = (name: string): void => {
      const now = cpuMs();
      ph.set(name, now - c);
      c = now;
    };
    t.tidy(() => {
      const clean = model.preprocessor.forward(audio, len);
      mark('preprocessor clean');
      const nz = model.preprocessor.forward(noisy, len);
      mark('preprocessor noisy');
      const tokens = t.noGrad(() => model.quantizer.forward(clean.features).xid);
      mark('quantizer');
      const { masked, mask } = model.mask_processor.forward(nz.features, nz.lengths, model.rng.masking);
      mark('masking');
      const enc = model.encoder.forward(masked, nz.lengths, { rng: model.rng.context });
      mark('encoder forward');
      const logProbs = model.decoder.forward(enc.encoded);
      const loss = model.lossOf({ tokens, masks: mask, logProbs, encoded: enc.encoded, encodedLen: enc.lengths });
      mark('decoder + loss');
      loss.backward();
      mark('backward');
      opt.step();
      model.zeroGrad();
      mark('AdamW + zero grad');
    });
    await new Promise((r) => setImmediate(r));
    if (it > 0) for (const [k, v] of ph) times.set(k, [...(times.get(k) ?? []), v]);
  }
  const sn = new Map([...times].map(([k, v]) => [k, median(v)]));
  const dir = join(REPO_ROOT, 'bench', 'pytorch');
  const r = spawnSync('/usr/bin/python3', [join(dir, 'nest_phases.py'), '--threads', String(options.threads), '--repeat', String(options.repeat)], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(options.threads), OMP_NUM_THREADS: String(options.threads) },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  const py = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  console.log('phase                 streamnest cpu ms   pytorch cpu ms   ratio');
  let ts = 0;
  let tp = 0;
  for (const [k, v] of sn) {
    const p = py[k] ?? NaN;
    ts += v;
    tp += p;
    console.log(`${k.padEnd(22)}${v.toFixed(1).padStart(16)}  ${p.toFixed(1).padStart(15)}  ${(v / p).toFixed(2).padStart(6)}x`);
  }
  console.log(`${'total'.padEnd(22)}${ts.toFixed(1).padStart(16)}  ${tp.toFixed(1).padStart(15)}  ${(ts / tp).toFixed(2).padStart(6)}x`);
  console.log(JSON.stringify({ streamnest: Object.fromEntries(sn), pytorch: py, load: loadavg() }));
  opt.dispose();
  model.dispose();
}

main().catch((e: unknown) => {
  process.stderr.write(`nest_phases: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
