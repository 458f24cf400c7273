// How far to the LEFT a change in the input travels: the earliest encoder frame whose output can depend on a
// given feature frame, derived from the configuration (subsampling receptive field, then per layer the attention
// right context and the depthwise-conv right context). Used by the causality property tests and for latency.
// Provenance: none (derived from nemo.collections.asr.modules.ConformerEncoder's masks and paddings, spec 04 §2, §4)
import type { AttContextSize } from './attention-context.js';
import { encoderContextSizes, type ConformerEncoderArgs } from './conformer-encoder.js';

/**
 * Earliest output frame of one stride-2, kernel-3 stage that reads input frame m.
 * Output o reads inputs [s*o - padL, s*o - padL + k - 1], so it reads m iff o >= (m + padL - k + 1) / s.
 */
function stageReach(m: number, padLeft: number): number {
  return Math.max(0, Math.ceil((m + padLeft - 2) / 2));
}

/** Earliest encoder frame (after subsampling) that reads feature frame m. */
export function subsamplingReach(c: ConformerEncoderArgs, m: number): number {
  if (!c.subsampling || c.subsampling_factor <= 1) return m; // Linear pre-encoder: frame-wise
  const padLeft = c.causal_downsampling ? 2 : 1;
  let e = m;
  for (let i = 0; i < Math.log2(c.subsampling_factor); i++) e = stageReach(e, padLeft);
  return e;
}

/** Earliest query frame of one attention layer that sees key frame j under the given context. */
export function attentionReach(size: AttContextSize, style: 'regular' | 'chunked_limited', j: number): number {
  const [, right] = size;
  if (right < 0) return 0; // unlimited look-ahead
  if (style === 'chunked_limited') return Math.floor(j / (right + 1)) * (right + 1); // the whole chunk of j sees j
  return Math.max(0, j - right);
}

/**
 * The earliest encoder output frame that can change when feature frame m (or any later frame) changes.
 * attContextSize defaults to the configuration's default (first) pair.
 */
export function outputReach(c: ConformerEncoderArgs, m: number, attContextSize?: AttContextSize): number {
  const sizes = encoderContextSizes(c);
  const ctx = attContextSize ?? sizes.all[0]!;
  const convRight = sizes.convContextSize[1];
  let e = subsamplingReach(c, m);
  for (let l = 0; l < c.n_layers; l++) {
    e = attentionReach(ctx, c.att_context_style, e); // attention runs before the conv module
    e = Math.max(0, e - convRight);
  }
  return e;
}
