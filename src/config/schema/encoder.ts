// model.encoder — NeMo's ConformerEncoder (spec 04). Defaults are the class defaults; the checks are
// the ones NeMo's constructor makes (_calc_context_sizes), so a config refused here is refused by NeMo.
// Two streamnest keys (not ConformerEncoder arguments) give dynamic chunk training icefall-style:
// att_chunk_sizes and att_left_context expand into NeMo's att_context_size pair list (DYNAMIC_CHUNK_KEYS), and a
// stored model_config.yaml holds the expanded list instead (nemoEncoderSection), so NeMo loads it.

import type { ConfigMap, ConfigValue } from '../config-tree.js';
import type { KeyTable } from '../key-status.js';
import { isEmpty, isOneOf, noEffect, refuseWhen } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { REQUIRED, describeValue } from '../section-reader.js';

/** `[left, right]` in encoder frames; -1 = unlimited. */
export type AttContextSize = readonly [number, number];

export type SubsamplingName = 'vggnet' | 'striding' | 'dw_striding' | 'stacking' | 'stacking_norm';
export type SelfAttentionModel = 'rel_pos' | 'rel_pos_local_attn' | 'abs_pos';
/** `batch_norm`, `layer_norm`, `instance_norm`, `fused_batch_norm` or `group_normN` (N groups). */
export type ConvNormType = string;

export interface EncoderConfig {
  readonly feat_in: number;
  /** -1 → d_model. */
  readonly feat_out: number;
  readonly n_layers: number;
  readonly d_model: number;
  readonly subsampling: SubsamplingName;
  readonly subsampling_factor: number;
  /** -1 → d_model. */
  readonly subsampling_conv_channels: number;
  readonly subsampling_conv_chunking_factor: number;
  readonly causal_downsampling: boolean;
  readonly ff_expansion_factor: number;
  readonly self_attention_model: SelfAttentionModel;
  readonly n_heads: number;
  /**
   * Always a list of pairs (NeMo accepts one pair or a list of them): the first pair is the default,
   * several pairs mean multi-lookahead training. `null`/absent in the YAML becomes `[[-1, -1]]`.
   */
  readonly att_context_size: readonly AttContextSize[];
  /** One probability per pair (uniform when null in the YAML). */
  readonly att_context_probs: readonly number[];
  readonly att_context_style: 'regular' | 'chunked_limited';
  /** The pairs came from att_chunk_sizes / att_left_context (dynamic chunk training), not from att_context_size. */
  readonly att_context_from_chunks: boolean;
  readonly xscaling: boolean;
  readonly untie_biases: boolean;
  readonly pos_emb_max_len: number;
  readonly conv_kernel_size: number;
  readonly conv_norm_type: ConvNormType;
  /** As written: null (symmetric), 'causal', or `[left, right]`; see `convContextOf`. */
  readonly conv_context_size: null | 'causal' | readonly [number, number];
  readonly use_bias: boolean;
  readonly dropout: number;
  readonly dropout_pre_encoder: number;
  readonly dropout_emb: number;
  readonly dropout_att: number;
  readonly stochastic_depth_drop_prob: number;
  readonly stochastic_depth_mode: 'linear' | 'uniform';
  readonly stochastic_depth_start_layer: number;
}

/** The depthwise-conv context `[left, right]` implied by `conv_context_size` and the kernel size. */
export function convContextOf(e: Pick<EncoderConfig, 'conv_context_size' | 'conv_kernel_size'>): [number, number] {
  const k = e.conv_kernel_size;
  if (e.conv_context_size === null) return [(k - 1) >> 1, (k - 1) >> 1];
  if (e.conv_context_size === 'causal') return [k - 1, 0];
  return [e.conv_context_size[0], e.conv_context_size[1]];
}

/** How a `[left, right]` pair breaks NeMo's chunked_limited rule (see `chunkedLimitedViolations`). */
export type ChunkedLimitedViolation = 'left_not_whole_chunks' | 'right_unlimited';

/**
 * The chunked_limited rule for one `[left, right]` pair (NeMo's ConformerEncoder._calc_context_sizes), the one check
 * of it: attention works in chunks of right + 1 frames, so a limited left context must be whole chunks
 * (`left % (right + 1) == 0`; NeMo fails on right = -1 then) and the right context must be bounded (`right != -1`;
 * NeMo lets -1 through when the model has several pairs). `pairCount`: how many pairs the model has (1 checks one
 * pair on its own). Empty when the pair is fine.
 */
