// Attention context: validation of att_context_size / att_context_probs / conv_context_size, the choice of the
// context per forward (multi-lookahead training, explicit default at inference) and the attention/padding masks.
// Provenance: nemo.collections.asr.modules.conformer_encoder.ConformerEncoder._calc_context_sizes / _create_masks
import * as t from '../torch/index.js';
import type { Generator, Tensor } from '../torch/index.js';
import { chunkedLimitedViolations } from '../config/schema/encoder.js';

/** [left, right] in encoder frames; -1 = unlimited. */
export type AttContextSize = [number, number];
export type AttContextStyle = 'regular' | 'chunked_limited';

export interface ContextSizes {
  /** Every allowed pair (one unless multi-lookahead). */
  all: AttContextSize[];
  /** Probabilities of drawing each pair in training (uniform when not given). */
  probs: number[];
  /** Resolved [left, right] of the depthwise convolution. */
  convContextSize: [number, number];
}

function isPair(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number');
}

/** NeMo's _calc_context_sizes: normalises a pair or a list of pairs and checks every constraint. */
export function calcContextSizes(o: {
  attContextSize: AttContextSize | AttContextSize[] | null | undefined;
  attContextProbs: number[] | null | undefined;
  attContextStyle: AttContextStyle;
  convContextSize: [number, number] | 'causal' | null | undefined;
  convKernelSize: number;
}): ContextSizes {
  let all: AttContextSize[];
  if (o.attContextSize && o.attContextSize.length > 0) {
    all = isPair(o.attContextSize) ? [[o.attContextSize[0], o.attContextSize[1]]] : (o.attContextSize as AttContextSize[]).map((p) => [p[0], p[1]]);
  } else {
    all = [[-1, -1]];
  }
  for (const [i, [left, right]] of all.entries()) {
    if (!isPair([left, right])) throw new RangeError(`att_context_size[${i}] must be a pair of integers`);
    if (o.attContextStyle === 'chunked_limited') {
      const bad = chunkedLimitedViolations([left, right], all.length);
      if (bad.includes('left_not_whole_chunks')) throw new RangeError(`att_context_size[${i}][0] % (att_context_size[${i}][1] + 1) should be zero!`);
      if (bad.includes('right_unlimited')) throw new RangeError(`Right context (att_context_size[${i}][1]) can not be unlimited for chunked_limited style!`);
    } else if (o.attContextStyle !== 'regular') {
      throw new RangeError(`att_context_style '${String(o.attContextStyle)}' is not supported (regular, chunked_limited)`);
    }
  }
  let probs: number[];
  if (o.attContextProbs && o.attContextProbs.length > 0) {
    if (o.attContextProbs.length !== all.length) throw new RangeError('The size of the att_context_probs should be the same as att_context_size.');
    if (o.attContextProbs.reduce((a, b) => a + b, 0) !== 1)
      throw new RangeError('The sum of numbers in att_context_probs should be equal to one to be a distribution.');
    probs = [...o.attContextProbs];
  } else {
    probs = all.map(() => 1 / all.length);
  }
  const k = o.convKernelSize;
  let conv: [number, number];
  if (o.convContextSize === null || o.convContextSize === undefined) conv = [(k - 1) >> 1, (k - 1) >> 1];
  else if (o.convContextSize === 'causal') conv = [k - 1, 0];
  else if (isPair(o.convContextSize)) {
    if (o.convContextSize[0] + o.convContextSize[1] + 1 !== k) throw new RangeError(`Invalid conv_context_size: [${o.convContextSize.join(', ')}]!`);
    conv = [o.convContextSize[0], o.convContextSize[1]];
  } else throw new RangeError("Invalid conv_context_size! It should be the string 'causal' or a list of two integers.");
  return { all, probs, convContextSize: conv };
}

/**
 * Which context pair a forward uses. Training with several pairs draws one per call from the RNG the caller
 * passes in; otherwise (eval, or a single pair) the default pair is used. The default is the first pair until
 * setDefault() names another one.
 */
export class AttentionContextPolicy {
  private defaultIndex = 0;
  private defaultPair: AttContextSize;
  constructor(readonly sizes: ContextSizes) {
    this.defaultPair = sizes.all[0]!;
  }
  get default(): AttContextSize {
    return this.defaultPair;
  }
  get isMultiLookahead(): boolean {
    return this.sizes.all.length > 1;
  }
  /** NeMo's set_default_att_context_size (it warns, not fails, for a pair outside the list; so do we via the return). */
  setDefault(pair: AttContextSize): { known: boolean } {
    const i = this.sizes.all.findIndex((p) => p[0] === pair[0] && p[1] === pair[1]);
    this.defaultIndex = i;
    this.defaultPair = [pair[0], pair[1]];
    return { known: i >= 0 };
  }
  /** Index of the default pair in sizes.all (-1 if it was set to a pair outside the list). */
  get defaultPairIndex(): number {
    return this.defaultIndex;
  }
  /** The pair for one forward call. */
  choose(training: boolean, rng?: Generator): AttContextSize {
    if (!training || !this.isMultiLookahead) return this.defaultPair;
    if (!rng) throw new Error('multi-lookahead training draws the attention context from an RNG: pass one to forward()');
    const u = t.tidy(() => t.rand([1], { generator: rng, dtype: 'float64' }).item());
    let acc = 0;
    for (let i = 0; i < this.sizes.all.length; i++) {
      acc += this.sizes.probs[i]!;
      if (u < acc) return this.sizes.all[i]!;
    }
    return this.sizes.all[this.sizes.all.length - 1]!;
  }
}

