// Batched streaming benchmark: N independent streams of features pushed together through StreamingEncoder.pushFeatures
// in pieces of one chunk, NEST Small fully causal encoder (random weights, seed 1234), exact mode, 1 thread. Reports
// the p50 / p99 of the steady batched steps (the first steps apart), the per-stream cost and real-time streams per
// core, for each N. With --rounds R the batch sizes run R times in turn (one process): each row is then the median
// over rounds, and the per-stream cost against one stream's (when 1 is among the sizes) is given per round, because
// this machine's speed moves by up to 1.5x between minutes and a ratio of two runs far apart carries that.
//
//   npx tsc -p . && node dist/bench/streaming/batched.js [--streams 1,4,16,32,64] [--seconds 12] [--chunk-ms 320] [--rounds 1] [--json]
//   BATCHED_ALLOC=1 ...: also print the CPU allocator's misses per step (stderr) and its counters after each N
import { parseArgs, type OptionsSpec } from '../../src/cli/args.js';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { ConformerEncoder } from '../../src/model/index.js';
import { configureStreaming, StreamingEncoder, type StepEvent } from '../../src/streaming/index.js';
import { median } from '../timing.js';
import { nestArgs, type NestSize } from '../workloads/nest-shapes.js';

const spec = {
  streams: { type: 'string', default: '1,4,16,32,64', help: 'batch sizes (streams pushed together)' },
  seconds: { type: 'integer', default: 12, help: 'stream length in seconds' },
  'chunk-ms': { type: 'integer', default: 320, help: 'chunk length in ms (a multiple of 80)' },
  'max-context': { type: 'integer', default: 0, help: 'attention cache slots (0: sized to the stream)' },
  size: { type: 'string', default: 'small', help: 'small or medium' },
  threads: { type: 'integer', default: 1, help: 'intra-op threads' },
  first: { type: 'integer', default: 3, help: 'steps reported apart as the first ones' },
  rounds: { type: 'integer', default: 1, help: 'times the batch sizes run in turn (rows: medians over rounds)' },
  json: { type: 'boolean', help: "also print one JSON line per batch size other than 1 (its per-stream cost against one stream's, per round)" },
} satisfies OptionsSpec;

const HOP = 0.01;
const quant = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
};

interface Row {
  streams: number;
  p50: number;
  p99: number;
  firstMax: number;
  perStream: number;
  realTime: number;
}

function runBatch(enc: ConformerEncoder, n: number, seconds: number, chunkMs: number, maxContext: number, first: number): Row {
  const k = chunkMs / 80;
  const frames = Math.round(seconds / HOP);
  const geo = configureStreaming(enc, { chunkFrames: k, hopSeconds: HOP, maxContext: maxContext || Math.ceil(frames / 8) + 8 });
  const se = new StreamingEncoder(enc, { geometry: geo, mode: 'exact' });
  const F = enc.config.feat_in;
  const feats: Tensor[] = Array.from({ length: n }, (_, i) => t.keep(t.randn([F, frames], { generator: new t.Generator(100 + i) })));
  const piece = Math.round(chunkMs / 1000 / HOP);
  const steps: number[] = [];
  let t0 = 0;
  let misses = 0;
  const trace = process.env.BATCHED_ALLOC !== undefined;
  se.onStep = (_e: StepEvent) => {
    const now = performance.now();
    steps.push(now - t0);
    t0 = now;
    if (trace) {
      const m = t.cpuAllocatorStats().misses ?? 0;
      process.stderr.write(`${m - misses} `);
      misses = m;
    }
  };
  let state = se.initStreamState(n);
  for (let at = 0; at < frames; at += piece) {
    const m = Math.min(piece, frames - at);
    t0 = performance.now();
    const r = se.pushFeatures(
      feats.map((f) => f.narrow(1, at, m)),
      state,
    );
    for (const e of r.encoded) e.dispose();
    state = r.state;
  }
  const end = se.finish(state);
  for (const e of end.encoded) e.dispose();
  se.dispose();
  for (const f of feats) f.dispose();
  const steady = steps.slice(first, -2); // the last steps flush the tail
  const p50 = quant(steady, 0.5);
  return {
    streams: n,
    p50,
    p99: quant(steady, 0.99),
    firstMax: Math.max(...steps.slice(0, first)),
    perStream: p50 / n,
    realTime: Math.floor(chunkMs / (p50 / n)),
  };
}

function main(): void {
  const { options: a } = parseArgs(process.argv.slice(2), spec);
  t.setNumThreads(a.threads);
  const cfg = nestArgs('streaming', a.size as NestSize, 1234).encoder;
  const enc = new ConformerEncoder(cfg, { init: { generator: new t.Generator(1234) } });
  enc.eval();
  console.log(`batched streaming: ${a.size} encoder, ${a.seconds} s streams, ${a['chunk-ms']} ms chunks, ${a.threads} thread(s)`);
  const sizes = a.streams.split(',').map(Number);
  const rounds: Row[][] = [];
  for (let r = 0; r < a.rounds; r++) {
    const row: Row[] = [];
    for (const n of sizes) {
      row.push(runBatch(enc, n, a.seconds, a['chunk-ms'], a['max-context'], a.first));
      if (process.env.BATCHED_ALLOC) console.error(JSON.stringify(t.cpuAllocatorStats()));
    }
    rounds.push(row);
    if (a.rounds > 1) console.log(`round ${r + 1}: per stream ${row.map((x) => `${x.streams}: ${x.perStream.toFixed(2)} ms`).join(', ')}`);
  }
  console.log('| streams | step p50 | step p99 | first steps (max) | per stream | real-time streams per core |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [i, n] of sizes.entries()) {
    const rs = rounds.map((row) => row[i]!);
    const m = (f: (x: Row) => number): number => median(rs.map(f));
    const perStream = m((x) => x.perStream);
    console.log(
      `| ${n} | ${m((x) => x.p50).toFixed(1)} ms | ${m((x) => x.p99).toFixed(1)} ms | ${m((x) => x.firstMax).toFixed(1)} ms | ${perStream.toFixed(2)} ms | ${Math.floor(a['chunk-ms'] / perStream)} |`,
    );
  }
  const one = sizes.indexOf(1);
  if (one >= 0 && sizes.length > 1) {
    for (const [i, n] of sizes.entries()) {
      if (i === one) continue;
      const ratios = rounds.map((row) => row[i]!.perStream / row[one]!.perStream);
      console.log(`per stream at ${n} streams / at 1 stream, per round: ${ratios.map((x) => x.toFixed(3)).join(' ')}; median ${median(ratios).toFixed(3)}`);
      if (a.json) {
        const stepMs = median(rounds.map((row) => row[i]!.p50));
        const oneMs = median(rounds.map((row) => row[one]!.p50));
        console.log(
          JSON.stringify({ streams: n, chunk_ms: a['chunk-ms'], step_ms: stepMs, one_stream_ms: oneMs, ratio_rounds: ratios, ratio: median(ratios) }),
        );
      }
    }
  }
  enc.dispose();
}

main();
