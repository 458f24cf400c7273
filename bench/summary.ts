// One command for the comparison table at the top of BENCHMARKS.md (issue #16 item 6): runs, one after another on 1
// thread, (a) the NEST-Small streaming-recipe training step, (b) streaming latency at 80 / 160 / 320 / 640 ms chunks
// through `streamnest stream --json` (the CLI users run) against the twin's cache-aware loop at the same cache size,
// (c) the log-mel features at batch 1 and 8, (d) op_overhead, each against its PyTorch twin; and three comparisons of
// streamnest with itself: (e) the training step in bf16-mixed against float32, (f) 16 batched streams against one,
// (g) data parallel over 2 processes against 1; then rewrites the block between <!-- summary:begin --> and
// <!-- summary:end --> with the table, the machine, load, date, commit and command. Progress goes to stderr. A full
// run: about 15 minutes on a quiet 2-core machine; --quick: about 7 minutes at load 6.
//
//   npx tsc -p . && node dist/bench/summary.js [--quick] [--file BENCHMARKS.md] [--dry-run]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import { writeFileAtomic } from '../src/torch/serialize/atomic-file.js';
import { runCpuWorkloads, type CpuResult } from './summary/cpu-workloads.js';
import { addonBuilt, loadAverage, machineInfo } from './summary/machine.js';
import {
  runBatchedStreams,
  runDataParallel,
  runMixedPrecision,
  type BatchedResult,
  type DataParallelResult,
  type MixedPrecisionResult,
} from './summary/self-comparisons.js';
import { runStreamingRows, type StreamingRow } from './summary/streaming.js';
import { replaceSummary, summaryBlock, type SummaryRow } from './summary/table.js';
import { REPO_ROOT } from './workloads/nest-shapes.js';

const spec = {
  quick: { type: 'boolean', help: 'shorter streams, fewer repeats and rounds (a smoke test)' },
  file: { type: 'string', default: 'BENCHMARKS.md', help: 'the markdown file whose summary block is rewritten (relative to the repository)' },
  dryRun: { type: 'boolean', help: 'print the block on stdout instead of writing the file' },
} satisfies OptionsSpec;

/**
 * Repeats per part: the full run, and --quick. op_overhead warms up for 500 iterations (100,000 calls): V8 compiles
 * the call path only after some thousands of calls, so 10 warm-up iterations measured its compilation (2.0-2.5x the
 * twin's per-op cost against 1.2-1.3x once compiled, BENCHMARKS.md "Summary"); a stream makes that many calls in
 * its first seconds. The twin (CPython) has no such warm-up.
 */
const SETTINGS = {
  full: {
    train: { repeat: 3, warmup: 1, rounds: 2 },
    stream: { seconds: 20, rounds: 3 },
    features: { repeat: 10, warmup: 2, rounds: 3 },
    ops: { repeat: 200, warmup: 500, rounds: 3 },
    bf16: { repeat: 2, rounds: 2 },
    batched: { streams: 16, seconds: 12, rounds: 5 },
    dataParallel: { steps: 80, rounds: 5 },
  },
  quick: {
    train: { repeat: 1, warmup: 1, rounds: 1 },
    stream: { seconds: 8, rounds: 1 },
    features: { repeat: 3, warmup: 1, rounds: 1 },
    ops: { repeat: 50, warmup: 300, rounds: 1 },
    bf16: { repeat: 1, rounds: 1 },
    batched: { streams: 16, seconds: 6, rounds: 1 },
    dataParallel: { steps: 30, rounds: 1 },
  },
} as const;

const CHUNKS_MS = [80, 160, 320, 640];
/** Goals (issue #16): the training step stays ahead of the twin (at most 1x), the streaming p50 at most 0.5x (the issue
 * asks 0.5x NeMo's own step; the twin, faster than NeMo, is the stricter anchor), per-op cost at most 1.5x; features
 * at least 1000x real time on one core (the feature issue). */
