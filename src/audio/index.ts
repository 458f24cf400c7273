// streamnest's audio front end: decoding, resampling, NeMo's log-mel preprocessor and its chunk-exact streaming form.
export { AudioFileError, decodeWav, decodeWavBuffer, readWav, readWavInfo, mixToMono, encodeWavPcm16, writeWav } from './wav.js';
export type { AudioWindow, DecodedAudio, MonoAudio, WavInfo } from './wav.js';
export { decodeFlac, decodeFlacBuffer, readFlacInfo, isFlac } from './flac.js';
export type { FlacInfo } from './flac.js';
export { loadAudio, loadAudioAsync, loadAudioBytes, decodeAudio, decodeAudioAsync, decodeAudioBytes, sniffAudioFormat } from './load-audio.js';
export { sniffAudioBytes, FORMAT_NAMES } from './sniff.js';
export { openAudioStream, DEFAULT_MAX_WHOLE_FILE_BYTES } from './audio-file-stream.js';
export type { AudioStream, AudioStreamOptions } from './audio-file-stream.js';
export type { AudioFormat, LoadAudioOptions } from './load-audio.js';
export { Resampler, resample } from './resample.js';
export type { ResampleOptions, ResamplerState } from './resample.js';
export { melFilterbank, hzToMel, melToHz } from './mel.js';
export {
  AudioToMelSpectrogramPreprocessor,
  FilterbankFeatures,
  PREPROCESSOR_DEFAULTS,
  NEST_PREPROCESSOR,
  PreprocessorConfigError,
  resolvePreprocessorConfig,
  frontEndGeometry,
  featureLength,
  normalizeBatch,
  readFixedNormalization,
} from './preprocessor.js';
export type { PreprocessorConfig, FixedNormalization, NormalizeType, FeatureOutput, FrontEndGeometry, ForwardOptions } from './preprocessor.js';
export { FeatureStream, FeatureStreamError } from './feature-stream.js';
export type { FeatureStreamState, FeatureStreamResult } from './feature-stream.js';
