// Streaming latency benchmark: per-chunk latency (p50 / p90 of wall and process CPU time per streamStep) and real-time
// factor of the fully causal NEST Small / Medium encoders (layer_norm, causal depthwise conv, causal_downsampling,
// att_context_size [-1, 0], random weights, seed 1234) at chunks of 80 / 160 / 320 / 640 ms, 1 thread, against
// a NeMo-style cache-aware loop in PyTorch (bench/pytorch/streaming_latency.py, same weights through
// exp/bench/stream_<size>.{pt,json}) and the physical limit (FLOPs per chunk / measured peak FLOP/s of a float32
// matmul, both from the Python side). The two sides alternate per (round, size, chunk); medians over rounds.
//
//   npx tsc -p tsconfig.json --outDir dist-slat && node dist-slat/bench/streaming/latency.js [--rounds 3] [--seconds 30]
//
// The attention cache is NeMo's fixed-size last_channel cache of --max-context slots (NeMo's default for left = -1
// is 10000; 384 >= the 376 encoder frames of 30 s keeps the stream exact and the per-step cost realistic).
// Like StreamingEncoder (the route of `streamnest stream`), the loop carries no attention inputs and lets the event loop
// turn between steps (outside the timed region). Until 2026-12 it did neither, and never turned the event loop during
// the whole run, so disposed tensor handles were never finalised: page faults per step grew with the chunk size and
// the per-chunk times were 1.1-1.55x (CPU) those of the CLI's route on the addon before commit ee07ae4, 1.05-1.2x
// after it; see BENCHMARKS.md "Streaming latency" and
// bench/streaming/paths.ts. For the figures users get, run `node dist/bench/summary.js` (the CLI itself).
import { loadavg } from 'node:os';
import { parseArgs, type OptionsSpec } from '../../src/cli/args.js';
import * as t from '../../src/torch/index.js';
import { ConformerEncoder } from '../../src/model/index.js';
import { nestArgs, writeHandoff, type NestSize } from '../workloads/nest-shapes.js';
import { median } from '../timing.js';
import { HOP, quantile, S, streamFrames, timeStepLoop } from './step-loop.js';
import { runTwin, type TwinResult } from './twin.js';

const spec = {
  rounds: { type: 'integer', default: 3, help: 'alternations of the two sides' },
  seconds: { type: 'integer', default: 30, help: 'stream length in seconds of features' },
  'max-context': { type: 'integer', default: 384, help: 'attention cache slots (NeMo max_context)' },
  sizes: { type: 'string', default: 'small,medium', help: 'model sizes' },
  chunks: { type: 'string', default: '80,160,320,640', help: 'chunk lengths in ms' },
  threads: { type: 'integer', default: 1, help: 'threads on both sides' },
} satisfies OptionsSpec;

interface Side {
  p50: number;
  p90: number;
  cpu50: number;
  cpu90: number;
  total: number;
  steps: number;
}

async function runSn(enc: ConformerEncoder, k: number, seconds: number, maxContext: number): Promise<Side> {
  const r = await timeStepLoop(enc, k, seconds, { maxContext, keepInputs: false, turn: true });
  const q = quantile;
  return { p50: q(r.walls, 0.5), p90: q(r.walls, 0.9), cpu50: q(r.cpus, 0.5), cpu90: q(r.cpus, 0.9), total: r.total, steps: r.walls.length };
}

function runPy(size: NestSize, k: number, seconds: number, maxContext: number, threads: number): TwinResult {
  return runTwin(size, k, streamFrames(seconds, k), maxContext, threads);
}

async function main(): Promise<void> {
  const { options } = parseArgs(process.argv.slice(2), spec);
  t.setNumThreads(options.threads);
  const sizes = options.sizes.split(',') as NestSize[];
  const chunks = options.chunks.split(',').map(Number);
  const maxContext = options['max-context'];
  const la = (): string =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(`threads ${options.threads}, ${options.seconds} s streams, max_context ${maxContext}, rounds ${options.rounds}; load average ${la()}`);
  const encs = new Map<NestSize, ConformerEncoder>();
  for (const size of sizes) {
    const cfg = nestArgs('streaming', size, 1234).encoder;
    const enc = new ConformerEncoder(cfg, { init: { generator: new t.Generator(1234) } });
    enc.eval();
    writeHandoff(`stream_${size}`, { encoder: cfg, seed: 1234 }, (p) => t.saveStateDict(p, enc.stateDict()));
    encs.set(size, enc);
  }
  const res = new Map<string, { sn: Side[]; py: TwinResult[] }>();
  for (let round = 0; round < options.rounds; round++) {
    for (const size of sizes) {
      for (const ms of chunks) {
        const k = Math.round(ms / (HOP * S * 1000));
        const key = `${size} ${ms}`;
        if (!res.has(key)) res.set(key, { sn: [], py: [] });
        const e = res.get(key)!;
        const a = await runSn(encs.get(size)!, k, options.seconds, maxContext);
        const b = runPy(size, k, options.seconds, maxContext, options.threads);
        e.sn.push(a);
        e.py.push(b);
        console.log(
          `round ${round} ${key.padEnd(11)} sn p50 ${a.p50.toFixed(2)} cpu ${a.cpu50.toFixed(2)} | py p50 ${b.p50.toFixed(2)} cpu ${b.cpu50.toFixed(2)} | py stream==offline max|diff| ${b.check.toExponential(2)} | load ${la()}`,
        );
      }
    }
  }
  console.log(`\nmedians over ${options.rounds} rounds (ms per chunk; RTF = p50 wall / chunk length); load average ${la()}`);
  console.log(
    '| size | chunk | sn p50 | sn p90 | sn cpu p50 | py p50 | py p90 | py cpu p50 | sn/py wall | sn/py cpu | sn RTF | py RTF | GFLOP/chunk | limit ms | sn / limit |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [key, e] of res) {
    const [size, ms] = key.split(' ');
    const m = (xs: (Side | TwinResult)[], f: keyof Side): number => median(xs.map((x) => x[f]));
    const sp50 = m(e.sn, 'p50');
    const pp50 = m(e.py, 'p50');
    const scpu = m(e.sn, 'cpu50');
    const pcpu = m(e.py, 'cpu50');
    const flops = e.py[0]!.flops;
    const peak = median(e.py.map((x) => x.peak));
    const limit = (flops / peak) * 1000;
    console.log(
      `| ${size} | ${ms} ms | ${sp50.toFixed(2)} | ${m(e.sn, 'p90').toFixed(2)} | ${scpu.toFixed(2)} | ${pp50.toFixed(2)} | ${m(e.py, 'p90').toFixed(2)} | ${pcpu.toFixed(2)} | ${(sp50 / pp50).toFixed(2)} | ${(scpu / pcpu).toFixed(2)} | ${(sp50 / Number(ms)).toFixed(3)} | ${(pp50 / Number(ms)).toFixed(3)} | ${(flops / 1e9).toFixed(3)} | ${limit.toFixed(2)} | ${(sp50 / limit).toFixed(1)}x |`,
    );
  }
  const peaks = [...res.values()].flatMap((e) => e.py.map((x) => x.peak));
  console.log(`peak float32 matmul (1 thread, 2048^3, median): ${(median(peaks) / 1e9).toFixed(1)} GFLOP/s`);
  for (const enc of encs.values()) enc.dispose();
}

await main();
