// Benchmark harness: each workload in streamnest (in this process) and in PyTorch (its twin bench/pytorch/<name>.py
// run by Debian's /usr/bin/python3 with torch 1.13), same thread count, same machine, one after the other.
//
//   npm run bench                        (tsc, then every workload at 1 and 2 threads)
//   node dist/bench/run.js [workload ...] [--threads N[,M]] [--repeat N] [--warmup N] [--rounds N] [--json]
//
// Each side: warm-up iterations, then the median of --repeat timed iterations. With --rounds R the two sides
// alternate R times and the median of the per-round medians is reported (steadier on a shared machine).
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgError, closest, formatOptions, parseArgs, type OptionsSpec } from '../src/cli/args.js';
import * as t from '../src/torch/index.js';
import { collectDisposedHandles } from '../src/torch/startup.js';
import { WORKLOADS } from './workloads/index.js';
import type { Workload } from './workload.js';
import { median } from './timing.js';

const spec = {
  threads: { type: 'string', multiple: true, metavar: 'N[,M...]', help: 'thread counts to run (default: 1 and 2, capped at the core count)' },
  repeat: { type: 'integer', help: 'timed iterations per side (default: per workload)' },
  warmup: { type: 'integer', help: 'warm-up iterations per side (default: per workload)' },
  rounds: { type: 'integer', default: 1, help: 'alternate streamnest/PyTorch this many times; report the median' },
  python: { type: 'string', help: 'Python with torch (default: $STREAMNEST_BENCH_PYTHON or /usr/bin/python3)' },
  only: { type: 'string', choices: ['both', 'streamnest', 'pytorch'], default: 'both' },
  gc: { type: 'boolean', help: 'streamnest: a minor GC after each step, inside the timed region (collectDisposedHandles)' },
  json: { type: 'boolean', help: 'print the results as JSON lines as well' },
  help: { type: 'boolean', short: 'h' },
} satisfies OptionsSpec;

const USAGE = `Usage: node dist/bench/run.js [workload ...] [options]

Workloads: ${WORKLOADS.map((w) => w.name).join(', ')} (default: all)

Options:
${formatOptions(spec)}`;

const REPO_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && d !== '/') d = dirname(d);
  return d;
})();

export interface Result {
  workload: string;
  threads: number;
  streamnestMs: number | null;
  pytorchMs: number | null;
  ratio: number | null;
  /** Process CPU time per iteration (all threads): steadier than wall time on a loaded machine. */
  streamnestCpuMs: number | null;
  pytorchCpuMs: number | null;
  cpuRatio: number | null;
}

/** Median wall-clock and CPU milliseconds per iteration. */
export interface Timing {
  ms: number;
  cpuMs: number;
}

/** Lets Node's event loop turn, as a program between steps does (FinalizationRegistry callbacks run only then). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Times one workload in streamnest at the current thread setting: median ms per iteration. The event loop turns
 * between iterations (outside the timed region), as it does between steps of a real training loop that awaits
 * its data; without that, the finalizers of every wrapper made during the whole run pile up (see BENCHMARKS.md).
 */
export async function timeStreamnest(w: Workload, warmup: number, repeat: number, gc = false): Promise<Timing> {
  const setup = w.setup();
  const inst = gc
    ? {
        step: () => {
          setup.step();
          collectDisposedHandles();
        },
        dispose: () => setup.dispose(),
      }
    : setup;
  try {
    for (let i = 0; i < warmup; i++) {
      inst.step();
      await turn();
    }
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      inst.step();
      times.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      await turn();
    }
    return { ms: median(times), cpuMs: median(cpu) };
  } finally {
    inst.dispose();
  }
}

