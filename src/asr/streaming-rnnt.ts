// Streaming greedy transducer decoding of several streams at once. Each stream carries its own RnntGreedyState (one
// row: the prediction network's output and LSTM state after its last label) next to its encoder cache; a step stacks
// the states of the streams decoded together, runs rnntGreedyStep over their new encoder frames (padded to the
// longest chunk, each row limited to its own frames) and splits the states back into one per stream. Chunk by chunk,
// a stream's labels and frames so equal rnntGreedyDecode over the whole utterance.
// Modified beam search streams too (beamRnntStreamDecoder): each stream's hypotheses and their prediction states are
// carried between chunks, each stream searched on its own.
// Provenance: NeMo's cache-aware streaming of transducers (ConformerEncoder.cache_aware_stream_step with the RNN-T
// decoding's previous_hypotheses carrying the prediction network's state between chunks).
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { CtcToken } from './ctc-greedy.js';
import {
  bestHypothesis,
  disposeRnntBeamState,
  initRnntBeamState,
  restartFromBest,
  rnntBeamStep,
  type RnntBeamOptions,
  type RnntBeamState,
} from './rnnt-beam.js';
import type { RnntDecoder } from './rnnt-decoder.js';
import { disposeRnntGreedyState, initRnntGreedyState, rnntGreedyStep, type RnntGreedyOptions, type RnntGreedyState } from './rnnt-greedy.js';
import type { RnntJoint } from './rnnt-joint.js';

/** A fresh one-row state for a new stream (its tensors belong to the caller: disposeRnntGreedyState). */
export function initStreamRnntState(decoder: RnntDecoder, joint: RnntJoint, device?: string): RnntGreedyState {
  return initRnntGreedyState(decoder, joint, 1, 'float32', device);
}

/** One state of B rows from B one-row states (new tensors; the given states are unchanged). */
function stackStates(states: readonly RnntGreedyState[]): RnntGreedyState {
  const s = t.tidy(() => ({
    pred: t.cat(
      states.map((x) => x.predProjected),
      0,
    ), // [B, H_joint]
    h: t.cat(
      states.map((x) => x.decoder.h),
      1,
    ), // [L, B, H]
    c: t.cat(
      states.map((x) => x.decoder.c),
      1,
    ),
  }));
  return {
    predProjected: t.keep(s.pred),
    decoder: { h: t.keep(s.h), c: t.keep(s.c) },
    frames: states.map((x) => x.frames[0]!),
    tokens: states.map((x) => x.tokens[0]!),
  };
}

/** Row b of a B-row state as a one-row state owning its own (contiguous) tensors. */
function rowOf(s: RnntGreedyState, b: number): RnntGreedyState {
  const x = t.tidy(() => ({
    pred: t.narrow(s.predProjected, 0, b, 1).contiguous(),
    h: t.narrow(s.decoder.h, 1, b, 1).contiguous(),
    c: t.narrow(s.decoder.c, 1, b, 1).contiguous(),
  }));
  return { predProjected: t.keep(x.pred), decoder: { h: t.keep(x.h), c: t.keep(x.c) }, frames: [s.frames[b]!], tokens: [s.tokens[b]!] };
}

/** Encoder chunks [D, k_i] (channel-first, as the streaming encoder returns them) -> [B, max k, D] zero-padded. */
function padChunks(encoded: readonly Tensor[]): Tensor {
  const T = Math.max(...encoded.map((e) => e.size(1)));
  return t.keep(t.tidy(() => t.stack(encoded.map((e) => t.pad(e, [0, T - e.size(1)]).transpose(0, 1)))));
}

/**
 * Greedy decoding of the next frames of several streams together: encoded[i] [D, k_i] are stream i's new encoder
 * frames, states[i] its one-row state. Returns the new states (new tensors; the given ones are unchanged: dispose
 * them when no longer needed). Label frames count from each state's `frames`.
 */