/**
 * `L,R` or `[L, R]` (two integers) as a pair, else null: how the command line (--att-context-size) and the server's
 * query (?att_context_size=) spell an attention context. No torch here, so the CLI can parse before libtorch loads.
 */
export function parseAttContextSize(text: string): [number, number] | null {
  const m = /^\s*\[?\s*(-?\d+)\s*,\s*(-?\d+)\s*\]?\s*$/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function chunkedLimitedViolations(pair: AttContextSize, pairCount = 1): ChunkedLimitedViolation[] {
  const [left, right] = pair;
  const out: ChunkedLimitedViolation[] = [];
  if (left > 0 && (right < 0 || left % (right + 1) !== 0)) out.push('left_not_whole_chunks');
  if (right < 0 && pairCount <= 1) out.push('right_unlimited');
  return out;
}

const NORMS = ['batch_norm', 'layer_norm', 'instance_norm', 'fused_batch_norm'];

function isPair(v: ConfigValue): v is [number, number] {
  return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isInteger(x));
}

function readAttContextSize(r: SectionReader): AttContextSize[] {
  const v = r.value('att_context_size');
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return [[-1, -1]];
  const pairs: ConfigValue[] = Array.isArray(v) && v.length > 0 && typeof v[0] === 'number' ? [v] : Array.isArray(v) ? v : [v];
  const out: AttContextSize[] = [];
  pairs.forEach((p, i) => {
    const at = pairs.length === 1 && Array.isArray(v) && typeof v[0] === 'number' ? r.keyPath('att_context_size') : r.keyPath('att_context_size', i);
    if (!isPair(p)) {
      r.problem(at, `expected [left, right] (two integers, -1 = unlimited) or a list of such pairs; got ${describeValue(p)}`);
      return;
    }
    if (p[0] < -1 || p[1] < -1) r.problem(at, `context sizes must be >= -1 (-1 = unlimited); got [${p[0]}, ${p[1]}]`);
    out.push([p[0], p[1]]);
  });
  return out.length > 0 ? out : [[-1, -1]];
}

/** streamnest's dynamic-chunk keys of model.encoder: NeMo's ConformerEncoder has no such arguments. */
export const DYNAMIC_CHUNK_KEYS = ['att_chunk_sizes', 'att_left_context'] as const;

/**
 * Dynamic chunk training's pair list: every left context with every chunk size, as NeMo's `[left, chunk - 1]`
 * pairs, left contexts outer (the first pair, the default at inference, is the first left context with the first
 * chunk size). A uniform draw over these pairs is an independent uniform draw of the chunk size and the left context.
 */
export function dynamicChunkPairs(chunkSizes: readonly number[], leftContexts: readonly number[]): AttContextSize[] {
  return leftContexts.flatMap((left) => chunkSizes.map((c): AttContextSize => [left, c - 1]));
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** A list of integers (one integer stands for a one-element list), each checked by `ok`; null when malformed. */
function intList(r: SectionReader, key: string, what: string, ok: (x: number) => boolean): number[] | null {
  const v = r.value(key);
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'number' && Number.isInteger(x) && ok(x))) {
    r.problem(key, `expected ${what}; got ${describeValue(v)}`);
    return null;
  }
  const nums = list as number[];
  const twice = nums.find((x, i) => nums.indexOf(x) !== i);
  if (twice !== undefined) {
    r.problem(key, `lists ${twice} twice; got ${JSON.stringify(nums)}`);
    return null;
  }
  return nums;
}

/**
 * att_chunk_sizes / att_left_context (dynamic chunk training, icefall style) as NeMo's pair list, or null when
 * att_chunk_sizes is not given (absent or null). Chunk sizes are encoder frames per chunk (right context + 1); left
 * contexts are encoder frames (-1 = unlimited, the default) shared by every chunk size, so each bounded one must be
 * whole chunks of every size (chunked_limited's left % (right + 1) == 0).
 */