const TRAIN_MAX_RATIO = 1;
const STREAM_MAX_RATIO = 0.5;
/** Issue #16: steady-state p99 at most 2x p50, the first chunks reported apart (the CLI's steady_latency_ms). */
const STEADY_P99_MAX = 2;
const FEATURES_MIN_RT = 1000;
const OPS_MAX_RATIO = 1.5;
const FEATURE_SECONDS = { features_b1: 16, features_b8: 128 } as const;
/** Issue #16 item 3: bf16-mixed at least 1.5x faster than float32 (the training step's CPU time). */
const BF16_MIN_SPEEDUP = 1.5;
/** Item 2: per-stream cost at batch 16 at most 0.25x that of batch 1. */
const BATCHED_MAX_RATIO = 0.25;
/** Item 5: at least 1.6x with 2 processes on a model larger than tiny. */
const DATA_PARALLEL_MIN_SPEEDUP = 1.6;

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function trainingRow(r: CpuResult): SummaryRow {
  const ratio = r.sn_cpu_ms / r.py_cpu_ms;
  const cell = (cpu: number, wall: number): string => `${(cpu / 1000).toFixed(1)} s CPU (wall ${(wall / 1000).toFixed(1)} s)`;
  return {
    workload: 'NEST-Small training step, streaming recipe, B=8 x 16 s (per step)',
    streamnest: cell(r.sn_cpu_ms, r.sn_wall_ms),
    twin: cell(r.py_cpu_ms, r.py_wall_ms),
    ratio,
    goal: '≤ 1.00x (stay ahead)',
    met: ratio <= TRAIN_MAX_RATIO,
  };
}

function streamingRow(r: StreamingRow): SummaryRow {
  const ratio = r.ratio;
  const steadyTail = r.snSteady.p99 / r.snSteady.p50;
  return {
    workload: `streaming, ${r.chunkMs} ms chunks: p50 (p99 of every push / of the steady state) ms per chunk, cache ${r.maxContext} frames`,
    streamnest: `${ms(r.sn.p50)} (${ms(r.sn.p99)} / ${ms(r.snSteady.p99)}: ${steadyTail.toFixed(1)}x p50)`,
    twin: `${ms(r.twin.p50)} (${ms(r.twin.p99)})`,
    ratio,
    goal: `≤ ${STREAM_MAX_RATIO.toFixed(2)}x (p50); steady p99 ≤ ${STEADY_P99_MAX}x p50`,
    met: ratio <= STREAM_MAX_RATIO && steadyTail <= STEADY_P99_MAX,
  };
}

function featuresRow(r: CpuResult): SummaryRow {
  const seconds = FEATURE_SECONDS[r.workload as keyof typeof FEATURE_SECONDS];
  const rt = (cpu: number): number => (seconds * 1000) / cpu;
  const cell = (cpu: number, wall: number): string => `${ms(cpu)} ms CPU (wall ${ms(wall)}; ${rt(cpu).toFixed(0)}x real time)`;
  return {
    workload: `${r.workload}: log-mel features of ${seconds / 16} x 16 s`,
    streamnest: cell(r.sn_cpu_ms, r.sn_wall_ms),
    twin: cell(r.py_cpu_ms, r.py_wall_ms),
    ratio: r.sn_cpu_ms / r.py_cpu_ms,
    goal: '≥ 1000x real time on one core (CPU time)',
    met: rt(r.sn_cpu_ms) >= FEATURES_MIN_RT,
  };
}

function opsRow(r: CpuResult): SummaryRow {
  const ratio = r.sn_cpu_ms / r.py_cpu_ms;
  const cell = (cpu: number, wall: number): string => `${cpu.toFixed(2)} ms CPU (wall ${wall.toFixed(2)})`;
  return {
    workload: 'op_overhead: 200 adds of [16] tensors (per-op fixed cost)',
    streamnest: cell(r.sn_cpu_ms, r.sn_wall_ms),
    twin: cell(r.py_cpu_ms, r.py_wall_ms),
    ratio,
    goal: '≤ 1.50x',
    met: ratio <= OPS_MAX_RATIO,
  };
}

