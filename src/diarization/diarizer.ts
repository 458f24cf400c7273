// A streaming speaker diarizer: preprocessor -> cache-aware (causal) FastConformer encoder -> frame-wise Sortformer head
// -> sigmoid activities of up to num_spks speakers per 80 ms frame, speakers in order of first arrival (trained with
// sortLoss). Offline: forward(audio, lengths). Streaming: StreamingDiarizer runs the head on each chunk a
// StreamingEncoder emits; the head has no state, so the streamed activities equal the offline ones wherever the
// encoder's streaming does (exact mode).
// Provenance: nemo.collections.asr.models.sortformer_diar_models.SortformerEncLabelModel (process_signal ->
// frontend_encoder -> forward_infer), without its Transformer encoder (see sortformer-head.ts); state-dict names as
// NeMo's: preprocessor.*, encoder.*, sortformer_modules.*.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { AudioToMelSpectrogramPreprocessor } from '../audio/index.js';
import type { ConformerEncoder, EncoderForwardOptions } from '../model/index.js';
import type { StreamingEncoder, StreamState } from '../streaming/index.js';
import { SortformerHead, type SortformerHeadConfig } from './sortformer-head.js';

export interface DiarizerParts {
  preprocessor: AudioToMelSpectrogramPreprocessor;
  encoder: ConformerEncoder;
  /** The head's section; fc_d_model must equal the encoder's output width. */
  head: SortformerHeadConfig;
  /** Seeds the head's initialisation and its dropout masks. */
  seed: number;
}

export interface DiarizerForwardOptions extends EncoderForwardOptions {
  /** Run the encoder without gradients, in eval mode (fine-tuning the head first). */
  freezeEncoder?: boolean;
}

export interface DiarizerOutput {
  /** [B, T', num_spks] speaker activities in (0, 1). */
  probs: Tensor;
  /** [B] int64 valid encoder frames. */
  lengths: Tensor;
}

export class Diarizer extends t.Module {
  readonly preprocessor: AudioToMelSpectrogramPreprocessor;
  readonly encoder: ConformerEncoder;
  readonly sortformer_modules: SortformerHead;
  /** The head's dropout masks and the multi-look-ahead context draws in training (saved with training checkpoints). */
  readonly rng: { dropout: t.Generator; context: t.Generator };

  /** Takes ownership of the preprocessor and encoder (disposed with the diarizer). */
  constructor(p: DiarizerParts) {
    super();
    if (p.head.fc_d_model !== p.encoder.featOut)
      throw new RangeError(`diarizer: sortformer_modules.fc_d_model is ${p.head.fc_d_model} but the encoder outputs ${p.encoder.featOut} channels`);
    this.preprocessor = this.registerModule('preprocessor', p.preprocessor);
    this.encoder = this.registerModule('encoder', p.encoder);
    this.rng = { dropout: new t.Generator(p.seed + 1), context: new t.Generator(p.seed + 2) };
    const init = { generator: new t.Generator(p.seed), dropoutGenerator: this.rng.dropout };
    this.sortformer_modules = this.registerModule('sortformer_modules', new SortformerHead(p.head, init));
  }

  get numSpeakers(): number {
    return this.sortformer_modules.cfg.num_spks;
  }

  /** Seconds per output frame (window_stride x subsampling_factor: 0.08 for 10 ms and 8x). */
  get frameSeconds(): number {
    return (this.preprocessor.geometry.hopLength / this.preprocessor.cfg.sample_rate) * this.encoder.config.subsampling_factor;
  }

  /** Encoder output [B, D, T'] -> activities [B, T', S]. */
  activities(encoded: Tensor): Tensor {
    return this.sortformer_modules.forward(encoded.transpose(1, 2));
  }

  /** features [B, F, T], lengths [B] -> activities. freezeEncoder: no gradients and eval mode in the encoder (NeMo's encoder.freeze()). */
  forwardFeatures(features: Tensor, lengths: Tensor, o: DiarizerForwardOptions = {}): DiarizerOutput {
    return t.tidy(() => {
      const { freezeEncoder, ...encOpts } = o;
      const opts = this.training && !encOpts.attContextSize ? { rng: this.rng.context, ...encOpts } : encOpts;
      let enc: { encoded: Tensor; lengths: Tensor };
      if (freezeEncoder) {
        const was = this.encoder.training;
        this.encoder.eval();
        try {
          enc = t.noGrad(() => this.encoder.forward(features, lengths, opts));
        } finally {
          this.encoder.train(was);
        }
      } else {
        enc = this.encoder.forward(features, lengths, opts); // [B, D, T']
      }
      return { probs: this.activities(enc.encoded), lengths: enc.lengths.to({ dtype: 'int64' }) };
    });
  }

  /** audio [B, N] at the preprocessor's rate, lengths [B] samples -> activities. */
  forward(audio: Tensor, lengths: Tensor | readonly number[], o: DiarizerForwardOptions = {}): DiarizerOutput {
    return t.tidy(() => {
      const pre = this.preprocessor.forward(audio, lengths); // [B, F, T]
      return this.forwardFeatures(pre.features, pre.lengths, o);
    });
  }

  /** Offline activities of one mono clip: [T', S] valid frames only (eval mode, no gradients). */
  diarizeClip(samples: Float32Array): Tensor {
    const was = this.training;
    this.eval();
    try {
      return t.tidy(() =>
        t.noGrad(() => {
          const out = this.forward(t.tensor(samples, [1, samples.length]), [samples.length]);
          const n = out.lengths.toArray()[0]!;
          return out.probs.select(0, 0).narrow(0, 0, n).contiguous(); // [T', S]
        }),
      );
    } finally {
      this.train(was);
    }
  }
}

export interface DiarizerStreamResult {
  /** Per stream, the activities of the frames this call produced [k, S] (k may be 0); the caller's to dispose. */
  activities: Tensor[];
  state: StreamState;
}

/**
 * The diarizer run chunk by chunk on a StreamingEncoder over the diarizer's encoder. Ownership as StreamingEncoder's:
 * every call CONSUMES the state it is given and returns a new one; the activity tensors belong to the caller.
 */
export class StreamingDiarizer {
  constructor(
    readonly model: Diarizer,
    readonly streaming: StreamingEncoder,
  ) {
    if (streaming.encoder !== model.encoder) throw new Error("StreamingDiarizer: the StreamingEncoder must run the diarizer's own encoder");
    if (model.sortformer_modules.training) throw new Error('StreamingDiarizer: put the diarizer in eval mode first');
  }

  initState(streams: number): StreamState {
    return this.streaming.initStreamState(streams);
  }

  /** Appends audio (one array per stream) and returns the activities of every frame that became ready. */
  pushAudio(samples: readonly Float32Array[], state: StreamState): DiarizerStreamResult {
    const r = this.streaming.pushAudio(samples, state);
    return { activities: this.headOf(r.encoded), state: r.state };
  }

  /** Ends every stream and returns their last frames' activities; the state is freed. */
  finish(state: StreamState): { activities: Tensor[] } {
    return { activities: this.headOf(this.streaming.finish(state).encoded) };
  }

  disposeState(state: StreamState): void {
    this.streaming.disposeState(state);
  }

  /** Encoder chunks [D, k] (consumed) -> activities [k, S]. */
  private headOf(encoded: Tensor[]): Tensor[] {
    try {
      return t.tidy(() =>
        t.noGrad(() => encoded.map((e) => (e.size(1) === 0 ? t.zeros([0, this.model.numSpeakers]) : this.model.sortformer_modules.forward(e.transpose(0, 1))))),
      );
    } finally {
      for (const e of encoded) e.dispose();
    }
  }
}
