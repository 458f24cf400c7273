// Shared pieces of the transducer tests: a tiny RnntModel's arguments.
import { CharVocabulary, type RnntModelArgs } from '../../src/asr/index.js';

/** A one-layer d 16 causal transducer (dropout 0.1 in the prediction and joint networks unless overridden). */
export function tinyRnntArgs(over: Partial<RnntModelArgs> = {}): RnntModelArgs {
  return {
    preprocessor: { sample_rate: 16000, normalize: 'per_feature', features: 80, dither: 0, pad_to: 0 },
    encoder: {
      feat_in: 80,
      n_layers: 1,
      d_model: 16,
      n_heads: 2,
      subsampling: 'dw_striding',
      subsampling_factor: 4,
      subsampling_conv_channels: 8,
      causal_downsampling: true,
      conv_kernel_size: 5,
      conv_norm_type: 'layer_norm',
      conv_context_size: 'causal',
      att_context_size: [-1, 0],
    },
    labels: CharVocabulary.english().labels,
    decoder: { prednet: { pred_hidden: 12, pred_rnn_layers: 1, dropout: 0.1 } },
    joint: { jointnet: { joint_hidden: 10, activation: 'relu', dropout: 0.1 } },
    loss: { reduction: 'mean_batch', fastemitLambda: 0, clamp: -1 },
    maxSymbols: 5,
    specAugment: null,
    seed: 3,
    ...over,
  };
}