function mixedPrecisionRow(r: MixedPrecisionResult): SummaryRow {
  const speedup = r.fp32CpuMs / r.bf16CpuMs;
  const cell = (cpu: number, wall: number): string => `${(cpu / 1000).toFixed(1)} s CPU (wall ${(wall / 1000).toFixed(1)} s)`;
  return {
    workload: 'NEST-Small training step in bf16-mixed (CPU autocast), B=8 x 16 s, against the same step in float32 (per step)',
    streamnest: cell(r.bf16CpuMs, r.bf16WallMs),
    twin: `streamnest float32: ${cell(r.fp32CpuMs, r.fp32WallMs)}`,
    ratio: r.bf16CpuMs / r.fp32CpuMs,
    ratioText: `${speedup.toFixed(2)}x faster`,
    goal: `≥ ${BF16_MIN_SPEEDUP.toFixed(1)}x faster`,
    met: speedup >= BF16_MIN_SPEEDUP,
  };
}

function batchedRow(r: BatchedResult): SummaryRow {
  return {
    workload: `batched streams: per-stream cost of ${r.streams} streams pushed together, against one stream (NEST-Small causal, ${r.chunkMs} ms chunks, step p50)`,
    streamnest: `${ms(r.stepMs / r.streams)} ms per stream (step ${ms(r.stepMs)} ms)`,
    twin: `streamnest, 1 stream: ${ms(r.oneStreamMs)} ms`,
    ratio: r.ratio,
    goal: `≤ ${BATCHED_MAX_RATIO.toFixed(2)}x`,
    met: r.ratio <= BATCHED_MAX_RATIO,
  };
}

function dataParallelRow(r: DataParallelResult): SummaryRow {
  return {
    workload: `data parallel: \`pretrain trainer.devices=2\` against devices=1 (4 layers, d 176, batch ${r.batch} per process; utterances/s)`,
    streamnest: `${r.uttPerS.toFixed(1)} utt/s (2 independent runs at once, the machine's ceiling: ${r.ceiling.toFixed(2)}x)`,
    twin: `streamnest, 1 process: ${r.oneProcessUttPerS.toFixed(1)} utt/s`,
    ratio: 1 / r.speedup,
    ratioText: `${r.speedup.toFixed(2)}x the utterances/s`,
    goal: `≥ ${DATA_PARALLEL_MIN_SPEEDUP.toFixed(1)}x`,
    met: r.speedup >= DATA_PARALLEL_MIN_SPEEDUP,
  };
}

