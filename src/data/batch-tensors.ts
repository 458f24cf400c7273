// Converting a loaded batch to tensors on the main thread (audio [B, N] float32, lengths [B] int64).
import * as t from '../torch/index.js';
import type { LoadedBatch } from './batch-builder.js';

export interface BatchTensors {
  /** Clean audio (quantizer targets). */
  audio: t.Tensor;
  audioLen: t.Tensor;
  /** audio + noise (encoder input). */
  noisyAudio: t.Tensor;
  noisyAudioLen: t.Tensor;
}

function lengths(x: Int32Array): t.Tensor {
  return t.tensor(
    BigInt64Array.from(x, (v) => BigInt(v)),
    [x.length],
  );
}

/** New tensors (the caller disposes them, or creates them inside t.tidy). */
export function batchToTensors(b: LoadedBatch): BatchTensors {
  return {
    audio: t.tensor(b.audio, [b.batchSize, b.maxLen]),
    audioLen: lengths(b.audioLens),
    noisyAudio: t.tensor(b.noisyAudio, [b.batchSize, b.maxLen]),
    noisyAudioLen: lengths(b.noisyLens),
  };
}
