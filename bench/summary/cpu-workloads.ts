// The cpu.js workloads of the summary (NEST-Small training step, features, op_overhead), each through
// bench/cpu.js in a child process: the same workload code and PyTorch twins as the detailed sections, wall and
// process CPU time per iteration, the two sides alternating for --rounds rounds, medians.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CPU_JS = fileURLToPath(new URL('../cpu.js', import.meta.url));

/** One workload's medians (ms per iteration) as cpu.js prints them in its JSON lines. */
export interface CpuResult {
  workload: string;
  sn_wall_ms: number;
  py_wall_ms: number;
  sn_cpu_ms: number;
  py_cpu_ms: number;
  load: string;
}

export interface CpuRunOptions {
  repeat: number;
  warmup: number;
  rounds: number;
  /** Each line cpu.js prints (progress). */
  progress: (line: string) => void;
}

/** Runs `node dist/bench/cpu.js <workloads> --threads 1 ...` (its lines passed on as they come) and returns its results by workload name. */
export async function runCpuWorkloads(workloads: readonly string[], o: CpuRunOptions): Promise<Map<string, CpuResult>> {
  const args = [CPU_JS, ...workloads, '--threads', '1', '--repeat', String(o.repeat), '--warmup', String(o.warmup), '--rounds', String(o.rounds)];
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const out = new Map<string, CpuResult>();
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (l) => {
    if (l.startsWith('{')) {
      const j = JSON.parse(l) as CpuResult;
      out.set(j.workload, j);
    } else if (l.trim() !== '') o.progress(`  cpu.js: ${l}`);
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`cpu.js ${workloads.join(' ')} failed (exit ${code})`);
  for (const w of workloads) if (!out.has(w)) throw new Error(`cpu.js printed no result for ${w}`);
  return out;
}
