// The streaming-safety validator: every part of a NEST/FastConformer configuration that sees the future or
// breaks chunk-by-chunk equality with the offline pass, with the fix for each.
import type { NestConfig } from './schema.js';

export interface SafetyProblem {
  /** Key path in NeMo's layout. */
  key: string;
  severity: 'error' | 'warning';
  problem: string;
  fix: string;
}

export function checkStreamingSafety(c: NestConfig): SafetyProblem[] {
  const out: SafetyProblem[] = [];
  const e = c.model.encoder;
  const norm = c.model.preprocessor.normalize;
  if (norm === 'per_feature' || norm === 'all_features') {
    out.push({
      key: 'model.preprocessor.normalize',
      severity: 'error',
      problem: `'${norm}' normalises with statistics of the whole utterance, which a stream does not have yet.`,
      fix: "set model.preprocessor.normalize=NA (or fixed mean/std statistics computed once on training data).",
    });
  }
  if (!e.causal_downsampling) {
    out.push({
      key: 'model.encoder.causal_downsampling',
      severity: 'error',
      problem: 'the stride-2 subsampling convolutions are centred, so each encoder frame sees feature frames after it.',
      fix: 'set model.encoder.causal_downsampling=true.',
    });
  }
  const [, right] = e.conv_context_size === null ? [0, (e.conv_kernel_size - 1) >> 1] : e.conv_context_size === 'causal' ? [e.conv_kernel_size - 1, 0] : e.conv_context_size;
  if (right > 0) {
    out.push({
      key: 'model.encoder.conv_context_size',
      severity: 'error',
      problem: `the depthwise convolution looks ${right} frames ahead in every layer (${e.conv_context_size === null ? 'null = symmetric' : JSON.stringify(e.conv_context_size)}).`,
      fix: 'set model.encoder.conv_context_size=causal.',
    });
  }
  if (e.conv_norm_type === 'batch_norm' || e.conv_norm_type === 'fused_batch_norm' || e.conv_norm_type === 'instance_norm') {
    out.push({
      key: 'model.encoder.conv_norm_type',
      severity: 'error',
      problem: `${e.conv_norm_type} in the convolution module normalises over the batch and time axes in training (statistics of future frames and other utterances), so training and chunked inference disagree.`,
      fix: 'set model.encoder.conv_norm_type=layer_norm.',
    });
  }
  e.att_context_size.forEach(([l, r], i) => {
    const key = e.att_context_size.length > 1 ? `model.encoder.att_context_size[${i}]` : 'model.encoder.att_context_size';
    if (r < 0) {
      out.push({
        key,
        severity: 'error',
        problem: `right context ${r} means unlimited look-ahead: attention sees the whole future [${l},${r}].`,
        fix: 'set model.encoder.att_context_size=[-1,0] (fully causal), [-1,R] (bounded look-ahead) or [L,0] (limited context).',
      });
    } else if (r > 0 && e.att_context_style === 'regular') {
      out.push({
        key,
        severity: 'warning',
        problem: `with att_context_style regular, the look-ahead of ${r} frames adds up over ${e.n_layers} layers (${r * e.n_layers} frames), and NeMo-style chunked streaming of it is not exactly equal to the offline pass.`,
        fix: 'set model.encoder.att_context_style=chunked_limited for exact chunk-by-chunk streaming with a fixed latency.',
      });
    }
  });
  if (e.self_attention_model === 'abs_pos') {
    out.push({
      key: 'model.encoder.self_attention_model',
      severity: 'error',
      problem: 'absolute positional encodings depend on the position in the utterance, which cache-aware streaming does not track.',
      fix: 'set model.encoder.self_attention_model=rel_pos.',
    });
  }
  if (!c.model.masking.causal) {
    out.push({
      key: 'model.masking.causal',
      severity: 'error',
      problem: 'block masking may mask frames after the current frame, so pretraining teaches the model to rely on context a stream never has.',
      fix: 'set model.masking.causal=true (optionally model.masking.left_context_size=N to mask within a left window).',
    });
  }
  return out;
}

export function formatSafetyReport(file: string, problems: SafetyProblem[]): string {
  if (problems.length === 0) return `${file}: streaming-safe (causal subsampling, causal convolutions, layer norm, bounded attention, streamable features, causal masking)`;
  return [`${file}: ${problems.filter((p) => p.severity === 'error').length} error(s), ${problems.filter((p) => p.severity === 'warning').length} warning(s)`, ...problems.map((p) => `  ${p.severity === 'error' ? 'ERROR  ' : 'warning'} ${p.key}: ${p.problem}\n          fix: ${p.fix}`)].join('\n');
}
