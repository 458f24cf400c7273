// Adaptive look-ahead: before each step, a stream of a multi-look-ahead model takes the largest trained look-ahead
// whose algorithmic latency plus expected compute fits a latency budget, and moves down when compute grows (load) and
// back up when it shrinks. Pure data and functions: the state is handed in and returned.
// Provenance: streamnest (the user's documents list adaptive look-ahead as future work; NeMo has no counterpart).
//
// Expected compute of context k = its baseline step time x the load. Baselines are the fastest step seen per context
// (calibrate() measures them before streaming, when the machine is as quiet as it gets); a context without one is
// estimated from the nearest measured context: never cheaper, and a larger chunk dearer in proportion to its frames. The load is a
// running mean of (step time / its context's baseline) that rises at once and falls slowly (a slow step moves the
// look-ahead down before the next chunk; fast steps earn the way back up), so a step of any context tells how busy the
// machine is, and contexts not in use are re-estimated without being run. A move up needs the estimate to fit within `upFraction` of
// the budget (hysteresis: one fast step does not flip the choice back and forth).
import { configureStreaming, StreamingConfigError, type StreamingGeometry, type StreamingSetup } from './geometry.js';
import type { StreamingEncoder, StreamState } from './streaming-encoder.js';

export interface LookaheadChoice {
  /** The candidate contexts, fastest first (ascending algorithmic latency). */
  readonly geometries: readonly StreamingGeometry[];
  /** The latency budget in milliseconds. */
  readonly budgetMs: number;
  /** Moving up needs the expected latency within this fraction of the budget (default 0.9). */
  readonly upFraction: number;
  /** Weight of a faster step in the load's running mean (exponential; default 0.3); a slower step counts at once. */
  readonly smoothing: number;
}

export interface LookaheadState {
  /** Index (into geometries) of the context the next step uses. */
  readonly current: number;
  /** Fastest step seen per context (ms), null before it has run. */
  readonly baselineMs: readonly (number | null)[];
  /** Step time / baseline (1 = as fast as ever): the latest if higher, else a running mean; null before the first step. */
  readonly load: number | null;
  /** Steps run per context while streaming (calibration not counted). */
  readonly steps: readonly number[];
}

/** Orders the contexts by algorithmic latency. */
export function lookaheadPolicy(
  geometries: readonly StreamingGeometry[],
  budgetMs: number,
  o: { upFraction?: number; smoothing?: number } = {},
): LookaheadChoice {
  if (geometries.length === 0) throw new RangeError('adaptive look-ahead needs at least one context');
  if (!(budgetMs > 0)) throw new RangeError(`the latency budget must be a positive number of milliseconds, got ${budgetMs}`);
  const sorted = [...geometries].sort((a, b) => a.algorithmicLatencySeconds - b.algorithmicLatencySeconds);
  return { geometries: sorted, budgetMs, upFraction: o.upFraction ?? 0.9, smoothing: o.smoothing ?? 0.3 };
}

/** No measurements yet; starts at the largest look-ahead whose algorithmic latency alone fits (else the smallest). */
export function initLookaheadState(p: LookaheadChoice): LookaheadState {
  const n = p.geometries.length;
  const start = p.geometries.map((g) => g.algorithmicLatencySeconds * 1000 <= p.budgetMs).lastIndexOf(true);
  return { current: Math.max(0, start), baselineMs: Array.from({ length: n }, () => null), load: null, steps: Array.from({ length: n }, () => 0) };
}

/** A step time of context k measured before streaming (it lowers k's baseline; the load is not touched). */
export function calibrate(s: LookaheadState, k: number, ms: number): LookaheadState {
  const b = s.baselineMs[k];
  return { ...s, baselineMs: s.baselineMs.map((x, i) => (i === k ? (b === null || b === undefined ? ms : Math.min(b, ms)) : x)) };
}

/** Context k's baseline, or an estimate from the nearest measured context (null when none has been measured). */
export function baselineMs(p: LookaheadChoice, s: LookaheadState, k: number): number | null {
  const own = s.baselineMs[k];
  if (own !== null && own !== undefined) return own;
  let best: number | null = null;
  let dist = Number.POSITIVE_INFINITY;
  for (const [j, b] of s.baselineMs.entries()) {
    if (b === null || Math.abs(j - k) >= dist) continue;
    dist = Math.abs(j - k);
    best = b * Math.max(1, p.geometries[k]!.chunkFrames / p.geometries[j]!.chunkFrames);
  }
  return best;
}

/** Expected compute (ms) of a step of context k under the current load; 0 before anything was measured. */
export function expectedComputeMs(p: LookaheadChoice, s: LookaheadState, k: number): number {
  return (baselineMs(p, s, k) ?? 0) * (s.load ?? 1);
}

