// Downstream ASR: character CTC fine-tuning of the (streaming) FastConformer, greedy decoding, WER.
export * from './text.js';
export * from './wer.js';
export * from './ctc-greedy.js';
export * from './conv-asr-decoder.js';
export * from './spec-augment.js';
export * from './ctc-model.js';
export * from './streaming-ctc.js';
