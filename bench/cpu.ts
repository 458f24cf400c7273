// Wall AND CPU time (user+sys of the whole process, all threads) per iteration of bench workloads, streamnest vs
// the PyTorch twin (bench/pytorch/cpu_driver.py), alternating the two sides for --rounds rounds; medians.
// On a shared, oversubscribed machine the 1-thread CPU-time ratio is the steadier comparison of the work done.
//
//   node dist/bench/cpu.js <workload ...> [--threads N] [--repeat N] [--warmup N] [--rounds N]
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import * as t from '../src/torch/index.js';
import { WORKLOADS } from './workloads/index.js';
import { REPO_ROOT } from './workloads/nest-shapes.js';
import { cpuMs, median } from './timing.js';

const spec = {
  threads: { type: 'integer', default: 1, help: 'threads on both sides' },
  repeat: { type: 'integer', default: 3, help: 'timed iterations per side and round' },
  warmup: { type: 'integer', default: 1, help: 'warm-up iterations per side and round' },
  rounds: { type: 'integer', default: 2, help: 'alternations of the two sides' },
} satisfies OptionsSpec;

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function sn(name: string, warmup: number, repeat: number): Promise<{ wall: number; cpu: number }> {
  const w = WORKLOADS.find((x) => x.name === name);
  if (!w) throw new Error(`unknown workload ${name}; known: ${WORKLOADS.map((x) => x.name).join(', ')}`);
  const inst = w.setup();
  try {
    for (let i = 0; i < warmup; i++) {
      inst.step();
      await turn();
    }
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const c0 = cpuMs();
      const t0 = performance.now();
      inst.step();
      walls.push(performance.now() - t0);
      cpus.push(cpuMs() - c0);
      await turn();
    }
    return { wall: median(walls), cpu: median(cpus) };
  } finally {
    inst.dispose();
  }
}

function py(name: string, threads: number, warmup: number, repeat: number): { wall: number; cpu: number } {
  const dir = join(REPO_ROOT, 'bench', 'pytorch');
  const r = spawnSync(
    '/usr/bin/python3',
    [join(dir, 'cpu_driver.py'), name, '--threads', String(threads), '--warmup', String(warmup), '--repeat', String(repeat)],
    {
      encoding: 'utf8',
      cwd: dir,
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
    },
  );
  if (r.status !== 0) throw new Error(`cpu_driver.py ${name} failed:\n${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { wall_ms: number; cpu_ms: number };
  return { wall: j.wall_ms, cpu: j.cpu_ms };
}

async function main(): Promise<void> {
  const { options, positionals } = parseArgs(process.argv.slice(2), spec);
  t.setNumThreads(options.threads);
  const la = (): string =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(`threads ${options.threads}, repeat ${options.repeat}, rounds ${options.rounds}; load average ${la()}`);
  console.log('workload              sn wall ms   py wall ms  wall ratio   sn cpu ms   py cpu ms  cpu ratio');
  for (const name of positionals) {
    const s: { wall: number; cpu: number }[] = [];
    const p: { wall: number; cpu: number }[] = [];
    for (let r = 0; r < options.rounds; r++) {
      s.push(await sn(name, options.warmup, options.repeat));
      p.push(py(name, options.threads, options.warmup, options.repeat));
    }
    const sw = median(s.map((x) => x.wall));
    const sc = median(s.map((x) => x.cpu));
    const pw = median(p.map((x) => x.wall));
    const pc = median(p.map((x) => x.cpu));
    const f = (x: number): string => x.toFixed(1).padStart(11);
    console.log(`${name.padEnd(20)}${f(sw)}  ${f(pw)}  ${(sw / pw).toFixed(2).padStart(9)}x ${f(sc)} ${f(pc)}  ${(sc / pc).toFixed(2).padStart(8)}x`);
    console.log(
      JSON.stringify({
        workload: name,
        threads: options.threads,
        sn_wall_ms: sw,
        py_wall_ms: pw,
        sn_cpu_ms: sc,
        py_cpu_ms: pc,
        rounds_sn: s,
        rounds_py: p,
        load: la(),
      }),
    );
  }
  console.log(`load average after: ${la()}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`cpu bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
