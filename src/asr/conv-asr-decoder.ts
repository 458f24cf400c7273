// Provenance: nemo.collections.asr.modules.conv_asr.ConvASRDecoder — a 1x1 Conv1d from the encoder's channels to
// num_classes + 1 (the blank, last), Xavier-uniform weights (init_mode "xavier_uniform"), log_softmax over classes.
// State-dict names: decoder_layers.0.weight [C+1, d, 1], decoder_layers.0.bias [C+1].
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

export interface ConvAsrDecoderConfig {
  feat_in: number;
  /** Labels without the blank (NeMo: num_classes = len(vocabulary)). */
  num_classes: number;
  vocabulary?: readonly string[];
  init_mode?: 'xavier_uniform' | null;
}

export class ConvAsrDecoder extends t.Module {
  readonly decoder_layers: t.ModuleList<t.Conv1d>;
  readonly numClassesWithBlank: number;
  constructor(
    readonly cfg: ConvAsrDecoderConfig,
    init: { generator?: t.Generator } = {},
  ) {
    super();
    if (!(cfg.feat_in > 0) || !(cfg.num_classes > 0))
      throw new RangeError(`ConvASRDecoder: feat_in (${cfg.feat_in}) and num_classes (${cfg.num_classes}) must be positive`);
    if (cfg.vocabulary && cfg.vocabulary.length !== cfg.num_classes) {
      throw new RangeError(`ConvASRDecoder: num_classes is ${cfg.num_classes} but the vocabulary has ${cfg.vocabulary.length} labels`);
    }
    this.numClassesWithBlank = cfg.num_classes + 1;
    const conv = new t.Conv1d(cfg.feat_in, this.numClassesWithBlank, 1, { bias: true }, { generator: init.generator });
    if ((cfg.init_mode ?? 'xavier_uniform') === 'xavier_uniform') t.noGrad(() => t.init.xavierUniform_(conv.weight, 1, init.generator));
    this.decoder_layers = this.registerModule('decoder_layers', new t.ModuleList([conv]));
  }

  /** Raw scores: encoder output [B, d, T] -> [B, T, C+1]. */
  logits(encoded: Tensor): Tensor {
    return this.decoder_layers.items[0]!.forward(encoded).transpose(1, 2);
  }

  /** encoder output [B, d, T] -> log-probabilities [B, T, C+1] */
  forward(encoded: Tensor): Tensor {
    const z = this.logits(encoded); // [B, T, C+1]
    // in float32 under autocast too (as CUDA autocast runs log_softmax; CPU autocast would keep bfloat16)
    return t.logSoftmax(z.dtype === 'bfloat16' || z.dtype === 'float16' ? z.to({ dtype: 'float32' }) : z, -1);
  }
}