function timePytorch(python: string, w: Workload, threads: number, warmup: number, repeat: number): Timing {
  const script = join(REPO_ROOT, 'bench', 'pytorch', `${w.name}.py`);
  if (!existsSync(script)) throw new Error(`no PyTorch twin for ${w.name}: ${script}`);
  const r = spawnSync(python, [script, '--threads', String(threads), '--warmup', String(warmup), '--repeat', String(repeat)], {
    encoding: 'utf8',
    cwd: dirname(script),
    // torch.set_num_threads(n) sets libtorch's pool only; OpenBLAS reads its count from the environment.
    // streamnest's setNumThreads sets both, so this makes the two sides use the same threads.
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
  });
  if (r.error) throw new Error(`cannot run ${python}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${python} ${script} failed (exit ${r.status}):\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  const parsed = JSON.parse(last) as { ms_per_iter: number; cpu_ms_per_iter?: number; threads: number };
  if (parsed.threads !== threads) throw new Error(`${w.name}: PyTorch ran with ${parsed.threads} threads, asked for ${threads}`);
  return { ms: parsed.ms_per_iter, cpuMs: parsed.cpu_ms_per_iter ?? NaN };
}

function fmt(x: number | null, digits = 2): string {
  return x === null ? '-' : x.toFixed(digits);
}

export function machineReport(python: string): string {
  const cpu = cpus()[0]?.model ?? 'unknown';
  const blas = t.blasReport();
  let torchPy = '?';
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.status === 0) torchPy = r.stdout.trim();
  const la = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  return [
    `machine: ${cpus().length} cores, ${cpu}; load average ${la}`,
    `streamnest: libtorch ${t.libtorchVersion()}, BLAS ${blas.kind} (${blas.library ?? '?'}), node ${process.version}`,
    `pytorch: ${python}, torch ${torchPy}`,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { options, positionals } = parseArgs(argv, spec);
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const selected: Workload[] = [];
  for (const name of positionals) {
    const w = WORKLOADS.find((x) => x.name === name);
    if (!w) {
      const hint = closest(
        name,
        WORKLOADS.map((x) => x.name),
      );
      throw new ArgError(`unknown workload '${name}'${hint ? ` (did you mean '${hint}'?)` : ''}; known: ${WORKLOADS.map((x) => x.name).join(', ')}`);
    }
    selected.push(w);
  }
  if (selected.length === 0) selected.push(...WORKLOADS);
  const ncpu = cpus().length;
  const threadList = options.threads.length
    ? options.threads
        .flatMap((s) => s.split(','))
        .map((s) => {
          const n = Number(s);
          if (!Number.isInteger(n) || n < 1) throw new ArgError(`--threads: expected positive integers, got '${s}'`);
          return n;
        })
    : [...new Set([1, Math.min(2, ncpu)])];
  const python = options.python ?? process.env.STREAMNEST_BENCH_PYTHON ?? '/usr/bin/python3';
  const doSn = options.only !== 'pytorch';
  const doPy = options.only !== 'streamnest';
  if (options.rounds < 1) throw new ArgError('--rounds must be at least 1');

  t.checkBlas();
  console.log(machineReport(python));
  console.log(
    `date: ${new Date().toISOString()}; repeat ${options.repeat ?? 'per workload'}, rounds ${options.rounds}${options.gc ? ', streamnest with a minor GC per step' : ''}\n`,
  );

  const results: Result[] = [];
  const header = ['workload', 'threads', 'streamnest ms', 'pytorch ms', 'ratio', 'sn cpu ms', 'pt cpu ms', 'cpu ratio'];
  const widths = [18, 7, 13, 10, 6, 9, 9, 9];
  const row = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(row(header));
  console.log(row(widths.map((w) => '-'.repeat(w))));
  for (const w of selected) {
    for (const n of threadList) {
      t.setNumThreads(n);
      const warmup = options.warmup ?? w.warmup;
      const repeat = options.repeat ?? w.repeat;
      const sn: Timing[] = [];
      const py: Timing[] = [];
      for (let r = 0; r < options.rounds; r++) {
        if (doSn) sn.push(await timeStreamnest(w, warmup, repeat, options.gc));
        if (doPy) py.push(timePytorch(python, w, n, warmup, repeat));
      }
      const med = (xs: Timing[], k: keyof Timing): number | null => (xs.length ? median(xs.map((x) => x[k])) : null);
      const snMs = med(sn, 'ms');
      const pyMs = med(py, 'ms');
      const snCpu = med(sn, 'cpuMs');
      const pyCpu = med(py, 'cpuMs');
      const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && Number.isFinite(a / b) ? a / b : null);
      const res: Result = {
        workload: w.name,
        threads: n,
        streamnestMs: snMs,
        pytorchMs: pyMs,
        ratio: ratio(snMs, pyMs),
        streamnestCpuMs: snCpu,
        pytorchCpuMs: pyCpu,
        cpuRatio: ratio(snCpu, pyCpu),
      };
      results.push(res);
      const x = (r: number | null): string => (r === null ? '-' : r.toFixed(2) + 'x');
      console.log(row([w.name, String(n), fmt(snMs), fmt(pyMs), x(res.ratio), fmt(snCpu), fmt(pyCpu), x(res.cpuRatio)]));
    }
  }
  console.log(
    `\nload average after: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  if (options.json) for (const r of results) console.log(JSON.stringify(r));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof ArgError ? 2 : 1;
  },
);
