// The encoder's frame-to-frame self-attention mask as a boolean grid (rows = query frames, columns = key frames,
// true = may attend), built with createMasks exactly as the encoder builds it, plus the numbers that describe it
// (chunk size, look-ahead). Used by `streamnest show-attention` and the pictures in docs/.
// Provenance: nemo.collections.asr.modules.ConformerEncoder._create_masks (via createMasks) and
// setup_streaming_params (the look-ahead formula).
import * as t from '../torch/index.js';
import { createMasks, type AttContextSize, type AttContextStyle } from './attention-context.js';

export interface AttentionGridOptions {
  size: AttContextSize;
  style: AttContextStyle;
  /** Encoder frames shown (rows and columns). */
  frames: number;
  /** Valid (non-padding) frames, default all; frames beyond it are padding and fully blocked. */
  validFrames?: number;
}

/** allowed[q][k]: query frame q may attend key frame k (the negation of createMasks' attMask for one item). */
export function attentionGrid(o: AttentionGridOptions): boolean[][] {
  const T = o.frames;
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`attentionGrid: frames must be a positive integer, got ${T}`);
  const valid = o.validFrames ?? T;
  if (!Number.isInteger(valid) || valid < 0 || valid > T) throw new RangeError(`attentionGrid: validFrames must be an integer in [0, ${T}], got ${valid}`);
  const flat = t.tidy(() => {
    const { attMask } = createMasks(o.size, o.style, t.tensor([valid], [1], { dtype: 'int64' }), T);
    return t.logicalNot(attMask).to({ dtype: 'int64' }).toArray();
  });
  return Array.from({ length: T }, (_, q) => Array.from({ length: T }, (_, k) => flat[q * T + k] === 1));
}

/** Chunk length in frames for chunked_limited with a bounded right context (right + 1); null otherwise. */
export function chunkFrames(size: AttContextSize, style: AttContextStyle): number | null {
  return style === 'chunked_limited' && size[1] >= 0 ? size[1] + 1 : null;
}

/**
 * Encoder frames of look-ahead of the whole encoder (NeMo's lookahead_steps): chunked_limited: right;
 * regular: (right + convRight) x nLayers. Infinity for right = -1.
 */
export function encoderLookahead(size: AttContextSize, style: AttContextStyle, nLayers: number, convRight = 0): number {
  if (size[1] < 0) return Infinity;
  return style === 'chunked_limited' ? size[1] + convRight * nLayers : (size[1] + convRight) * nLayers;
}

/** A default number of frames that shows the pattern: 16, or enough to show the left limit and a few chunks. */
export function defaultFrames(size: AttContextSize, style: AttContextStyle): number {
  const [left, right] = size;
  const chunk = chunkFrames(size, style) ?? 1;
  let n = Math.max(16, 3 * chunk + 1);
  if (left >= 0) n = Math.max(n, left + (chunk > 1 ? chunk : 0) + Math.max(8, Math.ceil(left / 4)));
  if (right > 0 && style === 'regular') n = Math.max(n, right + 12);
  return chunk > 1 ? Math.ceil(n / chunk) * chunk : n;
}
