// Serving: the streaming recognizer (sherpa-onnx's online-recognizer shape) and its endpointing rules.
export {
  OnlineRecognizer,
  OnlineStream,
  RecognizerInputError,
  type OnlineRecognizerOptions,
  type OnlineResult,
  type StreamingAsrModel,
  type Waveform,
} from './online-recognizer.js';
export { DEFAULT_ENDPOINT_RULES, endpointRules, isEndpoint, type EndpointRule, type EndpointRules, type SegmentProgress } from './endpoint.js';
export { startServer, type ServerOptions, type RunningServer } from './server.js';
export { CLOSE, DONE, DONE_REPLY, resultJson, samplesFromMessage } from './protocol.js';
export { streamingTranscriber, transcribeStreaming, type StreamingTranscript, type StreamingProgress } from './transcribe-streaming.js';