function readDynamicChunks(r: SectionReader, style: 'regular' | 'chunked_limited'): AttContextSize[] | null {
  const given = (key: string): boolean => {
    const v = r.value(key);
    return v !== undefined && v !== null;
  };
  const hasChunks = given('att_chunk_sizes');
  const hasLeft = given('att_left_context');
  if (!hasChunks) {
    if (hasLeft) r.problem('att_left_context', 'is the left context of dynamic chunk training: set att_chunk_sizes too (or use att_context_size)');
    return null;
  }
  let ok = true;
  if (style !== 'chunked_limited') {
    r.problem('att_chunk_sizes', `dynamic chunk training needs att_context_style: chunked_limited (chunks of right + 1 frames); got '${style}'`);
    ok = false;
  }
  const explicit = r.value('att_context_size');
  if (explicit !== undefined && explicit !== null) {
    r.problem(
      'att_context_size',
      "give either att_context_size (NeMo's pair list) or att_chunk_sizes / att_left_context (expanded into that list), not both; " +
        'drop one, e.g. model.encoder.att_context_size=null',
    );
    ok = false;
  }
  const probs = r.value('att_context_probs');
  if (probs !== undefined && probs !== null && !(Array.isArray(probs) && probs.length === 0)) {
    r.problem(
      'att_context_probs',
      'dynamic chunk training draws the chunk size and the left context uniformly; for other probabilities list the pairs in att_context_size',
    );
    ok = false;
  }
  const chunks = intList(r, 'att_chunk_sizes', 'a list of chunk sizes in encoder frames (integers >= 1; chunk = right context + 1)', (x) => x >= 1);
  const lefts = hasLeft
    ? intList(r, 'att_left_context', 'a left context in encoder frames (an integer >= 0, -1 = unlimited) or a list of them', (x) => x >= -1)
    : [-1];
  const placeholder: AttContextSize[] = [[-1, 0]]; // after a problem: a valid list, so that nothing else is reported for it
  if (!chunks || !lefts) return placeholder;
  const lcm = chunks.reduce((a, c) => (a * c) / gcd(a, c), 1); // every bounded left context must be a multiple of this
  for (const left of lefts) {
    const bad = chunks.find((c) => chunkedLimitedViolations([left, c - 1]).length > 0);
    if (bad !== undefined) {
      r.problem(
        'att_left_context',
        `chunked_limited needs whole chunks of left context (left % chunk == 0): ${left} is not a multiple of chunk size ${bad} (att_chunk_sizes ${JSON.stringify(chunks)}); ` +
          `use a multiple of ${lcm}, e.g. ${Math.max(1, Math.round(left / lcm)) * lcm}`,
      );
      ok = false;
    }
  }
  return ok ? dynamicChunkPairs(chunks, lefts) : placeholder;
}

/**
 * The encoder section as NeMo's ConformerEncoder accepts it (what a stored model_config.yaml holds): the dynamic-chunk
 * keys, which NeMo would pass to the constructor and fail on, are replaced by the pair list they expand into (the
 * probabilities stay NeMo's null = uniform). A section without them is returned as it is. Expects a validated section.
 */
export function nemoEncoderSection(encoder: ConfigMap): ConfigMap {
  if (!DYNAMIC_CHUNK_KEYS.some((k) => Object.hasOwn(encoder, k))) return encoder;
  const chunks = encoder.att_chunk_sizes;
  const list = (v: ConfigValue | undefined, dflt: number[]): number[] => (v === undefined || v === null ? dflt : typeof v === 'number' ? [v] : (v as number[]));
  const given = chunks !== undefined && chunks !== null;
  const pairs = given ? dynamicChunkPairs(list(chunks, []), list(encoder.att_left_context, [-1])).map(([l, r]) => [l, r]) : null;
  const out: ConfigMap = {};
  for (const [k, v] of Object.entries(encoder)) {
    if (k === 'att_chunk_sizes' && pairs)
      out.att_context_size = pairs; // where the chunk sizes were
    else if (!(DYNAMIC_CHUNK_KEYS as readonly string[]).includes(k) && !(k === 'att_context_size' && pairs)) out[k] = v;
  }
  return out;
}

