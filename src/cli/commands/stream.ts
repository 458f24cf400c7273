// `streamnest stream`: cache-aware streaming of one audio file through a .nemo model's encoder, chunk by chunk,
// with per-chunk latency, real-time factor, algorithmic latency and (--compare-modes) the difference from offline.
// The seeds' streaming_inference_example.py (simulate_streaming_inference + compare_streaming_vs_offline).
import { formatOptions, parseArgs, ArgError, type OptionsSpec } from '../args.js';
import { parseContextPair } from '../att-context.js';
import type { Tensor } from '../../torch/index.js';
import type { LookaheadChoice, LookaheadState } from '../../streaming/index.js';

export const name = 'stream';
export const summary = 'Stream an audio file through a .nemo encoder chunk by chunk (cache-aware); latency, RTF, offline comparison';

const spec = {
  model: { type: 'string', metavar: 'FILE.nemo', help: 'NEST SSL or FastConformer CTC/RNNT/hybrid archive (its encoder + preprocessor stream)' },
  audio: { type: 'string', metavar: 'FILE', help: 'WAV or FLAC (mixed to mono, resampled to the model rate)' },
  chunkSize: { type: 'number', metavar: 'SECONDS', help: 'chunk length (whole encoder frames); default: from the attention context' },
  attContextSize: { type: 'string', metavar: 'L,R', help: "attention context to stream with (e.g. one of a multi-lookahead model's pairs)" },
  compareModes: { type: 'boolean', help: 'also run the offline pass (and NeMo-compatible streaming) and report max |difference|' },
  nemoCompatible: { type: 'boolean', help: "chunk exactly as NeMo's CacheAwareStreamingAudioBuffer (not exact; for parity)" },
  json: { type: 'boolean', help: 'print one JSON object' },
  out: { type: 'string', metavar: 'FILE.npy', help: 'write the streaming encoder output, float32 [d_model, frames_out]' },
  plot: { type: 'string', metavar: 'FILE.png', help: 'plot per-chunk latency over time with the real-time budget' },
  latencyBudgetMs: {
    type: 'number',
    metavar: 'MS',
    help: "adaptive look-ahead: before each step take the largest trained look-ahead whose algorithmic latency plus measured compute fits MS (multi-look-ahead models; the pairs sharing --att-context-size's left context)",
  },
  threads: { type: 'integer', default: 1, help: 'intra-op threads' },
  warmup: {
    type: 'number',
    metavar: 'SECONDS',
    default: 0,
    help: "first stream this much silence through a throwaway stream, untimed (a server's start-up: JIT, allocator, positional projections), so that the latencies are a warm process's",
  },
  precision: {
    type: 'string',
    choices: ['32', 'bf16'],
    default: '32',
    help: 'bf16: the encoder under CPU bfloat16 autocast (features in float32); --compare-modes runs the offline pass in bf16 too',
  },
  maxContext: {
    type: 'integer',
    help: "attention cache size when the left context is unlimited (NeMo's max_context; default: the file's length, at most 10000)",
  },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest stream --model FILE.nemo --audio FILE [--chunk-size 0.32] [--att-context-size L,R]
                        [--compare-modes] [--json] [--out FILE.npy] [--plot FILE.png] [--nemo-compatible]
                        [--latency-budget-ms MS] [--precision 32|bf16] [--warmup SECONDS]

${summary}.
Audio is pushed in pieces of one chunk (the new audio a step consumes); each push's wall time is one chunk latency.
The JSON's latency_ms covers every push; steady_latency_ms leaves out the first 3 pushes (one-time set-up of a fresh
process, listed in first_chunks_ms) and the end-of-stream flush. --warmup S streams S seconds of silence through
a throwaway stream first (untimed), as a server does before taking streams: a fresh process's pushes stay slower
for a while after the first ones, until V8 has compiled the code they run.
The default driver is exact: for causal subsampling + causal convs (chunked_limited or regular style) the
concatenated output equals the offline encoder output. --nemo-compatible reproduces NeMo's driver instead.
--latency-budget-ms switches look-ahead chunk by chunk (after timing every trained context once on quiet noise);
audio then arrives in pieces of the smallest chunk, and --compare-modes compares with the offline pass under the
same per-chunk masks. --json adds contexts_used (pair -> steps). With --precision bf16, streaming equals offline
within bfloat16 rounding instead of exactly (both passes run in bf16; chunking changes the matmul shapes).

Options:
${formatOptions(spec)}

