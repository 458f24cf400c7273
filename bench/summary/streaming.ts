// The streaming rows of the summary: per-chunk latency of `streamnest stream --json` (the CLI users run: StreamingEncoder,
// exact mode, audio pushed one chunk at a time, features included, every push counted) on a NEST-Small streaming .nemo,
// against the PyTorch twin's NeMo-style cache-aware loop with the same weights and the same attention cache size (the
// CLI's max_context: the file's length in encoder frames). The two alternate per (round, chunk); medians over rounds,
// and the ratio is the median of each round's pair (run back to back, so a change of the machine's speed between
// rounds, which moves both sides, does not pair one side's fast round with the other's slow one).
import { ensureStreamingInputs } from '../streaming/cli-model.js';
import { runCliStream } from '../streaming/cli-stream.js';
import { streamFrames } from '../streaming/step-loop.js';
import { runTwin } from '../streaming/twin.js';
import { median } from '../timing.js';

export interface StreamingRow {
  chunkMs: number;
  /** Attention cache slots both sides used. */
  maxContext: number;
  sn: { p50: number; p99: number };
  /** The CLI's steady state: without the first pushes of the fresh process and the final flush (steady_latency_ms). */
  snSteady: { p50: number; p99: number };
  twin: { p50: number; p99: number };
  /** Median over rounds of the round's CLI p50 / twin p50. */
  ratio: number;
  /** The twin's own stream == offline check (max |diff|), worst over rounds. */
  twinCheck: number;
  twinTorch: string;
}

export interface StreamingOptions {
  chunks: readonly number[];
  seconds: number;
  rounds: number;
  progress: (line: string) => void;
}

export function runStreamingRows(o: StreamingOptions): StreamingRow[] {
  const inputs = ensureStreamingInputs(o.seconds);
  type P = { p50: number; p99: number };
  const acc = new Map<number, { sn: P[]; snSteady: P[]; twin: P[]; c: number; check: number; torch: string }>();
  for (let round = 0; round < o.rounds; round++) {
    for (const ms of o.chunks) {
      // Warm on both sides: the CLI streams as many seconds of silence first (--warmup), the twin times its second pass.
      const cli = runCliStream(inputs.nemo, inputs.wav, { chunkMs: ms, threads: 1, warmupSeconds: o.seconds });
      const c = cli.max_context;
      if (c === null) throw new Error('streamnest stream reported no max_context (expected unlimited left context)');
      const tw = runTwin(inputs.handoff, cli.chunk_frames, streamFrames(o.seconds, cli.chunk_frames), c, 1);
      const e = acc.get(ms) ?? { sn: [], snSteady: [], twin: [], c, check: 0, torch: tw.torch };
      e.sn.push({ p50: cli.latency_ms.p50, p99: cli.latency_ms.p99 });
      e.snSteady.push({ p50: cli.steady_latency_ms.p50, p99: cli.steady_latency_ms.p99 });
      e.twin.push({ p50: tw.p50, p99: tw.p99 });
      e.check = Math.max(e.check, tw.check);
      acc.set(ms, e);
      o.progress(
        `  round ${round + 1}/${o.rounds} ${ms} ms (C ${c}): stream --json p50 ${cli.latency_ms.p50.toFixed(2)} p99 ${cli.latency_ms.p99.toFixed(2)} steady p99 ${cli.steady_latency_ms.p99.toFixed(2)} | twin p50 ${tw.p50.toFixed(2)} p99 ${tw.p99.toFixed(2)} ms`,
      );
    }
  }
  return o.chunks.map((ms) => {
    const e = acc.get(ms)!;
    const m = (xs: P[]): P => ({ p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)) });
    const ratio = median(e.sn.map((x, i) => x.p50 / e.twin[i]!.p50));
    return { chunkMs: ms, maxContext: e.c, sn: m(e.sn), snSteady: m(e.snSteady), twin: m(e.twin), ratio, twinCheck: e.check, twinTorch: e.torch };
  });
}