function readAttContextProbs(r: SectionReader, n: number): number[] {
  const v = r.value('att_context_probs');
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return Array.from({ length: n }, () => 1 / n);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && x >= 0)) {
    r.problem('att_context_probs', `expected a list of probabilities; got ${describeValue(v)}`);
    return Array.from({ length: n }, () => 1 / n);
  }
  const probs = v as number[];
  if (probs.length !== n) {
    r.problem('att_context_probs', `needs one probability per att_context_size pair (${n}); got ${probs.length}`);
  } else if (Math.abs(probs.reduce((a, b) => a + b, 0) - 1) > 1e-6) {
    r.problem('att_context_probs', `must sum to 1; got ${JSON.stringify(probs)}`);
  }
  return probs;
}

/** model.encoder keys (NeMo's ConformerEncoder constructor). Also read from the configuration of a stored model. */
export const ENCODER_KEYS: KeyTable = {
  paths: ['model.encoder'],
  trainingOnly: false,
  honoured: [
    '_target_',
    'feat_in',
    'feat_out',
    'n_layers',
    'd_model',
    'subsampling',
    'subsampling_factor',
    'subsampling_conv_channels',
    'subsampling_conv_chunking_factor',
    'causal_downsampling',
    'ff_expansion_factor',
    'self_attention_model',
    'n_heads',
    'att_context_size',
    'att_context_probs',
    'att_context_style',
    // streamnest keys (dynamic chunk training), written to a stored model as the att_context_size list they expand into
    ...DYNAMIC_CHUNK_KEYS,
    'xscaling',
    'untie_biases',
    'pos_emb_max_len',
    'conv_kernel_size',
    'conv_norm_type',
    'conv_context_size',
    'use_bias',
    'dropout',
    'dropout_pre_encoder',
    'dropout_emb',
    'dropout_att',
    'stochastic_depth_drop_prob',
    'stochastic_depth_mode',
    'stochastic_depth_start_layer',
  ],
  refused: {
    reduction: refuseWhen('time reduction inside the encoder is not implemented', 'null', (v) => v === null),
    global_tokens: refuseWhen('global attention tokens are not implemented', '0 or null', isOneOf([0])),
  },
  noEffect: {
    reduction_position: noEffect('only with reduction, which is not implemented', (v) => v === null),
    reduction_factor: noEffect('only with reduction, which is not implemented', isOneOf([1])),
    global_tokens_spacing: noEffect('only with global_tokens, which are not implemented', isOneOf([1])),
    global_attn_separate: noEffect('only with global_tokens, which are not implemented', isOneOf([false])),
    use_pytorch_sdpa: noEffect('streamnest computes the same attention with its explicit path', isOneOf([false])),
    use_pytorch_sdpa_backends: noEffect('streamnest computes the same attention with its explicit path', isEmpty),
    sync_max_audio_length: noEffect('positional encodings cover any length without synchronising processes', isOneOf([true])),
  },
};

