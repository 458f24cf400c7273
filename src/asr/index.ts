// Downstream ASR: CTC and RNN-T fine-tuning (characters or SentencePiece sub-words) of the (streaming) FastConformer, greedy
// decoding, WER.
export * from './vocabulary.js';
export * from './text.js';
export * from './sentencepiece-model.js';
export * from './sentencepiece-tokenizer.js';
export * from './tokenizer-config.js';
export * from './wer.js';
export * from './ctc-greedy.js';
export * from './conv-asr-decoder.js';
export * from './spec-augment.js';
export * from './ctc-model.js';
export * from './streaming-ctc.js';
export * from './rnnt-loss.js';
export * from './rnnt-decoder.js';
export * from './rnnt-joint.js';
export * from './rnnt-greedy.js';
export * from './rnnt-model.js';
export * from './rnnt-config.js';
export * from './encoder-init.js';
export * from './streaming-rnnt.js';
export * from './hybrid-rnnt-ctc-model.js';
export * from './rnnt-beam.js';
