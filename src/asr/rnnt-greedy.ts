// Provenance: NeMo's GreedyBatchedRNNTInfer (parts/submodules/rnnt_greedy_decoding.py, frame-looping batched greedy
// search with blank_as_pad): per encoder frame, up to max_symbols labels are emitted, each the argmax of the joint at
// (frame, last prediction-network output); a blank (or the cap) moves the row to the next frame, and only rows that
// emitted a label advance their prediction network. The prediction network's state is carried in and out of every
// call, so decoding an utterance chunk by chunk (next to the encoder's cache) equals decoding it whole.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { CtcToken } from './ctc-greedy.js';
import { selectDecoderState, type RnntDecoder, type RnntDecoderState } from './rnnt-decoder.js';
import type { RnntJoint } from './rnnt-joint.js';

/** Running state of one batch of streams (tensors owned by the state: release with disposeRnntGreedyState). */
export interface RnntGreedyState {
  /** Joint-projected prediction output after each row's last label (or the start symbol) [B, joint_hidden]. */
  predProjected: Tensor;
  /** The prediction network's state after each row's last label. */
  decoder: RnntDecoderState;
  /** Frames consumed so far, per row. */
  frames: number[];
  /** Emitted labels per row, with the frame each was emitted at. */
  tokens: CtcToken[][];
}

export interface RnntGreedyOptions {
  /** Most labels emitted at one frame (NeMo's decoding.greedy.max_symbols; default 10). */
  maxSymbols?: number;
}

/** The state before any frame: the prediction network after the start symbol (the blank, embedded as zeros). */
export function initRnntGreedyState(
  decoder: RnntDecoder,
  joint: RnntJoint,
  batch: number,
  dtype: 'float32' | 'float64' = 'float32',
  device?: string,
): RnntGreedyState {
  const p = t.noGrad(() =>
    t.tidy(() => {
      const labels = t.full([batch], decoder.blank, { dtype: 'int64', device });
      const s = decoder.step(labels, decoder.initState(batch, dtype, device));
      return { pred: joint.projectPrednet(s.g), dec: s.state };
    }),
  );
  keepFrameState(p);
  return { predProjected: p.pred, decoder: p.dec, frames: new Array<number>(batch).fill(0), tokens: Array.from({ length: batch }, () => []) };
}

export function rnntGreedyStateTensors(s: RnntGreedyState): Tensor[] {
  return [s.predProjected, s.decoder.h, s.decoder.c];
}

export function disposeRnntGreedyState(s: RnntGreedyState): void {
  for (const x of rnntGreedyStateTensors(s)) x.dispose();
}

interface FrameState {
  pred: Tensor; // [B, H_joint]
  dec: RnntDecoderState;
}

/** Takes the tensors out of every open tidy scope: a state's tensors are released only by their owner. */
function keepFrameState(s: FrameState): FrameState {
  for (const x of [s.pred, s.dec.h, s.dec.c]) t.keep(x);
  return s;
}

function disposeFrameState(s: FrameState): void {
  for (const x of [s.pred, s.dec.h, s.dec.c]) x.dispose();
}

/**
 * One frame for every row: emits up to maxSymbols labels per active row. encFrame [B, H_joint] (projected), active [B]
 * (the frame is within the row's length). Appends to `tokens`; returns the new prediction state (new tensors, or the
 * same ones when no row emitted).
 */
