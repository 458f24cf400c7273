// The Conformer feed-forward module: linear (d -> d_ff), swish, dropout, linear (d_ff -> d).
// Provenance: nemo.collections.asr.parts.submodules.conformer_modules.ConformerFeedForward
import * as t from '../torch/index.js';
import type { Generator, LayerInit, Tensor } from '../torch/index.js';

export interface FeedForwardOptions {
  dModel: number;
  dFf: number;
  dropout: number;
  useBias: boolean;
  init?: LayerInit;
  generator?: Generator;
}

export class ConformerFeedForward extends t.Module {
  readonly linear1: t.Linear;
  readonly dropout: t.Dropout;
  readonly linear2: t.Linear;

  constructor(o: FeedForwardOptions) {
    super();
    this.linear1 = this.registerModule('linear1', new t.Linear(o.dModel, o.dFf, o.useBias, o.init));
    this.dropout = this.registerModule('dropout', new t.Dropout(o.dropout, o.generator));
    this.linear2 = this.registerModule('linear2', new t.Linear(o.dFf, o.dModel, o.useBias, o.init));
  }

  /** x [B, T, d] -> [B, T, d] (position-wise, so it streams without a cache). */
  forward(x: Tensor): Tensor {
    return t.tidy(() => {
      const h = t.silu(this.linear1.forward(x)); // [B, T, d] -> [B, T, d_ff]
      return this.linear2.forward(this.dropout.forward(h)); // [B, T, d_ff] -> [B, T, d]
    });
  }
}
