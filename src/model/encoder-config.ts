// The validated `model.encoder` section (NeMo key layout, src/config) as ConformerEncoder's constructor arguments.
import type { EncoderConfig } from '../config/schema.js';
import type { ConformerEncoderConfig } from './conformer-encoder.js';

/** The validated encoder section as the ConformerEncoder constructor's arguments (dropouts kept; eval mode disables them). */
export function conformerEncoderArgs(e: EncoderConfig): ConformerEncoderConfig {
  return {
    feat_in: e.feat_in,
    feat_out: e.feat_out,
    n_layers: e.n_layers,
    d_model: e.d_model,
    subsampling: e.subsampling as ConformerEncoderConfig['subsampling'],
    subsampling_factor: e.subsampling_factor,
    subsampling_conv_channels: e.subsampling_conv_channels,
    causal_downsampling: e.causal_downsampling,
    ff_expansion_factor: e.ff_expansion_factor,
    self_attention_model: e.self_attention_model as ConformerEncoderConfig['self_attention_model'],
    n_heads: e.n_heads,
    att_context_size: e.att_context_size.length === 1 ? [...e.att_context_size[0]!] : e.att_context_size.map((p) => [...p] as [number, number]),
    att_context_probs: e.att_context_size.length > 1 ? [...e.att_context_probs] : null,
    att_context_style: e.att_context_style,
    xscaling: e.xscaling,
    untie_biases: e.untie_biases,
    pos_emb_max_len: e.pos_emb_max_len,
    conv_kernel_size: e.conv_kernel_size,
    conv_norm_type: e.conv_norm_type as ConformerEncoderConfig['conv_norm_type'],
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
