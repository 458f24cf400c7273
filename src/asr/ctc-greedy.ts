// Greedy CTC decoding with frame indices and word timestamps.
// Provenance: NeMo GreedyCTCInfer (parts/submodules/ctc_greedy_decoding.py: argmax per frame) followed by
// CTCDecoding's decode_tokens_to_str path (merge repeated ids, then drop blanks); word offsets as NeMo's
// compute_timestamps (frame index x window_stride x subsampling_factor). Works for any label set (./vocabulary.ts):
// characters (words between space labels) and SentencePiece pieces (words starting at '▁' pieces).
import type { CtcVocabulary } from './vocabulary.js';

/** One emitted label and the encoder frame it was first emitted at. */
export interface CtcToken {
  id: number;
  frame: number;
}

export interface WordTiming {
  word: string;
  /** Seconds: first frame of the word's first label (character or piece). */
  start: number;
  /** Seconds: end of the frame of the word's last label. */
  end: number;
}

/** Running state of the greedy decoder, so that chunks decode exactly like one whole utterance. */
export interface GreedyState {
  /** Argmax of the last frame seen (-1 before the first frame). */
  prev: number;
  /** Frames consumed so far. */
  frames: number;
  tokens: CtcToken[];
}

export function initGreedyState(): GreedyState {
  return { prev: -1, frames: 0, tokens: [] };
}

/** Consumes per-frame argmax ids (valid frames only); returns the new state (the input state is not changed). */
export function greedyStep(argmax: ArrayLike<number>, blank: number, state: GreedyState): GreedyState {
  let prev = state.prev;
  const tokens = state.tokens.slice();
  for (let i = 0; i < argmax.length; i++) {
    const id = argmax[i]!;
    if (id !== prev && id !== blank) tokens.push({ id, frame: state.frames + i });
    prev = id;
  }
  return { prev, frames: state.frames + argmax.length, tokens };
}

/** Whole-utterance greedy decoding of per-frame argmax ids. */
export function greedyDecode(argmax: ArrayLike<number>, blank: number): CtcToken[] {
  return greedyStep(argmax, blank, initGreedyState()).tokens;
}

export function tokensToText(tokens: readonly CtcToken[], vocab: CtcVocabulary): string {
  return vocab
    .decode(tokens.map((t) => t.id))
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Words and their times from the emitted tokens (the vocabulary says where words start and end): start = first frame
 * of the word's first label, end = end of the frame of its last label; frameSeconds = 0.08 for 8x subsampling of 10 ms frames.
 */
export function wordTimings(tokens: readonly CtcToken[], vocab: CtcVocabulary, frameSeconds: number): WordTiming[] {
  const ids = tokens.map((t) => t.id);
  const words: WordTiming[] = [];
  for (const { start, end } of vocab.wordSpans(ids)) {
    const word = vocab.decode(ids.slice(start, end)).replace(/\s+/g, ' ').trim();
    if (word) words.push({ word, start: roundSeconds(tokens[start]!.frame * frameSeconds), end: roundSeconds((tokens[end - 1]!.frame + 1) * frameSeconds) });
  }
  return words;
}

/** Seconds rounded to the microsecond, as word and token times are reported. */
export function roundSeconds(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
