// The WebSocket protocol of `streamnest serve`: sherpa-onnx's online protocol (its clients work unchanged), the
// results' JSON, and the close codes with which the server ends a connection.
// Provenance: sherpa-onnx csrc/online-websocket-server-impl.cc (binary float32 samples, text 'Done', JSON results,
// 'Done!') and OnlineRecognizerResult::AsJsonString (result keys).
import type { OnlineResult } from './online-recognizer.js';

/** The text message with which a client ends its audio. */
export const DONE = 'Done';
/** The text message the server sends after a stream's last result. */
export const DONE_REPLY = 'Done!';

/**
 * Close codes (RFC 6455 §7.4.1). Every way the server ends a connection uses one of these, with a reason text.
 *  1000 normal: the stream's last result and `Done!` were sent.
 *  1001 going away: the server is shutting down (open streams got their last results and `Done!` first).
 *  1003 unsupported data: a text message other than `Done`.
 *  1007 invalid payload: a binary message whose length is not a multiple of 4 bytes, or NaN/infinite samples.
 *  1008 policy violation: audio after `Done`; no message for the idle time (the results so far and `Done!` are sent
 *       first); an ?att_context_size=L,R the model does not serve.
 *  1009 message too big: a message over --max-message-bytes (closed by the WebSocket layer).
 *  1011 internal error: decoding this stream failed (other streams are unaffected).
 *  1013 try again later: --max-streams streams are open.
 */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
} as const;

export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    msg: string,
  ) {
    super(msg);
    this.name = 'ProtocolError';
  }
}

/** A binary message as float32 little-endian samples; throws ProtocolError (1007) for a bad length or non-finite samples. */
export function samplesFromMessage(data: Buffer): Float32Array {
  if (data.byteLength % 4 !== 0)
    throw new ProtocolError(CLOSE.invalidPayload, `binary message of ${data.byteLength} bytes: float32 samples need a multiple of 4`);
  const samples = new Float32Array(data.byteLength / 4);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < samples.length; i++) {
    const x = view.getFloat32(4 * i, true);
    if (!Number.isFinite(x)) throw new ProtocolError(CLOSE.invalidPayload, `sample ${i} of the message is ${x}`);
    samples[i] = x;
  }
  return samples;
}

/** What a result message carries beyond the recognizer's result. */
export interface ResultTiming {
  /** Milliseconds of the decode step (encoder + CTC head, for the whole batch) that produced the result. */
  computeMs: number;
  /** Audio per encoder step in milliseconds: the real-time budget of one step. */
  chunkMs: number;
}

/** sherpa-onnx's result keys, plus word times and the step's timing. */
export function resultJson(r: OnlineResult, timing: ResultTiming): string {
  return JSON.stringify({
    text: r.text,
    tokens: r.tokens,
    timestamps: r.timestamps,
    segment: r.segment,
    start_time: r.startTime,
    is_final: r.isFinal,
    is_eof: r.isEof,
    word_timestamps: r.words,
    decoded_seconds: r.decodedSeconds,
    contexts_used: r.contextsUsed,
    compute_ms: Math.round(timing.computeMs * 1000) / 1000,
    chunk_ms: timing.chunkMs,
  });
}
