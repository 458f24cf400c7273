// Speaker embeddings from a (pretrained) streaming encoder: frame embeddings are the encoder's output frames, chunk by
// chunk when streamed (the seeds' `embeddings = streaming_encoder(audio_chunks)`); an utterance embedding is the
// statistics pooling of those frames ([mean, std], 2D values), optionally through a trained linear projection.
// Provenance: nemo.collections.asr.models.label_models.EncDecSpeakerLabelModel.forward (preprocessor -> encoder ->
// decoder: StatsPoolLayer then the embedding layer) with a FastConformer encoder; the projection is a trained
// SpeakerDecoder's embedding layer (speaker-decoder.ts: NeMo's emb_layers, Linear + BatchNorm1d) or any linear map.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { AudioToMelSpectrogramPreprocessor } from '../audio/index.js';
import type { ConformerEncoder, AttContextSize } from '../model/index.js';
import type { StreamingEncoder } from '../streaming/index.js';
import type { EmbeddingProjection } from './speaker-decoder.js';
import { finishPooling, initPooling, statisticsPooling, updatePooling } from './statistics-pooling.js';

export interface UtteranceEmbedding {
  /** [D, T'] the encoder's valid output frames. */
  frames: Tensor;
  /** [2D] pooled statistics, or [E] when a projection is set. */
  embedding: Tensor;
}

/** An encoder (and its preprocessor) that embeds audio; the modules stay the caller's (not disposed here). */
export class SpeakerEmbedder {
  constructor(
    readonly preprocessor: AudioToMelSpectrogramPreprocessor,
    readonly encoder: ConformerEncoder,
    /** A trained projection of the pooled statistics (2D -> E), or null for the statistics themselves. */
    readonly projection: EmbeddingProjection | null = null,
  ) {
    if (projection && projection.inFeatures !== 2 * encoder.featOut)
      throw new RangeError(`speaker embedding: the projection takes ${projection.inFeatures} values but pooling gives ${2 * encoder.featOut}`);
  }

  /** Width of the utterance embedding. */
  get dim(): number {
    return this.projection ? this.projection.outFeatures : 2 * this.encoder.featOut;
  }

  /** [2D] pooled statistics -> the utterance embedding. */
  project(pooled: Tensor): Tensor {
    return this.projection ? t.tidy(() => this.projection!.forward(pooled)) : pooled;
  }

  /** Offline: one mono clip at the preprocessor's rate (eval mode, no gradients). */
  embedUtterance(samples: Float32Array, o: { attContextSize?: AttContextSize } = {}): UtteranceEmbedding {
    if (this.encoder.training) throw new Error('speaker embedding: put the encoder in eval mode first');
    return t.tidy(() =>
      t.noGrad(() => {
        const pre = this.preprocessor.forward(t.tensor(samples, [1, samples.length]), [samples.length]);
        const enc = this.encoder.forward(pre.features, pre.lengths, o.attContextSize ? { attContextSize: o.attContextSize } : {});
        const n = enc.lengths.toArray()[0]!;
        const frames = enc.encoded.select(0, 0).narrow(1, 0, n).contiguous(); // [D, T']
        return { frames, embedding: this.project(statisticsPooling(enc.encoded, [n]).select(0, 0)) };
      }),
    );
  }

  /**
   * Streaming: the chunks go through `streaming` (a StreamingEncoder over this encoder, with its preprocessor) as they
   * come; `onFrames` sees each step's new frames [D, k] (borrowed: valid during the call). Returns every frame and the
   * utterance embedding pooled on the fly; both equal embedUtterance's in exact streaming mode.
   */
  embedStreaming(streaming: StreamingEncoder, chunks: Iterable<Float32Array>, onFrames?: (frames: Tensor) => void): UtteranceEmbedding {
    if (streaming.encoder !== this.encoder) throw new Error("speaker embedding: the StreamingEncoder must run the embedder's encoder");
    let state = streaming.initStreamState(1);
    let pool = initPooling(this.encoder.featOut);
    const parts: Tensor[] = [];
    const take = (frames: Tensor): void => {
      parts.push(frames);
      pool = updatePooling(pool, frames);
      onFrames?.(frames);
    };
    try {
      for (const chunk of chunks) {
        const r = streaming.pushAudio([chunk], state);
        state = r.state;
        take(r.encoded[0]!);
      }
      const last = streaming.finish(state);
      state = { streams: [] };
      take(last.encoded[0]!);
      const done = pool;
      pool = initPooling(0);
      const pooled = finishPooling(done); // frees `done`
      const embedding = this.project(pooled);
      if (embedding !== pooled) pooled.dispose();
      return { frames: t.cat(parts, 1), embedding }; // [D, T'], [2D] or [E]
    } finally {
      streaming.disposeState(state);
      pool.mean.dispose();
      pool.m2.dispose();
      for (const p of parts) p.dispose();
    }
  }
}