function decodeFrame(
  decoder: RnntDecoder,
  joint: RnntJoint,
  encFrame: Tensor,
  active: boolean[],
  s: FrameState,
  frameOf: (b: number) => number,
  tokens: CtcToken[][],
  maxSymbols: number,
): FrameState {
  let cur = s;
  let open = active.slice(); // rows still emitting at this frame
  for (let n = 0; n < maxSymbols && open.some((x) => x); n++) {
    const ids = t.tidy(() => joint.jointProjected(encFrame, cur.pred).argmax(-1).toArray()); // [B]
    const emit = open.map((o, b) => o && ids[b] !== decoder.blank);
    if (!emit.some((x) => x)) break;
    emit.forEach((e, b) => {
      if (e) tokens[b]!.push({ id: ids[b]!, frame: frameOf(b) });
    });
    const next = keepFrameState(
      t.tidy(() => {
        const labels = t.tensor(
          BigInt64Array.from(ids, (id, b) => BigInt(emit[b] ? id : decoder.blank)),
          [ids.length],
          { device: encFrame.device },
        );
        const stepped = decoder.step(labels, cur.dec);
        const mask = t.tensor(
          Uint8Array.from(emit, (e) => (e ? 1 : 0)),
          [emit.length],
          { dtype: 'bool', device: encFrame.device },
        );
        return { pred: t.where(mask.view([-1, 1]), joint.projectPrednet(stepped.g), cur.pred), dec: selectDecoderState(mask, stepped.state, cur.dec) };
      }),
    );
    if (cur !== s) disposeFrameState(cur);
    cur = next;
    open = emit; // a row that emitted blank is done with this frame
  }
  return cur;
}

/**
 * Greedy decoding of the next encoder frames: encoded [B, T, encoder_hidden] (channel-last), lengths: valid frames of
 * each row in this chunk. Returns the new state (the given one is not changed; dispose it when no longer needed).
 */
export function rnntGreedyStep(
  decoder: RnntDecoder,
  joint: RnntJoint,
  encoded: Tensor,
  lengths: readonly number[],
  state: RnntGreedyState,
  o: RnntGreedyOptions = {},
): RnntGreedyState {
  const maxSymbols = o.maxSymbols ?? 10;
  if (!(Number.isInteger(maxSymbols) && maxSymbols >= 1)) throw new RangeError(`max_symbols must be a positive integer, got ${maxSymbols}`);
  const [b, T] = encoded.shape as [number, number, number];
  if (lengths.length !== b || state.frames.length !== b)
    throw new RangeError(`rnntGreedyStep: ${b} rows of frames, ${lengths.length} lengths, a state for ${state.frames.length}`);
  if (lengths.some((l) => !(Number.isInteger(l) && l >= 0 && l <= T))) throw new RangeError(`rnntGreedyStep: lengths [${lengths}] must be within [0, ${T}]`);
  const tokens = state.tokens.map((x) => x.slice());
  const start: FrameState = { pred: state.predProjected, dec: state.decoder };
  const out = t.noGrad(() => {
    const f = t.keep(joint.projectEncoder(encoded)); // [B, T, H_joint]
    let cur = start;
    try {
      for (let i = 0; i < T; i++) {
        const frame = t.select(f, 1, i); // [B, H_joint]
        const next = decodeFrame(
          decoder,
          joint,
          frame,
          lengths.map((l) => i < l),
          cur,
          (r) => state.frames[r]! + i,
          tokens,
          maxSymbols,
        );
        frame.dispose();
        if (next !== cur && cur !== start) disposeFrameState(cur);
        cur = next;
      }
    } finally {
      f.dispose();
    }
    // the returned state owns its tensors: copy handles when nothing was emitted in this chunk
    return cur === start ? keepFrameState({ pred: start.pred.alias(), dec: { h: start.dec.h.alias(), c: start.dec.c.alias() } }) : cur;
  });
  return { predProjected: out.pred, decoder: out.dec, frames: state.frames.map((n, r) => n + lengths[r]!), tokens };
}

/** Whole-utterance greedy decoding: encoded [B, T, encoder_hidden], lengths [B] -> labels (with frames) per row. */
export function rnntGreedyDecode(decoder: RnntDecoder, joint: RnntJoint, encoded: Tensor, lengths: readonly number[], o: RnntGreedyOptions = {}): CtcToken[][] {
  const s0 = initRnntGreedyState(decoder, joint, encoded.size(0), encoded.dtype as 'float32' | 'float64', encoded.device);
  const s1 = rnntGreedyStep(decoder, joint, encoded, lengths, s0, o);
  disposeRnntGreedyState(s0);
  disposeRnntGreedyState(s1);
  return s1.tokens;
}