export function readEncoderConfig(r: SectionReader): EncoderConfig {
  r.classify(ENCODER_KEYS);
  r.target('ConformerEncoder');
  const n_layers = r.int('n_layers', REQUIRED, { min: 1 });
  const d_model = r.int('d_model', REQUIRED, { min: 1 });
  const subsampling = r.oneOf('subsampling', ['vggnet', 'striding', 'dw_striding', 'stacking', 'stacking_norm'] as const, 'striding');
  const subsampling_factor = r.int('subsampling_factor', 4, { min: 1 });
  if (['vggnet', 'striding', 'dw_striding'].includes(subsampling) && (subsampling_factor & (subsampling_factor - 1)) !== 0) {
    r.problem('subsampling_factor', `must be a power of 2 for ${subsampling} subsampling; got ${subsampling_factor}`);
  }
  const n_heads = r.int('n_heads', 4, { min: 1 });
  if (d_model > 0 && n_heads > 0 && d_model % n_heads !== 0) {
    r.problem('n_heads', `d_model (${d_model}) must be divisible by n_heads (${n_heads})`);
  }
  const att_context_style = r.oneOf('att_context_style', ['regular', 'chunked_limited'] as const, 'regular');
  const dynamic = readDynamicChunks(r, att_context_style);
  const att_context_size = dynamic ?? readAttContextSize(r);
  if (att_context_style === 'chunked_limited' && !dynamic) {
    att_context_size.forEach(([left, right], i) => {
      for (const v of chunkedLimitedViolations([left, right], att_context_size.length)) {
        if (v === 'left_not_whole_chunks') {
          r.problem(r.keyPath('att_context_size', i), `chunked_limited needs left % (right + 1) == 0; got [${left}, ${right}]`);
        } else {
          r.problem('att_context_size', 'right context cannot be unlimited (-1) with chunked_limited style');
        }
      }
    });
  }
  // dynamic chunk training draws uniformly (readDynamicChunks refuses att_context_probs beside it)
  const att_context_probs = dynamic ? dynamic.map(() => 1 / dynamic.length) : readAttContextProbs(r, att_context_size.length);

  const conv_kernel_size = r.int('conv_kernel_size', 31, { min: 1 });
  if (conv_kernel_size % 2 === 0) r.problem('conv_kernel_size', `must be odd; got ${conv_kernel_size}`);

  let conv_norm_type = r.string('conv_norm_type', 'batch_norm');
  if (!NORMS.includes(conv_norm_type) && !/^group_norm[1-9]\d*$/.test(conv_norm_type)) {
    const hint = /^groupnorm\d+$/.test(conv_norm_type)
      ? ` (NeMo spells it '${conv_norm_type.replace('groupnorm', 'group_norm')}'; the 'groupnormN' in its YAML comment is a typo)`
      : '';
    r.problem(
      'conv_norm_type',
      `must be one of 'batch_norm', 'layer_norm', 'instance_norm', 'fused_batch_norm', 'group_normN'; got ${JSON.stringify(conv_norm_type)}${hint}`,
    );
    conv_norm_type = 'batch_norm';
  }

  let conv_context_size: EncoderConfig['conv_context_size'] = null;
  const cc = r.value('conv_context_size');
  if (cc === 'causal') conv_context_size = 'causal';
  else if (isPair(cc as ConfigValue)) {
    const [lc, rc] = cc as [number, number];
    if (lc < 0 || rc < 0 || lc + rc + 1 !== conv_kernel_size) {
      r.problem('conv_context_size', `[left, right] must be >= 0 with left + right + 1 == conv_kernel_size (${conv_kernel_size}); got [${lc}, ${rc}]`);
    }
    conv_context_size = [lc, rc];
  } else if (cc !== undefined && cc !== null) {
    r.problem('conv_context_size', `must be null, 'causal' or [left, right]; got ${describeValue(cc)}`);
  }

  const rate = { min: 0, max: 1, maxExclusive: true } as const;
  const config: EncoderConfig = {
    feat_in: r.int('feat_in', REQUIRED, { min: 1 }),
    feat_out: r.int('feat_out', -1, { min: -1 }),
    n_layers,
    d_model,
    subsampling,
    subsampling_factor,
    subsampling_conv_channels: r.int('subsampling_conv_channels', -1, { min: -1 }),
    subsampling_conv_chunking_factor: r.int('subsampling_conv_chunking_factor', 1, { min: -1 }),
    causal_downsampling: r.bool('causal_downsampling', false),
    ff_expansion_factor: r.number('ff_expansion_factor', 4, { min: 0, minExclusive: true }),
    self_attention_model: r.oneOf('self_attention_model', ['rel_pos', 'rel_pos_local_attn', 'abs_pos'] as const, 'rel_pos'),
    n_heads,
    att_context_size,
    att_context_probs,
    att_context_style,
    att_context_from_chunks: dynamic !== null,
    xscaling: r.bool('xscaling', true),
    untie_biases: r.bool('untie_biases', true),
    pos_emb_max_len: r.int('pos_emb_max_len', 5000, { min: 1 }),
    conv_kernel_size,
    conv_norm_type,
    conv_context_size,
    use_bias: r.bool('use_bias', true),
    dropout: r.number('dropout', 0.1, rate),
    dropout_pre_encoder: r.number('dropout_pre_encoder', 0.1, rate),
    dropout_emb: r.number('dropout_emb', 0.1, rate),
    dropout_att: r.number('dropout_att', 0.0, rate),
    stochastic_depth_drop_prob: r.number('stochastic_depth_drop_prob', 0.0, rate),
    stochastic_depth_mode: r.oneOf('stochastic_depth_mode', ['linear', 'uniform'] as const, 'linear'),
    stochastic_depth_start_layer: r.int('stochastic_depth_start_layer', 1, { min: 1, ...(n_layers > 0 ? { max: n_layers } : {}) }),
  };
  r.finish();
  return config;
}