/** Expected latency (ms) of context k: its algorithmic latency plus expected compute. */
export function expectedLatencyMs(p: LookaheadChoice, s: LookaheadState, k: number): number {
  return p.geometries[k]!.algorithmicLatencySeconds * 1000 + expectedComputeMs(p, s, k);
}

/** The context for the next step: the largest that fits (moving up only within upFraction of the budget); else the smallest. */
export function chooseLookahead(p: LookaheadChoice, s: LookaheadState): LookaheadState {
  let pick = 0;
  for (let k = p.geometries.length - 1; k >= 0; k--) {
    const limit = k > s.current ? p.budgetMs * p.upFraction : p.budgetMs;
    if (expectedLatencyMs(p, s, k) <= limit) {
      pick = k;
      break;
    }
  }
  return pick === s.current ? s : { ...s, current: pick };
}

/** Records the compute time of a step run with the current context. */
export function observeStep(p: LookaheadChoice, s: LookaheadState, ms: number): LookaheadState {
  const k = s.current;
  const base = Math.min(baselineMs(p, s, k) ?? ms, ms);
  const ratio = base > 0 ? ms / base : 1;
  const load = s.load === null || ratio > s.load ? ratio : s.load + p.smoothing * (ratio - s.load); // fast attack, slow release
  return {
    current: k,
    baselineMs: s.baselineMs.map((x, i) => (i === k ? base : x)),
    load,
    steps: s.steps.map((n, i) => (i === k ? n + 1 : n)),
  };
}

/** "L,R" -> steps, for reports (e.g. stream --json contexts_used). */
export function contextsUsed(p: LookaheadChoice, s: LookaheadState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, g] of p.geometries.entries()) if (s.steps[k]! > 0) out[g.attContextSize.join(',')] = s.steps[k]!;
  return out;
}

/** `n` samples of deterministic quiet noise (amplitude 5e-4, a linear congruential generator): warm-up and calibration audio. */
export function quietNoise(n: number): Float32Array {
  let seed = 1;
  return Float32Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed / 2 ** 31 - 0.5) * 1e-3;
  });
}

/**
 * Measures every context's step time before streaming: a throwaway stream per context over `seconds` of quiet noise,
 * each step timed; the first two steps (libtorch's first-time set-up of new shapes) and the last are not counted.
 * This also warms the shapes up. Returns the state with every context's baseline.
 */
export function calibrateLookahead(se: StreamingEncoder, p: LookaheadChoice, s: LookaheadState, seconds = 2): LookaheadState {
  const fs = se.featureStream;
  if (!fs) throw new Error('adaptive look-ahead: calibration streams audio; the StreamingEncoder needs the preprocessor');
  const noise = quietNoise(Math.round(seconds * fs.featurizer.cfg.sample_rate));
  let out = s;
  for (const [k, g] of p.geometries.entries()) {
    let state: StreamState = se.endStreams(se.feedAudio([noise], { streams: [se.initStream(g)] }), [0]);
    const times: number[] = [];
    while (se.isReady(state.streams[0]!)) {
      const t0 = performance.now();
      const r = se.run(state, { maxSteps: 1 });
      times.push(performance.now() - t0);
      for (const e of r.encoded) e.dispose();
      state = r.state;
    }
    se.disposeState(state);
    for (const ms of times.slice(2, -1)) out = calibrate(out, k, ms);
  }
  return out;
}

/**
 * The geometries a stream of `se` can switch between: every trained context of its encoder that shares the stream's
 * attention cache (see StreamingEncoder.switchGeometry), its own pair with se.geometry itself, and the reasons the
 * others are left out.
 */
export function switchableGeometries(
  se: StreamingEncoder,
  setup: Omit<StreamingSetup, 'attContextSize' | 'chunkSeconds' | 'chunkFrames'>,
): { geometries: StreamingGeometry[]; skipped: string[] } {
  const geometries: StreamingGeometry[] = [];
  const skipped: string[] = [];
  const base = se.geometry.attContextSize;
  for (const pair of se.encoder.context.sizes.all) {
    // the stream's own pair keeps its geometry (e.g. a fully causal model's chosen chunk size)
    const own = pair[0] === base[0] && pair[1] === base[1];
    const g = own ? se.geometry : configureStreaming(se.encoder, { ...setup, attContextSize: [pair[0], pair[1]] });
    try {
      se.checkSwitch(se.geometry, g);
      geometries.push(g);
    } catch (e) {
      if (!(e instanceof StreamingConfigError)) throw e;
      skipped.push(e.message);
    }
  }
  return { geometries, skipped };
}