Examples:
  streamnest stream --model exp/tiny/checkpoints/tiny.nemo --audio clip.wav --compare-modes
  streamnest stream --model model.nemo --audio long.flac --chunk-size 0.32 --json --plot latency.png
  streamnest stream --model multilatency.nemo --audio clip.wav --latency-budget-ms 400 --json`;

/** Pushes counted apart from the steady state in steady_latency_ms (see run). */
export const FIRST_CHUNKS = 3;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!options.model || !options.audio) throw new ArgError(`stream: --model FILE.nemo and --audio FILE are required\n\n${usage}`);
  const t = await import('../../torch/index.js');
  const { loadAudioAsync } = await import('../../audio/index.js');
  const {
    calibrateLookahead,
    chooseLookahead,
    configureStreaming,
    contextsUsed,
    initLookaheadState,
    lookaheadPolicy,
    observeStep,
    StreamingConfigError,
    StreamingEncoder,
    switchableGeometries,
  } = await import('../../streaming/index.js');
  const { loadNemoModel } = await import('../../checkpoint/nemo-model.js');
  t.setNumThreads(options.threads);
  if (!(Number.isFinite(options.warmup) && options.warmup >= 0)) throw new ArgError(`--warmup: expected seconds >= 0, got ${options.warmup}`);
  const inPrecision = <T>(fn: () => T): T => (options.precision === 'bf16' ? t.autocast({ device: 'cpu', dtype: 'bfloat16' }, fn) : fn());

  const m = loadNemoModel(options.model);
  try {
    const pre = m.preprocessor;
    const hop = pre.featurizer.geometry.hopLength / pre.cfg.sample_rate;
    const audio = await loadAudioAsync(options.audio, { targetSampleRate: pre.cfg.sample_rate });
    const attContextSize = options.attContextSize === undefined ? undefined : parseContextPair(options.attContextSize, '--att-context-size');
    // Unlimited left context: NeMo's 10000-slot attention cache makes every step attend over 10000 slots; a file's
    // length is known here, so by default the cache holds just the whole file (the same outputs, far faster).
    const fileFrames = Math.ceil(audio.samples.length / pre.featurizer.geometry.hopLength / Math.max(1, m.encoder.config.subsampling_factor)) + 1;
    const maxContext = options.maxContext ?? Math.min(10000, fileFrames);
    let geo: ReturnType<typeof configureStreaming>;
    try {
      geo = configureStreaming(m.encoder, { chunkSeconds: options.chunkSize, attContextSize, hopSeconds: hop, maxContext });
    } catch (e) {
      if (e instanceof StreamingConfigError) throw new ArgError(e.message);
      throw e;
    }
    const sr = pre.cfg.sample_rate;
    const se = new StreamingEncoder(m.encoder, { geometry: geo, preprocessor: pre, mode: options.nemoCompatible ? 'nemo' : 'exact' });
    const budget = options.latencyBudgetMs;
    let adaptive: { p: LookaheadChoice; s: LookaheadState; skipped: string[] } | null = null;
    if (budget !== undefined) {
      if (!(budget > 0)) throw new ArgError(`--latency-budget-ms: expected a positive number of milliseconds, got ${budget}`);
      if (options.chunkSize !== undefined) throw new ArgError('--latency-budget-ms chooses the chunk itself; omit --chunk-size');
      if (options.nemoCompatible)
        throw new ArgError("--latency-budget-ms switches context within a stream, which NeMo's driver cannot; omit --nemo-compatible");
      const { geometries, skipped } = switchableGeometries(se, { hopSeconds: hop, maxContext });
      const p = lookaheadPolicy(geometries, budget);
      adaptive = { p, s: inPrecision(() => calibrateLookahead(se, p, initLookaheadState(p))), skipped };
    }
    const piece = Math.max(1, Math.round((adaptive ? adaptive.p.geometries[0]! : geo).chunkSeconds * sr));
    const latencies: number[] = [];
    const times: number[] = [];
    const parts: Tensor[] = [];
    const schedule: number[] = []; // encoder frames per step (adaptive: the chunk schedule of the offline reference)
    if (options.warmup > 0) inPrecision(() => warmUp(se, Math.round(options.warmup * sr), piece));
    let state = se.initStreamState(1);
    /** Runs the stream's ready steps one at a time, choosing the look-ahead before each. */
    const steps = (): void => {
      for (;;) {
        if (adaptive) {
          adaptive.s = chooseLookahead(adaptive.p, adaptive.s);
          state = { streams: [se.switchGeometry(state.streams[0]!, adaptive.p.geometries[adaptive.s.current]!)] };
        }
        if (!se.isReady(state.streams[0]!)) return;
        schedule.push(state.streams[0]!.geometry.chunkFrames);
        const s0 = performance.now();
        const r = se.run(state, { maxSteps: 1 });
        if (adaptive) adaptive.s = observeStep(adaptive.p, adaptive.s, performance.now() - s0);
        state = r.state;
        parts.push(r.encoded[0]!);
      }
    };
    const t0 = performance.now();
    for (let pos = 0; pos < audio.samples.length; pos += piece) {
      const s = performance.now();
      inPrecision(() => {
        state = se.feedAudio([audio.samples.subarray(pos, pos + piece)], state);
        steps();
      });
      latencies.push(performance.now() - s);
      times.push(Math.min(audio.samples.length, pos + piece) / sr);
      await new Promise((res) => setImmediate(res)); // let N-API finalizers run between chunks
    }
    const sFin = performance.now();
    inPrecision(() => {
      state = se.endStreams(state, [0]);
      steps();
    });
    se.disposeState(state);
    latencies.push(performance.now() - sFin);
    se.dispose();
    times.push(audio.samples.length / sr);
    const total = performance.now() - t0;
    const encoded = t.tidy(() => t.cat(parts, 1).to({ dtype: 'float32' }).contiguous()); // [D, T]
    for (const p of parts) p.dispose();
    const duration = audio.samples.length / sr;
    const sorted = [...latencies].sort((a, b) => a - b);
    // Steady state: every push but the first FIRST_CHUNKS (a fresh process's first steps pay one-time set-up: the
    // positional projections, weight copies, allocator and JIT warm-up) and the end-of-stream flush.
    const steady = latencies.slice(FIRST_CHUNKS, -1).sort((a, b) => a - b);
    const steadyMs = { p50: percentile(steady, 50), p90: percentile(steady, 90), p99: percentile(steady, 99), max: steady[steady.length - 1] ?? NaN };
    const firstChunksMs = latencies.slice(0, Math.min(FIRST_CHUNKS, latencies.length - 1));
    const result: Record<string, unknown> = {
      model: options.model,
      audio: options.audio,
      mode: se.mode,
      duration_s: duration,
      att_context_size: geo.attContextSize,
      att_context_style: geo.style,
      chunk_size_s: geo.chunkSeconds,
      chunk_frames: geo.chunkFrames,
      lookahead_ms: geo.lookaheadSeconds * 1000,
      algorithmic_latency_ms: geo.algorithmicLatencySeconds * 1000,
      streaming_cfg: geo.cfg,
      max_context: geo.attContextSize[0] < 0 ? geo.cfg.lastChannelCacheSize : null,
      chunks: latencies.length,
      latency_ms: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN },
      steady_latency_ms: { ...steadyMs, chunks: steady.length },
      first_chunks_ms: firstChunksMs,
      rtf: total / 1000 / duration,
      frames_out: encoded.size(1),
      threads: options.threads,
      precision: options.precision,
      warmup_s: options.warmup,
      exactness_issues: geo.exactnessIssues,
    };
    if (adaptive) {
      result.latency_budget_ms = budget;
      result.contexts_used = contextsUsed(adaptive.p, adaptive.s);
      result.contexts = adaptive.p.geometries.map((g, k) => ({
        att_context_size: g.attContextSize,
        algorithmic_latency_ms: g.algorithmicLatencySeconds * 1000,
        baseline_compute_ms: adaptive!.s.baselineMs[k],
      }));
      result.contexts_skipped = adaptive.skipped;
    }
    if (options.compareModes) {
      const off = t.tidy(() =>
        t.noGrad(() =>
          inPrecision(() => {
            const f = pre.forward(t.tensor(audio.samples, [1, audio.samples.length]), [audio.samples.length]);
            const L = f.lengths.toArray()[0]!;
            const o = m.encoder.forward(
              f.features.narrow(2, 0, L),
              t.tensor([L], [1], { dtype: 'int64' }),
              adaptive ? { chunkSchedule: { chunks: schedule, left: geo.attContextSize[0] } } : { attContextSize: geo.attContextSize },
            );
            return o.encoded.select(0, 0).narrow(1, 0, o.lengths.toArray()[0]!).to({ dtype: 'float32' }).contiguous(); // [D, T']
          }),
        ),
      );
      const diff = (x: Tensor): number => {
        const n = Math.min(x.size(1), off.size(1));
        return n === 0
          ? 0
          : t.tidy(() =>
              x
                .narrow(1, 0, n)
                .sub(off.narrow(1, 0, n))
                .abs()
                .max()
                .item(),
            );
      };
      result.offline_frames_out = off.size(1);
      result.max_abs_diff = diff(encoded);
      if (!adaptive) {
        // the other driver, with the same fixed context
        const other = new StreamingEncoder(m.encoder, { geometry: geo, preprocessor: pre, mode: se.mode === 'exact' ? 'nemo' : 'exact' });
        const { a, b } = inPrecision(() => {
          const pushed = other.pushAudio([audio.samples], other.initStreamState(1));
          return { a: pushed, b: other.finish(pushed.state) };
        });
        const o2 = t.cat([a.encoded[0]!, b.encoded[0]!], 1);
        a.encoded[0]!.dispose();
        b.encoded[0]!.dispose();
        result[`${other.mode}_max_abs_diff`] = diff(o2);
        result[`${other.mode}_frames_out`] = o2.size(1);
        o2.dispose();
        other.dispose();
      }
      off.dispose();
    }
    if (options.out) {
      const { writeNpy } = await import('../../torch/serialize/npy.js');
      writeNpy(options.out, encoded);
      result.out = options.out;
    }
    encoded.dispose();
    if (options.plot) {
      const { linePlot } = await import('../../plot/index.js');
      const realTime = (piece / sr) * 1000;
      linePlot([{ name: 'chunk latency', x: times, y: latencies }], {
        title: adaptive
          ? `stream: adaptive look-ahead within ${budget} ms, RTF ${(result.rtf as number).toFixed(3)}`
          : `stream: ${(geo.chunkSeconds * 1000).toFixed(0)} ms chunks, att ${geo.attContextSize.join(',')}, RTF ${(result.rtf as number).toFixed(3)}`,
        xLabel: 'audio time (s)',
        yLabel: 'latency per chunk (ms)',
        hLines: [{ y: realTime, label: `real-time budget ${realTime.toFixed(0)} ms` }],
      }).save(options.plot);
      result.plot = options.plot;
    }
    if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      const l = result.latency_ms as Record<string, number>;
      const lines = [
        `streamed ${duration.toFixed(2)} s of ${options.audio} (${se.mode} mode) through ${options.model}`,
        `  context [${geo.attContextSize.join(', ')}] ${geo.style}; chunk ${(geo.chunkSeconds * 1000).toFixed(0)} ms (${geo.chunkFrames} encoder frames), look-ahead ${(geo.lookaheadSeconds * 1000).toFixed(0)} ms, algorithmic latency ${(geo.algorithmicLatencySeconds * 1000).toFixed(0)} ms`,
        `  ${latencies.length} chunks: latency p50 ${l.p50!.toFixed(2)} ms, p90 ${l.p90!.toFixed(2)} ms, p99 ${l.p99!.toFixed(2)} ms, max ${l.max!.toFixed(2)} ms; RTF ${(result.rtf as number).toFixed(4)} (${options.threads} thread${options.threads === 1 ? '' : 's'})`,
        `  steady state (without the first ${FIRST_CHUNKS} pushes and the final flush): p50 ${steady.length ? steadyMs.p50.toFixed(2) : 'n/a'} ms, p99 ${steady.length ? steadyMs.p99.toFixed(2) : 'n/a'} ms; first pushes ${firstChunksMs.map((x) => x.toFixed(1)).join(', ')} ms`,
        `  frames out: ${String(result.frames_out)}`,
      ];
      if (adaptive) {
        const used = Object.entries(result.contexts_used as Record<string, number>).map(([k, n]) => `[${k}] x ${n}`);
        lines.push(`  adaptive look-ahead within ${budget} ms: ${used.join(', ')} (audio pushed in ${((piece / sr) * 1000).toFixed(0)} ms pieces)`);
        for (const why of adaptive.skipped) lines.push(`  not switchable: ${why}`);
      }
      if (geo.exactnessIssues.length) lines.push(`  not exact: ${geo.exactnessIssues.join('; ')}`);
      if (options.compareModes) {
        lines.push(`  offline frames: ${String(result.offline_frames_out)}; max |streaming - offline| = ${(result.max_abs_diff as number).toExponential(3)}`);
        for (const k of ['nemo', 'exact'])
          if (result[`${k}_max_abs_diff`] !== undefined)
            lines.push(`  ${k} mode: max |diff| = ${(result[`${k}_max_abs_diff`] as number).toExponential(3)}, ${String(result[`${k}_frames_out`])} frames`);
      }
      if (options.out) lines.push(`  wrote ${options.out}`);
      if (options.plot) lines.push(`  wrote ${options.plot}`);
      process.stdout.write(lines.join('\n') + '\n');
    }
  } finally {
    m.dispose();
  }
  return 0;
}

/** Streams `samples` zeros through a throwaway stream of `se` in pieces of `piece` samples, untimed (see --warmup). */
function warmUp(se: import('../../streaming/index.js').StreamingEncoder, samples: number, piece: number): void {
  const silence = new Float32Array(piece);
  let state = se.initStreamState(1);
  const drain = (): void => {
    const r = se.run(state);
    state = r.state;
    for (const e of r.encoded) e.dispose();
  };
  for (let pos = 0; pos < samples; pos += piece) {
    state = se.feedAudio([silence.subarray(0, Math.min(piece, samples - pos))], state);
    drain();
  }
  state = se.endStreams(state, [0]);
  drain();
  se.disposeState(state);
}
