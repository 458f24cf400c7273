// The summary's rows whose reference is streamnest itself (issue #16 items 2, 3 and 5): the NEST-Small training step
// in bf16-mixed against float32 (bench/mixed_precision.js), 16 batched streams against one (bench/streaming/batched.js)
// and data parallel over 2 processes against 1 (bench/distributed/scaling.js), each in a child process through the
// script's --json line.
import { benchScript, runJsonChild } from './child-json.js';

type Progress = (line: string) => void;

function only(results: Record<string, unknown>[], what: string): Record<string, unknown> {
  if (results.length !== 1) throw new Error(`${what}: expected one JSON result line, got ${results.length}`);
  return results[0]!;
}

function num(r: Record<string, unknown>, key: string, what: string): number {
  const v = r[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what}: its JSON result has no number '${key}'`);
  return v;
}

export interface MixedPrecisionResult {
  fp32CpuMs: number;
  bf16CpuMs: number;
  fp32WallMs: number;
  bf16WallMs: number;
}

/** The whole step's CPU and wall medians in both precisions (alternating per round; ops not timed). */
export async function runMixedPrecision(o: { repeat: number; rounds: number; progress: Progress }): Promise<MixedPrecisionResult> {
  const what = 'mixed_precision.js';
  const args = ['--threads', '1', '--repeat', String(o.repeat), '--rounds', String(o.rounds), '--no-ops', '--json'];
  const r = only(await runJsonChild(benchScript('../mixed_precision.js'), args, o.progress), what);
  return {
    fp32CpuMs: num(r, 'fp32_cpu_ms', what),
    bf16CpuMs: num(r, 'bf16_cpu_ms', what),
    fp32WallMs: num(r, 'fp32_wall_ms', what),
    bf16WallMs: num(r, 'bf16_wall_ms', what),
  };
}

export interface BatchedResult {
  streams: number;
  chunkMs: number;
  /** Median over rounds of the batched step's p50 (ms) and of one stream's step p50. */
  stepMs: number;
  oneStreamMs: number;
  /** Median over rounds of (step / streams) / one stream's step, each round's pair run back to back. */
  ratio: number;
  ratioRounds: number[];
}

/** `streams` streams pushed together against one, NEST-Small fully causal, 320 ms chunks, alternating per round. */
export async function runBatchedStreams(o: { streams: number; seconds: number; rounds: number; progress: Progress }): Promise<BatchedResult> {
  const what = 'batched.js';
  const args = ['--streams', `1,${o.streams}`, '--seconds', String(o.seconds), '--chunk-ms', '320', '--rounds', String(o.rounds), '--json'];
  const r = only(await runJsonChild(benchScript('../streaming/batched.js'), args, o.progress), what);
  return {
    streams: num(r, 'streams', what),
    chunkMs: num(r, 'chunk_ms', what),
    stepMs: num(r, 'step_ms', what),
    oneStreamMs: num(r, 'one_stream_ms', what),
    ratio: num(r, 'ratio', what),
    ratioRounds: (r.ratio_rounds as number[]) ?? [],
  };
}

export interface DataParallelResult {
  model: string;
  batch: number;
  /** 2 processes: median over rounds of the utterances/s against devices=1 of the same round. */
  speedup: number;
  speedupRounds: number[];
  uttPerS: number;
  oneProcessUttPerS: number;
  /** 2 independent single-process runs at once (no collectives): the most any 2-process data parallel can reach here. */
  ceiling: number;
}

/** The model the issue names ("larger than tiny, e.g. 4 layers at d 176"). */
export const DATA_PARALLEL_MODEL = 'model.encoder.n_layers=4 model.encoder.d_model=176 model.encoder.n_heads=4';

/** `streamnest pretrain` with trainer.devices=1 and 2 (shared-memory gradients) and the ceiling pair, alternating per round. */
export async function runDataParallel(o: { steps: number; rounds: number; progress: Progress }): Promise<DataParallelResult> {
  const what = 'scaling.js';
  const args = ['--steps', String(o.steps), '--skip', '5', '--batch', '4', '--model', DATA_PARALLEL_MODEL, '--ceiling', '--rounds', String(o.rounds), '--json'];
  const results = await runJsonChild(benchScript('../distributed/scaling.js'), args, o.progress);
  const dp = results.find((r) => r.label === 'devices=2');
  const pair = results.find((r) => r.label === '2 independent');
  if (!dp || !pair) throw new Error(`${what}: no result for devices=2 or the independent pair`);
  return {
    model: DATA_PARALLEL_MODEL,
    batch: num(dp, 'batch', what),
    speedup: num(dp, 'speedup', what),
    speedupRounds: (dp.speedup_rounds as number[]) ?? [],
    uttPerS: num(dp, 'utt_per_s', what),
    oneProcessUttPerS: num(dp, 'one_process_utt_per_s', what),
    ceiling: num(pair, 'speedup', what),
  };
}
