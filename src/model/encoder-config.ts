// The `model.encoder` section (NeMo key layout, src/config) as ConformerEncoder's constructor arguments. The defaults
// of omitted keys are the schema's (readEncoderConfig: NeMo's class defaults), and only the schema's: a partial section
// is filled by running it through that reader.
import { ConfigError } from '../config/config-error.js';
import type { ConfigMap } from '../config/config-tree.js';
import { readEncoderConfig, type EncoderConfig } from '../config/schema/encoder.js';
import { SectionReader, newValidationContext } from '../config/section-reader.js';
import type { ConformerEncoderArgs, ConformerEncoderConfig } from './conformer-encoder.js';

/** True when `probs` are exactly the uniform default (1 / n each), which NeMo's null means. */
function isUniform(probs: readonly number[]): boolean {
  return probs.every((p) => p === 1 / probs.length);
}

/** The validated encoder section as the ConformerEncoder constructor's arguments (dropouts kept; eval mode disables them). */
export function conformerEncoderArgs(e: EncoderConfig): ConformerEncoderArgs {
  const multi = e.att_context_size.length > 1;
  return {
    feat_in: e.feat_in,
    feat_out: e.feat_out,
    n_layers: e.n_layers,
    d_model: e.d_model,
    subsampling: e.subsampling as ConformerEncoderArgs['subsampling'],
    subsampling_factor: e.subsampling_factor,
    subsampling_conv_channels: e.subsampling_conv_channels,
    causal_downsampling: e.causal_downsampling,
    ff_expansion_factor: e.ff_expansion_factor,
    self_attention_model: e.self_attention_model as ConformerEncoderArgs['self_attention_model'],
    n_heads: e.n_heads,
    att_context_size: multi ? e.att_context_size.map((p) => [...p] as [number, number]) : [...e.att_context_size[0]!],
    // null (uniform, as NeMo's null) unless given otherwise: NeMo checks that given probabilities sum to exactly 1
    att_context_probs: multi && !isUniform(e.att_context_probs) ? [...e.att_context_probs] : null,
    att_context_style: e.att_context_style,
    xscaling: e.xscaling,
    untie_biases: e.untie_biases,
    pos_emb_max_len: e.pos_emb_max_len,
    conv_kernel_size: e.conv_kernel_size,
    conv_norm_type: e.conv_norm_type as ConformerEncoderArgs['conv_norm_type'],
    conv_context_size:
      e.conv_context_size === null || e.conv_context_size === 'causal' ? e.conv_context_size : [e.conv_context_size[0], e.conv_context_size[1]],
    use_bias: e.use_bias,
    dropout: e.dropout,
    dropout_pre_encoder: e.dropout_pre_encoder,
    dropout_emb: e.dropout_emb,
    dropout_att: e.dropout_att,
    stochastic_depth_drop_prob: e.stochastic_depth_drop_prob,
    stochastic_depth_mode: e.stochastic_depth_mode,
    stochastic_depth_start_layer: e.stochastic_depth_start_layer,
  };
}

/** The section as the plain data tree the schema reads (keys left undefined are absent). */
function asConfigMap(c: ConformerEncoderConfig): ConfigMap {
  const m: ConfigMap = {};
  for (const [k, v] of Object.entries(c)) if (v !== undefined) m[k] = v;
  return m;
}

/**
 * A (partial) encoder section -> the constructor's arguments: the omitted keys take the schema's defaults and the
 * section gets the schema's checks (throws a ConfigError naming every problem). Arguments that are already complete
 * come back unchanged in meaning.
 */
export function resolveEncoderConfig(c: ConformerEncoderConfig): ConformerEncoderArgs {
  const ctx = newValidationContext('ConformerEncoder');
  const section = readEncoderConfig(SectionReader.open(ctx, ['encoder'], asConfigMap(c), true));
  if (ctx.issues.length > 0) throw new ConfigError(ctx.file, ctx.issues);
  return conformerEncoderArgs(section);
}
