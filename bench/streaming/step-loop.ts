// The streaming harness's own loop (bench/streaming/latency.ts): NeMo's buffer plans over a feature tensor, one
// ConformerEncoder.streamStep per chunk, each steady step timed. The switches reproduce, one at a time, what the CLI's
// route (StreamingEncoder behind `streamnest stream`) does differently; bench/streaming/paths.ts measures them.
// Provenance: nemo.collections.asr.parts.utils.streaming_utils.CacheAwareStreamingAudioBuffer + the loop of
// examples/asr/asr_cache_aware_streaming/speech_to_text_cache_aware_streaming_infer.py.
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { disposeEncoderCache, subsampledLength, type ConformerEncoder, type EncoderCache } from '../../src/model/index.js';
import { configureStreaming, nemoBufferPlans } from '../../src/streaming/index.js';
import { cpuMs } from '../timing.js';

export const HOP = 0.01;
export const S = 8;

export interface StepLoopOptions {
  /** Attention cache slots (NeMo's max_context). */
  maxContext: number;
  /** Carry NeMo's cache_last_channel (the attention inputs) next to the projected K/V, as initCache does by default. */
  keepInputs: boolean;
  /** Let the event loop turn between steps (N-API finalizers of disposed tensors run then), as the CLI does. */
  turn: boolean;
}

export interface StepTimes {
  /** Wall and process CPU ms of every steady step (full chunk, not the first step). */
  walls: number[];
  cpus: number[];
  /** Wall ms of all steps. */
  total: number;
  /** Minor page faults of this process per steady step (mean). */
  faults: number;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Feature frames of a stream of about `seconds` that the k-frame chunk plan cuts into whole chunks. */
export const streamFrames = (seconds: number, k: number): number => S * k * Math.floor((seconds / HOP + 7) / (S * k)) - 7;

/** The p-quantile (nearest rank) of xs; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
}

/** Streams random features [1, F, streamFrames(seconds, k)] through `enc` in k-frame chunks; checks the frame count. */
export async function timeStepLoop(enc: ConformerEncoder, k: number, seconds: number, o: StepLoopOptions): Promise<StepTimes> {
  const geo = configureStreaming(enc, { chunkFrames: k, hopSeconds: HOP, maxContext: o.maxContext });
  if (geo.exactnessIssues.length) throw new Error(`not exact: ${geo.exactnessIssues.join('; ')}`);
  const T = streamFrames(seconds, k);
  const F = enc.config.feat_in;
  const feats = t.keep(t.randn([1, F, T], { generator: new t.Generator(99) }));
  const plans = nemoBufferPlans(T, geo, (n) => subsampledLength(n, S, true));
  let cache: EncoderCache = enc.initCache(1, geo.cfg, 'float32', o.keepInputs);
  const positions = enc.positionProjections(); // linear_pos(posEmb) once per key length, as StreamingEncoder does
  const walls: number[] = [];
  const cpus: number[] = [];
  let total = 0;
  let frames = 0;
  let faults = 0;
  for (const [i, p] of plans.entries()) {
    const f0 = process.resourceUsage().minorPageFault;
    const c0 = cpuMs();
    const t0 = performance.now();
    const r = t.tidy(() =>
      t.noGrad(() => {
        let x: Tensor = feats.narrow(2, p.start, p.end - p.start); // [1, F, Tc]
        if (p.zeroPad > 0) x = t.cat([t.zeros([1, F, p.zeroPad]), x], 2);
        const lens = t.tensor([x.size(2)], [1], { dtype: 'int64' });
        return enc.streamStep(x, lens, cache, { streaming: geo.cfg, dropExtraPreEncoded: p.drop, keepAllOutputs: p.keepAll, positions });
      }),
    );
    const wall = performance.now() - t0;
    const cpu = cpuMs() - c0;
    const f1 = process.resourceUsage().minorPageFault;
    disposeEncoderCache(cache);
    cache = r.cache;
    frames += r.encoded.size(2);
    r.encoded.dispose();
    r.lengths.dispose();
    total += wall;
    if (i > 0 && p.end - p.start === geo.cfg.shiftSize[1] + geo.cfg.preEncodeCacheSize[1]) {
      walls.push(wall);
      cpus.push(cpu);
      faults += f1 - f0;
    }
    if (o.turn) await turn();
  }
  disposeEncoderCache(cache);
  positions.dispose();
  feats.dispose();
  if (frames !== subsampledLength(T, S, true)) throw new Error(`streamed ${frames} frames, offline has ${subsampledLength(T, S, true)}`);
  return { walls, cpus, total, faults: faults / Math.max(1, walls.length) };
}
