// NeMo's ConformerEncoder arguments: what a stored model_config.yaml's encoder section may hold.

/**
 * The arguments of NeMo's ConformerEncoder.__init__ (NeMo 2.x, nemo/collections/asr/modules/conformer_encoder.py):
 * NeMo instantiates ConformerEncoder(**cfg.encoder) (with Hydra's `_target_` popped), so any other key fails to load.
 */
export const NEMO_CONFORMER_ENCODER_ARGS = [
  'feat_in',
  'n_layers',
  'd_model',
  'feat_out',
  'causal_downsampling',
  'subsampling',
  'subsampling_factor',
  'subsampling_conv_chunking_factor',
  'subsampling_conv_channels',
  'reduction',
  'reduction_position',
  'reduction_factor',
  'ff_expansion_factor',
  'self_attention_model',
  'n_heads',
  'att_context_size',
  'att_context_probs',
  'att_context_style',
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
  'global_tokens',
  'global_tokens_spacing',
  'global_attn_separate',
  'use_pytorch_sdpa',
  'use_pytorch_sdpa_backends',
  'sync_max_audio_length',
];

/** Keys of a stored encoder section that NeMo's ConformerEncoder would not accept. */
export function unknownToNemo(encoder: Record<string, unknown>): string[] {
  return Object.keys(encoder).filter((k) => k !== '_target_' && !NEMO_CONFORMER_ENCODER_ARGS.includes(k));
}
