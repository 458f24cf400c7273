// Provenance: icefall's modified_beam_search (egs/librispeech/ASR/pruned_transducer_stateless*/beam_search.py):
// frame-synchronous beam search with at most one label per frame. At every frame each hypothesis extends by every
// class (the blank keeps its labels), scored by its log-probability plus the joint's log-softmax at (frame, the
// hypothesis' last prediction output); the beam_size best extensions over all hypotheses survive, and extensions with
// the same labels are merged (their probabilities added: log-sum-exp, the better one's frames kept). With an LSTM
// prediction network (NeMo's RNNTDecoder) each hypothesis carries its own state: a blank extension keeps its
// parent's, a label one steps the network from it (one batched step for all of them). The best hypothesis is the one
// of highest score, divided by its length (labels + 1) with score_norm as NeMo's beam search does. The search state is
// handed in and returned, so decoding chunk by chunk equals decoding whole.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { CtcToken } from './ctc-greedy.js';
import type { RnntDecoder, RnntDecoderState } from './rnnt-decoder.js';
import type { RnntJoint } from './rnnt-joint.js';

export interface RnntBeamOptions {
  /** Hypotheses kept per frame (NeMo's decoding.beam.beam_size). */
  beamSize: number;
  /** Pick the best hypothesis by score / (labels + 1) (NeMo's beam.score_norm; default true). */
  scoreNorm?: boolean;
}

export interface BeamHypothesis {
  /** The labels with the frame each was emitted at. */
  tokens: CtcToken[];
  /** Log-probability (summed over the merged alignments). */
  score: number;
}

/** One stream's search state (its tensors belong to the state: release with disposeRnntBeamState). */
export interface RnntBeamState {
  /** The hypotheses, best score first. */
  hyps: BeamHypothesis[];
  /** Each hypothesis' joint-projected prediction output [K, H_joint] and LSTM state [L, K, H]. */
  predProjected: Tensor;
  decoder: RnntDecoderState;
  /** Frames consumed so far. */
  frames: number;
}

export function disposeRnntBeamState(s: RnntBeamState): void {
  for (const x of [s.predProjected, s.decoder.h, s.decoder.c]) x.dispose();
}

/** The state before any frame: one empty hypothesis, the prediction network after the start symbol. */
export function initRnntBeamState(decoder: RnntDecoder, joint: RnntJoint, device?: string): RnntBeamState {
  const p = t.noGrad(() =>
    t.tidy(() => {
      const s = decoder.step(t.full([1], decoder.blank, { dtype: 'int64', device }), decoder.initState(1, 'float32', device));
      return { pred: joint.projectPrednet(s.g), h: s.state.h, c: s.state.c };
    }),
  );
  return { hyps: [{ tokens: [], score: 0 }], predProjected: t.keep(p.pred), decoder: { h: t.keep(p.h), c: t.keep(p.c) }, frames: 0 };
}

const logAdd = (a: number, b: number): number => Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));

/** The beam_size best (hypothesis, class) extensions, best first (ties: the lower index, as argmax). */
function bestExtensions(scores: readonly number[], logp: ArrayLike<number>, classes: number, beam: number): { k: number; v: number; score: number }[] {
  const all: { k: number; v: number; score: number; i: number }[] = [];
  for (let k = 0; k < scores.length; k++) for (let v = 0; v < classes; v++) all.push({ k, v, score: scores[k]! + logp[k * classes + v]!, i: k * classes + v });
  all.sort((a, b) => b.score - a.score || a.i - b.i);
  return all.slice(0, beam);
}

interface Extension {
  parent: number;
  label: number | null; // null: the blank
  hyp: BeamHypothesis;
}

/** Selected extensions, merged by labels (log-sum-exp of scores; the first, better one's frames kept), best first. */
function mergeExtensions(picked: { k: number; v: number; score: number }[], hyps: readonly BeamHypothesis[], blank: number, frame: number): Extension[] {
  const byKey = new Map<string, Extension>();
  const out: Extension[] = [];
  for (const { k, v, score } of picked) {
    const parent = hyps[k]!;
    const tokens = v === blank ? parent.tokens : [...parent.tokens, { id: v, frame }];
    const key = tokens.map((x) => x.id).join(',');
    const seen = byKey.get(key);
    if (seen) {
      seen.hyp.score = logAdd(seen.hyp.score, score);
      continue;
    }
    const e: Extension = { parent: k, label: v === blank ? null : v, hyp: { tokens, score } };
    byKey.set(key, e);
    out.push(e);
  }
  return out.sort((a, b) => b.hyp.score - a.hyp.score);
}