async function main(): Promise<void> {
  const { options } = parseArgs(process.argv.slice(2), spec, { maxPositionals: 0 });
  const s = options.quick ? SETTINGS.quick : SETTINGS.full;
  const started = new Date();
  const loadBefore = loadAverage();
  const machine = machineInfo();
  const loadByPart: { part: string; load: string }[] = [];
  const part = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
    progress(`summary: ${name} (load average ${loadAverage()})`);
    const r = await fn();
    loadByPart.push({ part: name, load: loadAverage() });
    return r;
  };
  progress(`summary: ${machine.cpuModel}, ${machine.cores} cores, libtorch ${machine.libtorch}, commit ${machine.commit}${options.quick ? ', --quick' : ''}`);

  const train = await part('training step', () => runCpuWorkloads(['nest_train_small'], { ...s.train, progress }));
  const stream = await part('streaming', () => runStreamingRows({ chunks: CHUNKS_MS, ...s.stream, progress }));
  const features = await part('features', () => runCpuWorkloads(['features_b1', 'features_b8'], { ...s.features, progress }));
  const ops = await part('op_overhead', () => runCpuWorkloads(['op_overhead'], { ...s.ops, progress }));
  const bf16 = await part('bf16-mixed training step', () => runMixedPrecision({ ...s.bf16, progress }));
  const batched = await part('batched streams', () => runBatchedStreams({ ...s.batched, progress }));
  const dataParallel = await part('data parallel', () => runDataParallel({ ...s.dataParallel, progress }));

  const rows: SummaryRow[] = [
    trainingRow(train.get('nest_train_small')!),
    ...stream.map(streamingRow),
    featuresRow(features.get('features_b1')!),
    featuresRow(features.get('features_b8')!),
    opsRow(ops.get('op_overhead')!),
    mixedPrecisionRow(bf16),
    batchedRow(batched),
    dataParallelRow(dataParallel),
  ];
  const loadAfter = loadAverage();
  const overloaded = Number(loadBefore.split(' / ')[0]) > machine.cores || Number(loadAfter.split(' / ')[0]) > machine.cores;
  const notes = [
    "- Ratio: streamnest / twin. Training step, features and op_overhead: process CPU time per iteration (1 thread, the steadier figure on a shared machine; wall in brackets), median over rounds of `bench/cpu.js`. Streaming: wall time, which is what `streamnest stream --json` reports; its ratio is the median of the rounds' ratios (each round runs the CLI and the twin back to back), not the ratio of the two medians.",
    `- Streaming: \`streamnest stream --json --chunk-size S --warmup ${s.stream.seconds}\` on ${s.stream.seconds} s of pink noise through a NEST-Small streaming-recipe .nemo (random weights, seed 1234; \`bench/streaming/cli-model.ts\`): each push of one chunk of audio, its features included, is one latency; the twin (\`bench/pytorch/streaming_latency.py\`) runs the same encoder weights with the same attention cache (the CLI's default: the file's length). Twin stream == its own offline pass: max \\|diff\\| ≤ ${Math.max(...stream.map((r) => r.twinCheck)).toExponential(1)}. p99: the first figure counts every push of the timed stream; the second is the CLI's steady state (\`steady_latency_ms\`: without the first 3 pushes and the final flush); the twin's are steady steps of its second, warm pass. Both sides are warm: the CLI first streams as many seconds of silence through a throwaway stream, untimed (\`--warmup\`; without it a fresh process's pushes stay 4-10% slower for a while, until V8 has compiled their code). See "Streaming latency" for why \`bench/streaming/latency.js\` gives other numbers.`,
    `- Rows against streamnest itself: bf16-mixed vs float32, \`bench/mixed_precision.js\` (process CPU time of the whole step, median; the two precisions alternate per round); batched streams, \`bench/streaming/batched.js\` (\`StreamingEncoder.pushFeatures\`, exact mode, ${s.batched.seconds} s streams; the ratio is the median of the rounds' ratios, 1 and ${s.batched.streams} streams run back to back: ${batched.ratioRounds.map((x) => x.toFixed(3)).join(', ')}); data parallel, \`bench/distributed/scaling.js\` (shared-memory gradients, the set-ups alternating per round; speed-ups per round: ${dataParallel.speedupRounds.map((x) => x.toFixed(2)).join(', ')}). Their twin column names the reference run.`,
    `- Repeats: training step ${s.train.repeat} timed + ${s.train.warmup} warm-up per side and round, ${s.train.rounds} round(s); streaming ${s.stream.rounds} round(s); features ${s.features.repeat} + ${s.features.warmup}, ${s.features.rounds} round(s); op_overhead ${s.ops.repeat} + ${s.ops.warmup}, ${s.ops.rounds} round(s); bf16-mixed ${s.bf16.repeat} timed + 1 warm-up per precision and round, ${s.bf16.rounds} round(s); batched streams ${s.batched.rounds} round(s); data parallel ${s.dataParallel.steps} steps (the first 5 not timed), ${s.dataParallel.rounds} round(s).`,
  ];
  const addonNow = addonBuilt();
  if (addonNow !== machine.addonBuilt)
    notes.push(`- **The native addon was rebuilt during the run** (${machine.addonBuilt} → ${addonNow}): parts that started after that ran other native code.`);
  if (overloaded)
    notes.push(
      `- **The load average exceeded the ${machine.cores} cores**: other work shared the machine, so wall times are inflated and every figure is noisy.`,
    );
  const block = summaryBlock(
    rows,
    {
      machine,
      twinTorch: stream[0]?.twinTorch ?? 'unknown',
      quick: options.quick === true,
      command: ['node dist/bench/summary.js', ...process.argv.slice(2)].join(' '),
      started,
      finished: new Date(),
      loadBefore,
      loadAfter,
      loadByPart,
    },
    notes,
  );
  if (options.dryRun) {
    process.stdout.write(`${block}\n`);
    return;
  }
  const file = join(REPO_ROOT, options.file);
  writeFileAtomic(file, Buffer.from(replaceSummary(readFileSync(file, 'utf8'), block)));
  progress(`summary: wrote the summary block of ${file}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`summary: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
