// The streaming-safety validator: every part of a NEST/FastConformer configuration that sees the future or
// breaks chunk-by-chunk equality with the offline pass, with the fix for each.
// Provenance: spec 04 §2, §4, §6.2; spec 05 §7–8; spec 02 §2 (the causal masking extension); NeMo's
// ConformerEncoder (setup_streaming_params' look-ahead formula), ConvSubsampling (vggnet ignores is_causal),
// PositionalEncoding.forward (abs_pos adds pe[:T+cache] to T frames) and ConformerConvolution (norm types).
import type { NestConfig } from './schema.js';
import { chunkedLimitedViolations, convContextOf } from './schema/encoder.js';
import { quantizerSeesRawFeatures } from './target-input.js';

export interface SafetyProblem {
  /** Key path in NeMo's layout (`model.encoder.att_context_size[1]` for one pair of a multi-lookahead list). */
  key: string;
  /** error: the model sees the future or streaming output differs from the offline pass; warning: it works but probably not as intended. */
  severity: 'error' | 'warning';
  problem: string;
  fix: string;
}

export interface SafetyOptions {
  /**
   * The look-ahead the user intends, in encoder frames (0 = fully causal). Any attention context pair whose
   * total look-ahead exceeds it is reported: an error for the default (first) pair, a warning for the other
   * pairs of a multi-lookahead list. Undefined: any bounded look-ahead is accepted.
   */
  maxLookahead?: number;
}

/** Duration of one feature frame (the preprocessor hop) in milliseconds. */
export function featureFrameMs(c: NestConfig): number {
  const p = c.model.preprocessor;
  // typeof checks: callers such as checkpoint/describe.ts pass sections read from .nemo files, not validated configs
  if (typeof p.n_window_stride === 'number') return (1000 * p.n_window_stride) / p.sample_rate;
  return 1000 * (typeof p.window_stride === 'number' ? p.window_stride : 0.01);
}

/** Feature frames per encoder frame (the subsampling factor; 1 without subsampling). */
export function subsamplingFactor(c: NestConfig): number {
  return Math.max(1, c.model.encoder.subsampling_factor || 1);
}

/** Duration of one encoder frame in milliseconds (subsampling_factor x hop: 80 ms for NEST). */
export function encoderFrameMs(c: NestConfig): number {
  return subsamplingFactor(c) * featureFrameMs(c);
}

/**
 * How many encoder frames into the future the encoder output depends on for a [left, right] pair: NeMo's
 * lookahead_steps of setup_streaming_params. chunked_limited: right (the first frame of a chunk waits for the rest
 * of its chunk); regular: the per-layer look-ahead adds up, (right + conv right) x n_layers. Infinity when right = -1.
 */
export function lookaheadFrames(c: NestConfig, pair: readonly [number, number]): number {
  const e = c.model.encoder;
  const [, right] = pair;
  if (right < 0) return Infinity;
  const convRight = convContextOf(e)[1];
  if (e.att_context_style === 'chunked_limited') return right + convRight * e.n_layers;
  return (right + convRight) * e.n_layers;
}

const fmtMs = (ms: number): string => (ms >= 1000 ? `${+(ms / 1000).toFixed(3)} s` : `${+ms.toFixed(1)} ms`);

