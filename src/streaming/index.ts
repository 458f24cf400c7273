// Cache-aware streaming inference: geometry, chunk planning, the batched streaming encoder, the stream batcher.
export { configureStreaming, exactnessIssues, StreamingConfigError, type StreamingGeometry, type StreamingMode, type StreamingSetup } from './geometry.js';
export { encoderStreamStep, type EncoderStepOptions } from './encoder-step.js';
export { planChunk, advanceCursor, START_CURSOR, type ChunkCursor, type ChunkPlan } from './chunk-plan.js';
export {
  StreamingEncoder,
  stackCaches,
  powerOfTwoBatches,
  unstackCache,
  streamCaches,
  SharedBatchCache,
  sharedBatchOf,
  type BatchRow,
  type StreamSlot,
  type StreamState,
  type StreamResult,
  type StepEvent,
  type StreamingEncoderOptions,
} from './streaming-encoder.js';
export { StreamBatcher } from './stream-batcher.js';
export { runNemoBuffer, nemoBufferPlans, nemoChunkLength, type NemoBufferStep } from './nemo-buffer.js';
export {
  baselineMs,
  calibrate,
  calibrateLookahead,
  chooseLookahead,
  contextsUsed,
  expectedComputeMs,
  expectedLatencyMs,
  initLookaheadState,
  lookaheadPolicy,
  observeStep,
  quietNoise,
  switchableGeometries,
  type LookaheadChoice,
  type LookaheadState,
} from './adaptive-lookahead.js';
