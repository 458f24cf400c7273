// A speaker-embedding model: preprocessor -> (cache-aware) FastConformer encoder -> statistics pooling -> SpeakerDecoder
// (embedding layer + angular classifier). The encoder is trained elsewhere (NEST pretraining) and stays frozen here:
// training runs the decoder on pooled vectors computed once (see src/train/speaker-embedding-training.ts).
// Provenance: nemo.collections.asr.models.label_models.EncDecSpeakerLabelModel (preprocessor, encoder, decoder modules;
// state-dict names preprocessor.*, encoder.*, decoder.*), with a FastConformer encoder instead of TitaNet's.
import * as t from '../torch/index.js';
import type { AudioToMelSpectrogramPreprocessor } from '../audio/index.js';
import type { ConformerEncoder } from '../model/index.js';
import { SpeakerDecoder, type SpeakerDecoderConfig } from './speaker-decoder.js';
import { SpeakerEmbedder } from './speaker-embedding.js';

export class SpeakerLabelModel extends t.Module {
  readonly preprocessor: AudioToMelSpectrogramPreprocessor;
  readonly encoder: ConformerEncoder;
  readonly decoder: SpeakerDecoder;

  /** Takes ownership of the preprocessor and encoder (disposed with the model). */
  constructor(p: { preprocessor: AudioToMelSpectrogramPreprocessor; encoder: ConformerEncoder; decoder: SpeakerDecoderConfig; seed: number }) {
    super();
    if (p.decoder.feat_in !== 2 * p.encoder.featOut)
      throw new RangeError(
        `speaker model: the decoder takes ${p.decoder.feat_in} pooled values but the encoder's ${p.encoder.featOut} channels pool to ${2 * p.encoder.featOut}`,
      );
    this.preprocessor = this.registerModule('preprocessor', p.preprocessor);
    this.encoder = this.registerModule('encoder', p.encoder);
    this.decoder = this.registerModule('decoder', new SpeakerDecoder(p.decoder, p.seed));
  }

  /** An embedder over this model's parts (eval mode): the trained embedding layer, or the pooled statistics with `pooledOnly`. */
  embedder(o: { pooledOnly?: boolean } = {}): SpeakerEmbedder {
    this.eval();
    return new SpeakerEmbedder(this.preprocessor, this.encoder, o.pooledOnly ? null : this.decoder.projection);
  }
}
