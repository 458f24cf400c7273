// NEST / BEST-RQ self-supervised heads: block masking (+ causal window), random-projection targets, decoder, masked-token loss.
export { RandomBlockMasking, type RandomBlockMaskingConfig, type MaskingCall, type MaskingResult } from './random-block-masking.js';
export { RandomProjectionVectorQuantizer, type RandomProjectionQuantizerConfig, type QuantizerOutput } from './random-projection-quantizer.js';
export { MultiSoftmaxDecoder, type MultiSoftmaxDecoderConfig, type DecoderInitMode } from './multi-softmax-decoder.js';
export { MultiMLMLoss, type MultiMLMLossConfig } from './mlm-loss.js';
