// The PyTorch twin of the streaming benchmarks: bench/pytorch/streaming_latency.py, NeMo's cache-aware loop (fixed
// cache_last_channel of max_context slots, cache_last_time, pre-encode cache, drop_extra_pre_encoded) over the compact
// FastConformer with the weights streamnest handed off in exp/bench/stream_<name>.{pt,json}.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../workloads/nest-shapes.js';

export interface TwinResult {
  p50: number;
  p90: number;
  p99: number;
  cpu50: number;
  cpu90: number;
  total: number;
  steps: number;
  /** FLOPs of one steady step and the peak float32 matmul rate (FLOP/s), both measured by the twin. */
  flops: number;
  peak: number;
  /** max |streamed - offline| of the twin's own stream (its exactness check). */
  check: number;
  /** torch.__version__ of the twin. */
  torch: string;
}

/** The JSON line streaming_latency.py prints. */
interface TwinJson {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  cpu_p50_ms: number;
  cpu_p90_ms: number;
  total_ms: number;
  steps: number;
  flops_per_chunk: number;
  peak_flops: number;
  offline_max_abs_diff: number;
  torch: string;
}

/**
 * Runs the twin (hand-off `name`: small, medium, small_cli) on `frames` random feature frames in chunks of k encoder frames with `maxContext` cache slots.
 */
export function runTwin(name: string, k: number, frames: number, maxContext: number, threads: number): TwinResult {
  const dir = join(REPO_ROOT, 'bench', 'pytorch');
  const args = ['--size', name, '--chunk-frames', String(k), '--frames', String(frames), '--max-context', String(maxContext), '--threads', String(threads)];
  const r = spawnSync('/usr/bin/python3', [join(dir, 'streaming_latency.py'), ...args], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) throw new Error(`streaming_latency.py ${args.join(' ')} failed:\n${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as TwinJson;
  return {
    p50: j.p50_ms,
    p90: j.p90_ms,
    p99: j.p99_ms,
    cpu50: j.cpu_p50_ms,
    cpu90: j.cpu_p90_ms,
    total: j.total_ms,
    steps: j.steps,
    flops: j.flops_per_chunk,
    peak: j.peak_flops,
    check: j.offline_max_abs_diff,
    torch: j.torch,
  };
}
