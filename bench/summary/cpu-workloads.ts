// The cpu.js workloads of the summary (NEST-Small training step, features, op_overhead), each through
// bench/cpu.js in a child process: the same workload code and PyTorch twins as the detailed sections, wall and
// process CPU time per iteration, the two sides alternating for --rounds rounds, medians.
import { benchScript, runJsonChild } from './child-json.js';

const CPU_JS = benchScript('../cpu.js');

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
  const args = [...workloads, '--threads', '1', '--repeat', String(o.repeat), '--warmup', String(o.warmup), '--rounds', String(o.rounds)];
  const results = (await runJsonChild(CPU_JS, args, o.progress)) as unknown as CpuResult[];
  const out = new Map(results.map((r) => [r.workload, r]));
  for (const w of workloads) if (!out.has(w)) throw new Error(`cpu.js printed no result for ${w}`);
  return out;
}
