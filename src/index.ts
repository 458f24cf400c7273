// streamnest's public API (`import ... from 'streamnest'`): loading models, features, the streaming encoder and CTC
// transcription, configs, pretraining and fine-tuning, and the streaming recognizer shaped like sherpa-onnx's online
// recognizer (streams, endpointing, results).
// Heavy parts load libtorch through the native addon at import.

// tensors and the native runtime
export * as torch from './torch/index.js';

// audio: decoding, resampling, NeMo's log-mel preprocessor and its chunk-exact streaming twin
export { loadAudio, decodeAudio, resample, Resampler, AudioToMelSpectrogramPreprocessor, FeatureStream, readFixedNormalization } from './audio/index.js';
export { loadAudioAsync, loadAudioBytes } from './audio/index.js';
export type { MonoAudio, FeatureOutput, FeatureStreamState, FixedNormalization, ResamplerState } from './audio/index.js';

// configs (NeMo's YAML layout, Hydra-style overrides, one validation route)
export { loadConfig, ConfigError, listPresets } from './config/index.js';
export type { NestConfig, ConfigMap } from './config/index.js';
export { checkStreamingSafety, formatSafetyReport } from './config/streaming-safety.js';

// models from .nemo archives (NEST, CTC), validated
export { loadNemoModel, loadNemoCtcModel, NemoModelError } from './checkpoint/nemo-model.js';
export type { LoadedNemoModel, LoadedNemoCtcModel } from './checkpoint/nemo-model.js';

// cache-aware streaming: geometry, the encoder step with state handed in and returned, CTC transcription
export { configureStreaming, StreamingEncoder, StreamingConfigError, encoderStreamStep } from './streaming/index.js';
export type { StreamingGeometry } from './streaming/index.js';
export { NotStreamableError, assertStreamable } from './asr/streaming-ctc.js';
export { utteranceWer, utteranceCer, corpusWer } from './asr/wer.js';

// training
export { pretrainNest, type PretrainOptions, type PretrainResult } from './train/nest-pretraining.js';
export { finetuneCtc } from './train/ctc-finetuning.js';
export { estimateFeatureStatistics, type FeatureStatistics } from './data/feature-statistics.js';

// serving: the streaming recognizer (createStream, acceptWaveform at any rate, decodeStreams, getResult, endpoints)
export { OnlineRecognizer, OnlineStream, RecognizerInputError, DEFAULT_ENDPOINT_RULES, endpointRules } from './serving/index.js';
export { streamingTranscriber, transcribeStreaming, type StreamingTranscript } from './serving/transcribe-streaming.js';
export type { OnlineRecognizerOptions, OnlineResult, Waveform, EndpointRule, EndpointRules } from './serving/index.js';