export function checkStreamingSafety(c: NestConfig, opts: SafetyOptions = {}): SafetyProblem[] {
  const out: SafetyProblem[] = [];
  const add = (key: string, severity: SafetyProblem['severity'], problem: string, fix: string): void => {
    out.push({ key, severity, problem, fix });
  };
  const m = c.model;
  const e = m.encoder;
  const S = subsamplingFactor(c);
  const encMs = encoderFrameMs(c);
  const featMs = featureFrameMs(c);

  // --- front end -----------------------------------------------------------------------------------------------
  const norm = m.preprocessor.normalize;
  if (norm === 'per_feature' || norm === 'all_features') {
    add(
      'model.preprocessor.normalize',
      'error',
      `'${norm}' normalises every feature with the mean and standard deviation of the whole utterance, future frames included; a stream does not have them yet, so streamed features differ from the ones the model was trained on.`,
      "set model.preprocessor.normalize=NA (no normalisation, as in NeMo's cache-aware streaming recipes).",
    );
  }

  if (quantizerSeesRawFeatures(norm, m.target_normalize)) {
    add(
      'model.target_normalize',
      'warning',
      `the quantizer would turn unnormalised log-mel into targets (model.preprocessor.normalize: ${JSON.stringify(norm)}, model.target_normalize: none): loudness dominates every random projection, the targets collapse to a handful of tokens and pretraining learns little.`,
      'set model.target_normalize=per_utterance (targets are computed in training only, from the whole clean utterance, so the encoder stays streaming-safe), or give the encoder fixed statistics: model.preprocessor.normalize={fixed_mean: null, fixed_std: null} estimates them from the training manifest (or streamnest stats).',
    );
  }

  // --- subsampling ---------------------------------------------------------------------------------------------
  if (e.subsampling === 'vggnet' && S > 1) {
    add(
      'model.encoder.subsampling',
      'error',
      'vggnet subsampling uses centred 3x3 convolutions and max-pooling; NeMo builds them the same way whatever causal_downsampling says, so encoder frames see feature frames after them.',
      'set model.encoder.subsampling=dw_striding (with model.encoder.causal_downsampling=true).',
    );
  } else if ((e.subsampling === 'stacking' || e.subsampling === 'stacking_norm') && S > 1) {
    add(
      'model.encoder.subsampling',
      'warning',
      `${e.subsampling} subsampling has no causal mode and no streaming support (NeMo's cache-aware streaming needs a convolutional subsampling with get_sampling_frames; streamnest's encoder builds dw_striding and striding only).`,
      'set model.encoder.subsampling=dw_striding and model.encoder.causal_downsampling=true.',
    );
  }
  if (!e.causal_downsampling && S > 1 && e.subsampling !== 'vggnet') {
    add(
      'model.encoder.causal_downsampling',
      'error',
      `the stride-2 subsampling convolutions are centred (one frame of padding on both sides), so encoder frame j reads feature frames up to ${S}j+${S - 1} instead of ${S}j: ${S - 1} frames (${fmtMs((S - 1) * featMs)}) of future per encoder frame, and streamed chunk edges differ from the offline pass.`,
      'set model.encoder.causal_downsampling=true (note: the subsampling output layer then has a different shape; checkpoints of the two kinds are not interchangeable).',
    );
  }

  // --- convolution module --------------------------------------------------------------------------------------
  const [, convRight] = convContextOf(e);
  if (convRight > 0) {
    add(
      'model.encoder.conv_context_size',
      'error',
      `the depthwise convolution looks ${convRight} frame(s) ahead in every layer (${e.conv_context_size === null ? 'null = symmetric' : JSON.stringify(e.conv_context_size)} with kernel ${e.conv_kernel_size}): ${convRight * e.n_layers} encoder frames (${fmtMs(convRight * e.n_layers * encMs)}) over ${e.n_layers} layers, and streamed chunks see zeros where the offline pass sees the next chunk.`,
      'set model.encoder.conv_context_size=causal.',
    );
  }
  const nt = e.conv_norm_type;
  if (nt === 'fused_batch_norm') {
    add(
      'model.encoder.conv_norm_type',
      'warning',
      "fused_batch_norm is a per-channel scale and shift with no statistics (NeMo's FusedBatchNorm1d, made from a trained batch_norm for fine-tuning): streaming-safe, but it does not normalise and streamnest's encoder does not build it.",
      'set model.encoder.conv_norm_type=layer_norm for pretraining.',
    );
  } else if (nt === 'batch_norm') {
    add(
      'model.encoder.conv_norm_type',
      'error',
      `${nt} in the convolution module normalises, in training, with statistics over the whole batch and all time steps (future frames, padding and other utterances included), so each pretraining output depends on the future; inference uses running averages instead, so a stream never sees the statistics the model was trained with.`,
      'set model.encoder.conv_norm_type=layer_norm (per-frame statistics).',
    );
  } else if (nt === 'instance_norm' || /^group_norm\d+$/.test(nt)) {
    add(
      'model.encoder.conv_norm_type',
      'error',
      `${nt} normalises each channel${nt === 'instance_norm' ? '' : ' group'} over all time steps of the utterance, future frames included, in training and in inference; a chunk cannot reproduce it.`,
      'set model.encoder.conv_norm_type=layer_norm (per-frame statistics).',
    );
  }

  // --- attention -----------------------------------------------------------------------------------------------
  const pairs = e.att_context_size;
  const many = pairs.length > 1;
  pairs.forEach((pair, i) => {
    const [l, r] = pair;
    // dynamic chunk training: the pair of chunk size r + 1 in att_chunk_sizes; otherwise the pair's own key
    const key = e.att_context_from_chunks ? 'model.encoder.att_chunk_sizes' : many ? `model.encoder.att_context_size[${i}]` : 'model.encoder.att_context_size';
    const which = e.att_context_from_chunks
      ? ` (chunk size ${r + 1}${i === 0 ? ', the default pair' : ''})`
      : many
        ? i === 0
          ? ' (the default pair)'
          : ` (pair ${i} of the multi-lookahead list)`
        : '';
    if (r < 0) {
      add(
        key,
        'error',
        `[${l}, ${r}]${which}: a right context of -1 is unlimited look-ahead; every frame attends to the whole rest of the utterance.`,
        many
          ? `replace the pair by one with a bounded right context, e.g. [${l}, 0], or remove it from the list.`
          : 'set model.encoder.att_context_size=[-1,0] (fully causal), or a bounded look-ahead such as [-1,4] with model.encoder.att_context_style=chunked_limited.',
      );
      return;
    }
    const la = lookaheadFrames(c, pair);
    if (r > 0 && e.att_context_style === 'regular') {
      add(
        key,
        'warning',
        `[${l}, ${r}]${which} with att_context_style regular: the ${r}-frame look-ahead applies in every layer, so the output waits ${la} encoder frames (${fmtMs(la * encMs)}), not ${r}; NeMo's cache-aware streaming then recomputes ${la} frames per step, emits one frame per step and can mishandle the last chunk.`,
        `set model.encoder.att_context_style=chunked_limited (a fixed look-ahead of at most ${r} frames = ${fmtMs(r * encMs)}, exact chunk-by-chunk streaming${chunkedLimitedViolations([l, r]).includes('left_not_whole_chunks') ? `; the left context must then be a multiple of ${r + 1}, e.g. ${Math.ceil(l / (r + 1)) * (r + 1)}` : ''}), or a right context of 0.`,
      );
    }
    if (opts.maxLookahead !== undefined && la > opts.maxLookahead) {
      const intent =
        opts.maxLookahead === 0
          ? 'fully causal (no look-ahead)'
          : `at most ${opts.maxLookahead} encoder frame(s) of look-ahead (${fmtMs(opts.maxLookahead * encMs)})`;
      add(
        key,
        i === 0 ? 'error' : 'warning',
        `[${l}, ${r}]${which} looks ${la} encoder frame(s) (${fmtMs(la * encMs)}) ahead, but the model is declared ${intent}${i === 0 ? '' : '; this pair is trained but cannot be deployed within that latency'}.`,
        opts.maxLookahead === 0
          ? e.att_context_from_chunks
            ? `keep only chunk size 1 (no look-ahead) in model.encoder.att_chunk_sizes.`
            : `set the right context to 0: ${many ? `model.encoder.att_context_size[${i}]` : 'model.encoder.att_context_size'}=[${l},0].`
          : e.att_context_from_chunks
            ? `drop the chunk sizes above ${opts.maxLookahead + 1} from model.encoder.att_chunk_sizes.`
            : `lower the right context (chunked_limited: right <= ${opts.maxLookahead}; regular: right x n_layers <= ${opts.maxLookahead}).`,
      );
    }
  });
  if (e.self_attention_model === 'abs_pos') {
    add(
      'model.encoder.self_attention_model',
      'error',
      "absolute positional encodings tie each frame to its position in the utterance; NeMo's cache-aware streaming adds pe[:T + cache] to T new frames and fails as soon as the cache is not empty, and limited-context caches would shift the positions anyway.",
      'set model.encoder.self_attention_model=rel_pos.',
    );
  } else if (e.self_attention_model === 'rel_pos_local_attn') {
    add(
      'model.encoder.self_attention_model',
      'warning',
      "rel_pos_local_attn (Longformer-style local attention) is not built by streamnest's encoder and does not use the attention masks of att_context_style.",
      'set model.encoder.self_attention_model=rel_pos with a limited context, e.g. model.encoder.att_context_size=[320,0].',
    );
  }

  // --- masking -------------------------------------------------------------------------------------------------
  const mk = m.masking;
  const maskFrameMs = m.mask_position === 'pre_conv' ? featMs : encMs;
  const maskUnit = m.mask_position === 'pre_conv' ? `feature frames (${fmtMs(featMs)} each)` : `encoder frames (${fmtMs(encMs)} each)`;
  if (!mk.causal) {
    add(
      'model.masking.causal',
      'error',
      `block masking is NeMo's unrestricted algorithm: it has no current frame, so it can place masks after the newest frame a stream has seen and it ignores left_context_size${mk.left_context_size >= 0 ? ` (${mk.left_context_size} here)` : ''}.`,
      'set model.masking.causal=true (model.masking.left_context_size=-1 keeps masking over the whole utterance in pretraining).',
    );
  } else if (mk.left_context_size >= 0) {
    const n = mk.left_context_size;
    const maxDur = m.train_ds?.max_duration;
    add(
      'model.masking.left_context_size',
      'warning',
      `pretraining gives masking no current frame, so it is each utterance's last frame: masks fall only in the last ${n + 1} ${maskUnit} = ${fmtMs((n + 1) * maskFrameMs)} of every utterance${maxDur ? ` (utterances run up to ${maxDur} s)` : ''}; earlier frames are never masked or scored.`,
      'set model.masking.left_context_size=-1 for pretraining (the attention context already bounds what the encoder sees), unless this window is intended.',
    );
    const attLeft = pairs[0]![0];
    if (attLeft >= 0) {
      const want = m.mask_position === 'pre_conv' ? attLeft * S : attLeft;
      if (n !== want) {
        const same = n === attLeft && m.mask_position === 'pre_conv' && S > 1;
        add(
          'model.masking.left_context_size',
          'warning',
          `${same ? 'the units disagree: ' : ''}masking reaches back ${n} ${maskUnit} = ${fmtMs(n * maskFrameMs)}, attention reaches back ${attLeft} encoder frames (${fmtMs(encMs)} each) = ${fmtMs(attLeft * encMs)}${same ? `; the same number means ${S}x less time for masking (mask_position ${m.mask_position})` : ''}.`,
          `set model.masking.left_context_size=${want} to cover the same ${fmtMs(attLeft * encMs)}${m.mask_position === 'pre_conv' ? ` (${attLeft} x subsampling_factor ${S})` : ''}.`,
        );
      }
    }
  }
  return out;
}

/** One line per problem, errors first; the summary line names the counts. */
export function formatSafetyReport(file: string, problems: SafetyProblem[]): string {
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = problems.filter((p) => p.severity === 'warning');
  if (problems.length === 0) {
    return `${file}: streaming-safe (causal subsampling, causal convolutions, per-frame norm, bounded look-ahead, streamable features, causal masking)`;
  }
  return [
    `${file}: ${errors.length} error(s), ${warnings.length} warning(s)`,
    ...[...errors, ...warnings].map((p) => `  ${p.severity === 'error' ? 'ERROR  ' : 'warning'} ${p.key}: ${p.problem}\n          fix: ${p.fix}`),
  ].join('\n');
}