export function rnntGreedyStepStreams(
  decoder: RnntDecoder,
  joint: RnntJoint,
  encoded: readonly Tensor[],
  states: readonly RnntGreedyState[],
  o: RnntGreedyOptions = {},
): RnntGreedyState[] {
  if (encoded.length !== states.length) throw new RangeError(`rnntGreedyStepStreams: ${encoded.length} chunks for ${states.length} states`);
  if (states.some((s) => s.frames.length !== 1)) throw new RangeError('rnntGreedyStepStreams: every stream state must have one row');
  if (states.length === 0) return [];
  return t.noGrad(() => {
    const lengths = encoded.map((e) => e.size(1));
    const stacked = stackStates(states);
    let next: RnntGreedyState | null = null;
    try {
      const x = padChunks(encoded);
      try {
        next = rnntGreedyStep(decoder, joint, x, lengths, stacked, o);
      } finally {
        x.dispose();
      }
      const n = next;
      return states.map((_, b) => rowOf(n, b));
    } finally {
      for (const s of [stacked, ...(next ? [next] : [])]) for (const v of [s.predProjected, s.decoder.h, s.decoder.c]) v.dispose();
    }
  });
}

/** One stream's transducer decoding: the current segment's labels (with their frames) and frames decoded so far. */
export interface RnntStreamState {
  readonly frames: number;
  readonly tokens: readonly CtcToken[];
}

/**
 * A transducer search run stream by stream (greedy or beam), its state carried between chunks. The states own
 * tensors: `step` returns new states (the given ones are unchanged; dispose them), `newSegment` hands the carried
 * state over to a state with no labels and zero frames (the given one must not be disposed after).
 */
export interface RnntStreamDecoder<S extends RnntStreamState = RnntStreamState> {
  init(): S;
  step(encoded: readonly Tensor[], states: readonly S[]): S[];
  newSegment(s: S): S;
  dispose(s: S): void;
}

interface GreedyStreamState extends RnntStreamState {
  readonly g: RnntGreedyState;
}

/** Frame-synchronous greedy search (rnntGreedyStepStreams) as a stream decoder. */
export function greedyRnntStreamDecoder(decoder: RnntDecoder, joint: RnntJoint, o: RnntGreedyOptions = {}): RnntStreamDecoder<GreedyStreamState> {
  const wrap = (g: RnntGreedyState): GreedyStreamState => ({ g, frames: g.frames[0]!, tokens: g.tokens[0]! });
  return {
    init: () => wrap(initStreamRnntState(decoder, joint)),
    step: (encoded, states) =>
      rnntGreedyStepStreams(
        decoder,
        joint,
        encoded,
        states.map((s) => s.g),
        o,
      ).map(wrap),
    newSegment: (s) => wrap({ ...s.g, frames: [0], tokens: [[]] }),
    dispose: (s) => disposeRnntGreedyState(s.g),
  };
}

interface BeamStreamState extends RnntStreamState {
  readonly b: RnntBeamState;
}

/**
 * Modified beam search (rnnt-beam.ts) as a stream decoder: the stream's result is its best hypothesis so far (which
 * can change, not only grow, as frames arrive); a new segment restarts from the best hypothesis' prediction state.
 */
export function beamRnntStreamDecoder(decoder: RnntDecoder, joint: RnntJoint, o: RnntBeamOptions): RnntStreamDecoder<BeamStreamState> {
  const wrap = (b: RnntBeamState): BeamStreamState => ({ b, frames: b.frames, tokens: bestHypothesis(b, o.scoreNorm ?? true).tokens });
  return {
    init: () => wrap(initRnntBeamState(decoder, joint)),
    step: (encoded, states) =>
      states.map((s, i) => {
        const x = t.keep(t.tidy(() => encoded[i]!.transpose(0, 1))); // [k, D]
        try {
          return wrap(rnntBeamStep(decoder, joint, x, s.b, o));
        } finally {
          x.dispose();
        }
      }),
    newSegment: (s) => {
      const r = wrap(restartFromBest(s.b, o.scoreNorm ?? true));
      disposeRnntBeamState(s.b);
      return r;
    },
    dispose: (s) => disposeRnntBeamState(s.b),
  };
}
