// Where the time of one transformer_step goes, phase by phase, in streamnest and in PyTorch (bench/pytorch/phases.py):
// forward (to the loss), backward, AdamW step, zero-grad + freeing the step's tensors.
//   node dist/bench/phases.js [--threads N] [--repeat N]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import * as t from '../src/torch/index.js';
import { Block } from './workloads/transformer_step.js';
import { collectDisposedHandles } from '../src/torch/startup.js';
import { median } from './timing.js';

const spec = {
  threads: { type: 'integer', default: 1 },
  repeat: { type: 'integer', default: 20 },
  warmup: { type: 'integer', default: 3 },
  gc: { type: 'boolean', help: 'a minor GC after each step (timed as its own phase)' },
} satisfies OptionsSpec;

const PHASES = ['forward', 'backward', 'optimizer', 'free', 'gc'] as const;

async function main(): Promise<void> {
  const { options } = parseArgs(process.argv.slice(2), spec);
  t.setNumThreads(options.threads);
  const g = new t.Generator(0);
  const block = new Block(g);
  const x = t.keep(t.randn([8, 200, 256], { generator: g }));
  const target = t.keep(t.randn([8, 200, 256], { generator: g }));
  const opt = new t.AdamW(block.parameters(), { lr: 1e-4, weightDecay: 1e-3 });
  const times: Record<(typeof PHASES)[number], number[]> = { forward: [], backward: [], optimizer: [], free: [], gc: [] };
  for (let i = 0; i < options.warmup + options.repeat; i++) {
    const scope = new t.Scope();
    const t0 = performance.now();
    const loss = t.mseLoss(block.forward(x), target);
    const t1 = performance.now();
    loss.backward();
    const t2 = performance.now();
    opt.step();
    const t3 = performance.now();
    block.zeroGrad();
    scope.dispose();
    const t4 = performance.now();
    if (options.gc) collectDisposedHandles();
    const t5 = performance.now();
    await new Promise((resolve) => setImmediate(resolve)); // let N-API run pending finalizers, as between real steps
    if (i >= options.warmup) {
      times.forward.push(t1 - t0);
      times.backward.push(t2 - t1);
      times.optimizer.push(t3 - t2);
      times.free.push(t4 - t3);
      times.gc.push(t5 - t4);
    }
  }
  const root = (() => {
    let d = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(d, 'package.json')) && d !== '/') d = dirname(d);
    return d;
  })();
  const py = spawnSync(
    '/usr/bin/python3',
    [join(root, 'bench/pytorch/phases.py'), '--threads', String(options.threads), '--repeat', String(options.repeat), '--warmup', String(options.warmup)],
    {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(options.threads), OMP_NUM_THREADS: String(options.threads) },
    },
  );
  if (py.status !== 0) throw new Error(py.stderr);
  const pyTimes = JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, number>;
  const rss = (process.memoryUsage().rss / 1e6).toFixed(0);
  console.log(`threads ${options.threads}, median of ${options.repeat}; streamnest RSS ${rss} MB, PyTorch max RSS ${pyTimes.maxrss_mb} MB`);
  console.log('phase        streamnest ms  pytorch ms  ratio');
  let sn = 0;
  let pt = 0;
  for (const p of PHASES) {
    const a = median(times[p]);
    const b = pyTimes[p] ?? 0;
    sn += a;
    pt += b;
    console.log(`${p.padEnd(11)}  ${a.toFixed(2).padStart(13)}  ${b.toFixed(2).padStart(10)}  ${b > 0 ? (a / b).toFixed(2) + 'x' : '-'}`);
  }
  console.log(`${'sum'.padEnd(11)}  ${sn.toFixed(2).padStart(13)}  ${pt.toFixed(2).padStart(10)}  ${(sn / pt).toFixed(2)}x`);
  opt.dispose();
  block.dispose();
}

main().catch((e: unknown) => {
  process.stderr.write(`phases: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
