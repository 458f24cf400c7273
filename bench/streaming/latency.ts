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
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type OptionsSpec } from '../../src/cli/args.js';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { ConformerEncoder, disposeEncoderCache, subsampledLength, type EncoderCache } from '../../src/model/index.js';
import { configureStreaming, nemoBufferPlans } from '../../src/streaming/index.js';
import { nestArgs, REPO_ROOT, writeHandoff, type NestSize } from '../workloads/nest-shapes.js';
import { cpuMs, median } from '../timing.js';

const spec = {
  rounds: { type: 'integer', default: 3, help: 'alternations of the two sides' },
  seconds: { type: 'integer', default: 30, help: 'stream length in seconds of features' },
  'max-context': { type: 'integer', default: 384, help: 'attention cache slots (NeMo max_context)' },
  sizes: { type: 'string', default: 'small,medium', help: 'model sizes' },
  chunks: { type: 'string', default: '80,160,320,640', help: 'chunk lengths in ms' },
  threads: { type: 'integer', default: 1, help: 'threads on both sides' },
} satisfies OptionsSpec;

const HOP = 0.01;
const S = 8;
const quant = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
};

interface Side {
  p50: number;
  p90: number;
  cpu50: number;
  cpu90: number;
  total: number;
  steps: number;
}

/** Feature frames of a stream of about `seconds` that the k-frame chunk plan cuts into whole chunks. */
export const streamFrames = (seconds: number, k: number): number => S * k * Math.floor((seconds / HOP + 7) / (S * k)) - 7;

function runSn(enc: ConformerEncoder, k: number, seconds: number, maxContext: number): Side {
  const geo = configureStreaming(enc, { chunkFrames: k, hopSeconds: HOP, maxContext });
  if (geo.exactnessIssues.length) throw new Error(`not exact: ${geo.exactnessIssues.join('; ')}`);
  const T = streamFrames(seconds, k);
  const F = enc.config.feat_in;
  const feats = t.keep(t.randn([1, F, T], { generator: new t.Generator(99) }));
  const pre = (n: number): number => subsampledLength(n, S, true);
  const plans = nemoBufferPlans(T, geo, pre);
  let cache: EncoderCache = enc.initCache(1, geo.cfg);
  const positions = enc.positionProjections(); // linear_pos(posEmb) once per key length, as StreamingEncoder does
  const walls: number[] = [];
  const cpus: number[] = [];
  let total = 0;
  let frames = 0;
  t.noGrad(() => {
    for (const [i, p] of plans.entries()) {
      const c0 = cpuMs();
      const t0 = performance.now();
      const r = t.tidy(() => {
        let x: Tensor = feats.narrow(2, p.start, p.end - p.start); // [1, F, Tc]
        if (p.zeroPad > 0) x = t.cat([t.zeros([1, F, p.zeroPad]), x], 2);
        const lens = t.tensor([x.size(2)], [1], { dtype: 'int64' });
        return enc.streamStep(x, lens, cache, { streaming: geo.cfg, dropExtraPreEncoded: p.drop, keepAllOutputs: p.keepAll, positions });
      });
      const wall = performance.now() - t0;
      const cpu = cpuMs() - c0;
      disposeEncoderCache(cache);
      cache = r.cache;
      frames += r.encoded.size(2);
      r.encoded.dispose();
      r.lengths.dispose();
      total += wall;
      if (i > 0 && p.end - p.start === geo.cfg.shiftSize[1] + geo.cfg.preEncodeCacheSize[1]) {
        walls.push(wall);
        cpus.push(cpu);
      }
    }
  });
  disposeEncoderCache(cache);
  positions.dispose();
  feats.dispose();
  if (frames !== subsampledLength(T, S, true)) throw new Error(`streamed ${frames} frames, offline has ${subsampledLength(T, S, true)}`);
  return { p50: quant(walls, 0.5), p90: quant(walls, 0.9), cpu50: quant(cpus, 0.5), cpu90: quant(cpus, 0.9), total, steps: walls.length };
}

interface PySide extends Side {
  flops: number;
  peak: number;
  check: number;
}

function runPy(size: NestSize, k: number, seconds: number, maxContext: number, threads: number): PySide {
  const dir = join(REPO_ROOT, 'bench', 'pytorch');
  const r = spawnSync(
    '/usr/bin/python3',
    [
      join(dir, 'streaming_latency.py'),
      '--size',
      size,
      '--chunk-frames',
      String(k),
      '--frames',
      String(streamFrames(seconds, k)),
      '--max-context',
      String(maxContext),
      '--threads',
      String(threads),
    ],
    {
      encoding: 'utf8',
      cwd: dir,
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
    },
  );
  if (r.status !== 0) throw new Error(`streaming_latency.py failed:\n${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  return {
    p50: j.p50_ms!,
    p90: j.p90_ms!,
    cpu50: j.cpu_p50_ms!,
    cpu90: j.cpu_p90_ms!,
    total: j.total_ms!,
    steps: j.steps!,
    flops: j.flops_per_chunk!,
    peak: j.peak_flops!,
    check: j.offline_max_abs_diff!,
  };
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
  const res = new Map<string, { sn: Side[]; py: PySide[] }>();
  for (let round = 0; round < options.rounds; round++) {
    for (const size of sizes) {
      for (const ms of chunks) {
        const k = Math.round(ms / (HOP * S * 1000));
        const key = `${size} ${ms}`;
        if (!res.has(key)) res.set(key, { sn: [], py: [] });
        const e = res.get(key)!;
        const a = runSn(encs.get(size)!, k, options.seconds, maxContext);
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
    const m = (xs: Side[], f: keyof Side): number => median(xs.map((x) => x[f]));
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