/**
 * The context rule alone: allowed[i][j] (query i may attend key j) for a T x T grid, as a bool tensor [T, T].
 * regular: (left < 0 or i - j <= left) and (right < 0 or j - i <= right).
 * chunked_limited (right >= 0): chunk = right + 1, 0 <= floor(i/chunk) - floor(j/chunk) <= floor(left/chunk) (left < 0: 10000).
 */
export function contextAllowed(size: AttContextSize, style: AttContextStyle, length: number, queryFrom = 0): Tensor {
  return t.tidy(() => {
    const [left, right] = size;
    const i = t.arange(queryFrom, length).unsqueeze(1); // [Tq, 1] (query rows queryFrom .. length-1)
    const j = t.arange(length).unsqueeze(0); // [1, T]
    let ok = t.ones([length - queryFrom, length], { dtype: 'bool' });
    if (style === 'regular' || right < 0) {
      if (left >= 0) ok = t.logicalAnd(ok, i.sub(j).le(left)); // triu(diagonal=-left)
      if (style === 'regular' && right >= 0) ok = t.logicalAnd(ok, j.sub(i).le(right)); // tril(diagonal=right)
      return ok;
    }
    const chunk = right + 1;
    const leftChunks = left >= 0 ? Math.floor(left / chunk) : 10000;
    const ci = t.floor(t.div(i, chunk)); // chunk index of the query [T, 1]
    const cj = t.floor(t.div(j, chunk)); // [1, T]
    const diff = ci.sub(cj); // [Tq, T]
    return t.logicalAnd(diff.le(leftChunks), diff.ge(0));
  });
}

export interface Masks {
  /** [B, T] true = padding (or, when streaming, an empty cache slot). */
  padMask: Tensor;
  /** [B, T, T] true = blocked. */
  attMask: Tensor;
}

/**
 * Whether no frame of the batch is padding (every length is `frames`), so that a mask of padded frames would change
 * nothing and may be left out (exact). Read only from lengths on the CPU, where it costs no device wait; elsewhere
 * false (the caller masks as usual). lengths: int64 [B].
 */
export function noFramePadded(lengths: Tensor, frames: number): boolean {
  return lengths.device === 'cpu' && lengths.toArray().every((n) => n === frames);
}

/**
 * NeMo's _create_masks over `maxLength` positions: valid[b][t] = t < paddingLength[b] (and t >= offset[b] when
 * streaming); attMask = not (allowed and valid[query] and valid[key]); padMask = not valid.
 * paddingLength / offset: int64 [B]. queryFrom > 0 builds only the query rows queryFrom .. maxLength-1 of attMask
 * ([B, maxLength - queryFrom, maxLength]: a streaming step's chunk rows after its cache slots).
 */
export function createMasks(
  size: AttContextSize,
  style: AttContextStyle,
  paddingLength: Tensor,
  maxLength: number,
  offset: Tensor | null = null,
  queryFrom = 0,
): Masks {
  return t.tidy(() => masksFromAllowed(contextAllowed(size, style, maxLength, queryFrom), paddingLength, maxLength, offset, queryFrom));
}

/** createMasks with the context rule given as allowed [Tq, T] (query rows queryFrom .. maxLength-1). */
export function masksFromAllowed(allowed: Tensor, paddingLength: Tensor, maxLength: number, offset: Tensor | null = null, queryFrom = 0): Masks {
  return t.tidy(() => {
    const pos = t.arange(maxLength).unsqueeze(0); // [1, T]
    let valid = pos.lt(paddingLength.unsqueeze(1)); // [B, T]
    if (offset) valid = t.logicalAnd(valid, pos.ge(offset.unsqueeze(1)));
    const validQ = queryFrom > 0 ? valid.narrow(1, queryFrom, maxLength - queryFrom) : valid; // [B, Tq]
    const pair = t.logicalAnd(valid.unsqueeze(1), validQ.unsqueeze(2)); // [B, 1, T] & [B, Tq, 1] -> [B, Tq, T]
    const ok = t.logicalAnd(pair, allowed.unsqueeze(0)); // [B, Tq, T]
    return { padMask: t.logicalNot(valid), attMask: t.logicalNot(ok) };
  });
}
