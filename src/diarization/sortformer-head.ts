// Sortformer's speaker head on encoder frames: encoder_proj (fc_d_model -> tf_d_model, only when they differ) ->
// relu -> dropout -> first_hidden_to_hidden -> relu -> dropout -> single_hidden_to_spks -> sigmoid, frame by frame.
// Provenance: nemo.collections.asr.modules.sortformer_modules.SortformerModules (encoder_proj, forward_speaker_sigmoids;
// state-dict names as NeMo: sortformer_modules.encoder_proj.*, .first_hidden_to_hidden.*, .single_hidden_to_spks.*).
// Difference from NeMo: Sortformer runs an 18-layer Transformer encoder (full self-attention: non-causal) between
// encoder_proj and the sigmoids, and its streaming variant keeps a speaker cache and FIFO to feed that Transformer. This
// head is frame-wise, so that its output depends on past audio only through the cache-aware encoder and streaming
// output equals offline output exactly; NeMo's unused hidden_to_spks (2 * tf_d_model -> num_spks) is left out.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

/** NeMo's sortformer_modules section, the keys this head reads. */
export interface SortformerHeadConfig {
  /** max_num_of_spks (4). */
  num_spks: number;
  /** The encoder's output channels (model_defaults.fc_d_model). */
  fc_d_model: number;
  /** The head's width (model_defaults.tf_d_model, 192 in NeMo's configs). */
  tf_d_model: number;
  /** Dropout before each hidden linear layer (NeMo default 0.5). */
  dropout_rate: number;
}

export class SortformerHead extends t.Module {
  readonly encoder_proj: t.Linear | null;
  readonly first_hidden_to_hidden: t.Linear;
  readonly single_hidden_to_spks: t.Linear;
  readonly dropout: t.Dropout;

  constructor(
    readonly cfg: SortformerHeadConfig,
    init: { generator?: t.Generator; dropoutGenerator?: t.Generator } = {},
  ) {
    super();
    for (const k of ['num_spks', 'fc_d_model', 'tf_d_model'] as const) {
      if (!(Number.isInteger(cfg[k]) && cfg[k] > 0)) throw new RangeError(`sortformer_modules.${k} must be a positive integer, got ${cfg[k]}`);
    }
    if (!(cfg.dropout_rate >= 0 && cfg.dropout_rate < 1)) throw new RangeError(`sortformer_modules.dropout_rate must be in [0, 1), got ${cfg.dropout_rate}`);
    const g = { generator: init.generator };
    // NeMo sets encoder_proj to None when the encoder's width already is tf_d_model
    this.encoder_proj = this.registerModule('encoder_proj', cfg.fc_d_model !== cfg.tf_d_model ? new t.Linear(cfg.fc_d_model, cfg.tf_d_model, true, g) : null);
    this.first_hidden_to_hidden = this.registerModule('first_hidden_to_hidden', new t.Linear(cfg.tf_d_model, cfg.tf_d_model, true, g));
    this.single_hidden_to_spks = this.registerModule('single_hidden_to_spks', new t.Linear(cfg.tf_d_model, cfg.num_spks, true, g));
    this.dropout = this.registerModule('dropout', new t.Dropout(cfg.dropout_rate, init.dropoutGenerator));
  }

  /** Encoder frames [..., T, fc_d_model] -> speaker logits [..., T, num_spks] (before the sigmoid). */
  logits(frames: Tensor): Tensor {
    return t.tidy(() => {
      const h0 = this.encoder_proj ? this.encoder_proj.forward(frames) : frames; // [..., T, tf]
      const h1 = this.first_hidden_to_hidden.forward(this.dropout.forward(t.relu(h0)));
      return this.single_hidden_to_spks.forward(this.dropout.forward(t.relu(h1))); // [..., T, S]
    });
  }

  /** Encoder frames [..., T, fc_d_model] -> speaker activities in (0, 1) [..., T, num_spks]. */
  forward(frames: Tensor): Tensor {
    return t.tidy(() => t.sigmoid(this.logits(frames)));
  }
}
