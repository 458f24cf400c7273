// The encoder model: public surface for the layers above (streaming, ssl, train, checkpoint, cli).
export {
  ConformerEncoder,
  stochasticDepthDropProbs,
  type ConformerEncoderConfig,
  type ConformerEncoderArgs,
  type EncoderBuildOptions,
  type EncoderForwardOptions,
  type StreamingConfig,
  type StreamingOverrides,
  type StreamStepOptions,
} from './conformer-encoder.js';
export {
  AttentionContextPolicy,
  calcContextSizes,
  contextAllowed,
  createMasks,
  masksFromAllowed,
  type AttContextSize,
  type AttContextStyle,
  type ContextSizes,
  type Masks,
} from './attention-context.js';
export { scheduleAllowed, scheduleSpans, type ChunkSchedule } from './chunk-schedule.js';
export { ConvSubsampling, MaskedConvSequential, subsampledLength, stageLength, type ConvSubsamplingOptions, type SubsamplingKind } from './subsampling.js';
export { RelPositionalEncoding, AbsPositionalEncoding, sinusoidTable } from './positional-encoding.js';
export {
  MultiHeadAttention,
  RelPositionMultiHeadAttention,
  MASK_FILL,
  attentionCacheTensors,
  keysAsRows,
  valuesAsRows,
  type AttentionCache,
  type AttentionOptions,
} from './attention.js';
export {
  cacheLastChannel,
  catEncoderCaches,
  disposeEncoderCache,
  encoderCacheTensors,
  keepEncoderCache,
  mapEncoderCache,
  type EncoderCache,
} from './encoder-cache.js';
export { RelativePositionProjections } from './position-projections.js';
export { ConformerLayer, type ConformerLayerOptions, type LayerCache, type SelfAttentionModel } from './conformer-layer.js';
export { ConformerConvolution, type ConvCache, type ConvNormType, type ConvolutionOptions } from './conformer-convolution.js';
export { ConformerFeedForward, type FeedForwardOptions } from './conformer-feed-forward.js';
export { outputReach, subsamplingReach, attentionReach } from './receptive-field.js';
export { conformerEncoderArgs, resolveEncoderConfig } from './encoder-config.js';
