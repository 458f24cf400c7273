// Streaming transcription of one whole clip through the OnlineRecognizer, the path the server and the page use: the
// audio is pushed in pieces, every ready step is decoded at once, and the partial text is reported as it grows. For
// `transcribe --streaming` and `eval --streaming`, so that the command line, the API and the server share one driver.
import type { AttContextSize } from '../model/index.js';
import type { Transcript } from '../asr/ctc-model.js';
import { tokensToText, wordTimings } from '../asr/ctc-greedy.js';
import { OnlineRecognizer, type StreamingAsrModel } from './online-recognizer.js';

export interface StreamingTranscriberOptions {
  /**
   * Encoder chunk of fully causal models, in seconds, rounded to whole encoder frames (at least one); chunked_limited
   * and look-ahead models use their own chunk. Default 0.32.
   */
  chunkSeconds?: number;
  attContextSize?: AttContextSize;
  maxContext?: number;
}

/** A recognizer for whole-clip transcription: no endpoints (one segment), the chunk rounded to whole frames. */
export function streamingTranscriber(model: StreamingAsrModel, o: StreamingTranscriberOptions = {}): OnlineRecognizer {
  const frames = Math.max(1, Math.round((o.chunkSeconds ?? 0.32) / model.frameSeconds));
  return new OnlineRecognizer(model, {
    chunkSeconds: frames * model.frameSeconds,
    attContextSize: o.attContextSize,
    maxContext: o.maxContext,
    enableEndpoint: false,
  });
}

export interface StreamingProgress {
  /** Text so far. */
  text: string;
  /** Seconds of audio decoded so far. */
  decodedSeconds: number;
}

export interface StreamingTranscript extends Transcript {
  /** Milliseconds of every decode call (one encoder step each). */
  stepTimes: number[];
}

/**
 * Streams `audio` (float32 at the model's rate) through a fresh stream of `recognizer` in pieces of `pushSeconds`
 * (default: the recognizer's chunk); onUpdate sees the text whenever it grows. Token frames count from the clip's start.
 */
export function transcribeStreaming(
  recognizer: OnlineRecognizer,
  audio: Float32Array,
  o: { pushSeconds?: number; onUpdate?: (p: StreamingProgress) => void } = {},
): StreamingTranscript {
  const model = recognizer.model;
  const piece = Math.max(1, Math.round((o.pushSeconds ?? recognizer.geometry.chunkSeconds) * recognizer.sampleRate));
  const s = recognizer.createStream();
  const stepTimes: number[] = [];
  let shown = '';
  const drain = (): void => {
    while (recognizer.isReady(s)) {
      const t0 = performance.now();
      recognizer.decode(s);
      stepTimes.push(performance.now() - t0);
    }
    const text = tokensToText(s.tokens, model.vocab);
    if (text !== shown) {
      shown = text;
      o.onUpdate?.({ text, decodedSeconds: s.frames * recognizer.frameSeconds });
    }
  };
  try {
    for (let i = 0; i < audio.length; i += piece) {
      s.acceptWaveform({ sampleRate: recognizer.sampleRate, samples: audio.subarray(i, Math.min(audio.length, i + piece)) });
      drain();
    }
    s.inputFinished();
    drain();
    const tokens = [...s.tokens];
    return { text: tokensToText(tokens, model.vocab), tokens, words: wordTimings(tokens, model.vocab, model.frameSeconds), stepTimes };
  } finally {
    s.dispose();
  }
}