/** One frame: encFrame [1, H_joint] (projected). Returns the new state (new tensors) without consuming `s`. */
function beamFrame(decoder: RnntDecoder, joint: RnntJoint, encFrame: Tensor, s: RnntBeamState, beam: number): RnntBeamState {
  const classes = joint.numClassesWithBlank;
  const logp = t.tidy(() => t.logSoftmax(joint.jointProjected(encFrame, s.predProjected), -1).toArray()); // [K * (V+1)]
  const picked = bestExtensions(
    s.hyps.map((h) => h.score),
    logp,
    classes,
    beam,
  );
  const ext = mergeExtensions(picked, s.hyps, decoder.blank, s.frames);
  const stepped = ext.filter((e) => e.label !== null);
  const K = s.hyps.length;
  const next = t.tidy(() => {
    const device = encFrame.device;
    const long = (xs: number[]): Tensor => t.tensor(BigInt64Array.from(xs, BigInt), [xs.length], { device });
    let pred = s.predProjected;
    let h = s.decoder.h;
    let c = s.decoder.c;
    if (stepped.length > 0) {
      // one batched prediction step for every label extension, from its parent's state
      const parents = long(stepped.map((e) => e.parent));
      const st = decoder.step(long(stepped.map((e) => e.label!)), { h: t.indexSelect(h, 1, parents), c: t.indexSelect(c, 1, parents) });
      pred = t.cat([pred, joint.projectPrednet(st.g)], 0);
      h = t.cat([h, st.state.h], 1);
      c = t.cat([c, st.state.c], 1);
    }
    let j = 0;
    const rows = long(ext.map((e) => (e.label === null ? e.parent : K + j++)));
    return { pred: t.indexSelect(pred, 0, rows), h: t.indexSelect(h, 1, rows), c: t.indexSelect(c, 1, rows) };
  });
  return { hyps: ext.map((e) => e.hyp), predProjected: t.keep(next.pred), decoder: { h: t.keep(next.h), c: t.keep(next.c) }, frames: s.frames + 1 };
}

/**
 * Modified beam search over the next encoder frames of one stream: encoded [T, encoder_hidden] (channel-last).
 * Returns the new state (the given one is not changed; dispose it when no longer needed).
 */
export function rnntBeamStep(decoder: RnntDecoder, joint: RnntJoint, encoded: Tensor, state: RnntBeamState, o: RnntBeamOptions): RnntBeamState {
  if (!(Number.isInteger(o.beamSize) && o.beamSize >= 1)) throw new RangeError(`beam_size must be a positive integer, got ${o.beamSize}`);
  return t.noGrad(() => {
    const f = t.keep(joint.projectEncoder(encoded)); // [T, H_joint]
    let cur = state;
    try {
      for (let i = 0; i < f.size(0); i++) {
        const frame = t.narrow(f, 0, i, 1);
        const next = beamFrame(decoder, joint, frame, cur, o.beamSize);
        frame.dispose();
        if (cur !== state) disposeRnntBeamState(cur);
        cur = next;
      }
    } finally {
      f.dispose();
    }
    if (cur !== state) return cur;
    // no frame: a state owning its own handles
    const alias = { pred: state.predProjected.alias(), h: state.decoder.h.alias(), c: state.decoder.c.alias() };
    return { ...state, hyps: state.hyps.map((h) => ({ ...h })), predProjected: t.keep(alias.pred), decoder: { h: t.keep(alias.h), c: t.keep(alias.c) } };
  });
}

/** The hypothesis reported: the highest score (per label + 1 with scoreNorm, as NeMo's score_norm). */
export function bestHypothesis(s: RnntBeamState, scoreNorm = true): BeamHypothesis {
  const key = (h: BeamHypothesis): number => (scoreNorm ? h.score / (h.tokens.length + 1) : h.score);
  return s.hyps.reduce((a, b) => (key(b) > key(a) ? b : a));
}

/** The state with only its best hypothesis, which keeps its prediction state but not its labels (a new segment). */
export function restartFromBest(s: RnntBeamState, scoreNorm = true): RnntBeamState {
  const k = s.hyps.indexOf(bestHypothesis(s, scoreNorm));
  const x = t.tidy(() => ({
    pred: t.narrow(s.predProjected, 0, k, 1).contiguous(),
    h: t.narrow(s.decoder.h, 1, k, 1).contiguous(),
    c: t.narrow(s.decoder.c, 1, k, 1).contiguous(),
  }));
  return { hyps: [{ tokens: [], score: 0 }], predProjected: t.keep(x.pred), decoder: { h: t.keep(x.h), c: t.keep(x.c) }, frames: 0 };
}

/** Whole-utterance modified beam search: encoded [B, T, encoder_hidden], lengths [B] -> the best hypothesis per row. */
export function rnntBeamDecode(decoder: RnntDecoder, joint: RnntJoint, encoded: Tensor, lengths: readonly number[], o: RnntBeamOptions): BeamHypothesis[] {
  return lengths.map((len, b) => {
    const s0 = initRnntBeamState(decoder, joint, encoded.device);
    const x = t.keep(t.tidy(() => t.narrow(t.select(encoded, 0, b), 0, 0, len)));
    const s1 = rnntBeamStep(decoder, joint, x, s0, o);
    x.dispose();
    disposeRnntBeamState(s0);
    const best = bestHypothesis(s1, o.scoreNorm ?? true);
    disposeRnntBeamState(s1);
    return best;
  });
}
