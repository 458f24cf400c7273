// The trained part of a speaker-embedding model: the embedding layer over statistics-pooled encoder frames and the
// angular classifier over training speakers. embed(): pooled [B, 2D] -> Linear -> BatchNorm1d (no affine) = the
// speaker embedding [B, E]; cosines(): ReLU of it, L2-normalised, against the L2-normalised rows of `final` [C, E].
// Provenance: nemo.collections.asr.modules.conv_asr.SpeakerDecoder with pool_mode 'xvector' (affine_type 'linear':
// emb_layers.0 = Sequential(Linear, BatchNorm1d(affine=False), ReLU), the embedding taken after the BatchNorm), one
// emb_sizes entry, angular=True (final: Linear without bias); init_weights 'xavier_uniform' on the Linear weights.
// State-dict names as NeMo's: emb_layers.0.0.{weight,bias}, emb_layers.0.1.{running_mean,running_var,num_batches_tracked},
// final.weight. Difference from NeMo: NeMo's forward loops `W = F.normalize(W)` over final's parameters, which
// rebinds a local name and leaves the weights unnormalised (logits = W x / |x|, not cosines); here the rows are
// normalised as the angular (ArcFace) loss assumes. Embeddings do not depend on `final`, so archives interoperate.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

/** The keys of NeMo's `decoder` section this decoder reads. */
export interface SpeakerDecoderConfig {
  /** Pooled width: 2 x the encoder's output channels (NeMo's feat_in is the encoder's width; pooling doubles it). */
  feat_in: number;
  /** Training speakers. */
  num_classes: number;
  /** The embedding width (emb_sizes, one layer). */
  emb_size: number;
}

/** torch.nn.BatchNorm1d(affine=False, track_running_stats=True): running statistics only. */
class RunningBatchNorm extends t.Module {
  constructor(
    readonly features: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.registerBuffer('running_mean', t.zeros([features]));
    this.registerBuffer('running_var', t.ones([features]));
    this.registerBuffer('num_batches_tracked', t.scalar(0, { dtype: 'int64' }));
  }
  forward(x: Tensor): Tensor {
    // [B, C]
    if (this.training) t.noGrad(() => this.getBuffer('num_batches_tracked').add_(1));
    return t.batchNorm(x, this.getBuffer('running_mean'), this.getBuffer('running_var'), {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

/** NeMo's affine_layer(..., learn_mean=False, affine_type='linear') up to the embedding: children '0' Linear, '1' BatchNorm1d ('2' ReLU has no state). */
class EmbeddingLayer extends t.Module {
  readonly linear: t.Linear;
  readonly norm: RunningBatchNorm;
  constructor(inFeatures: number, outFeatures: number, generator: t.Generator) {
    super();
    this.linear = this.registerModule('0', new t.Linear(inFeatures, outFeatures, true, { generator }));
    t.init.xavierUniform_(this.linear.weight, 1, generator);
    this.norm = this.registerModule('1', new RunningBatchNorm(outFeatures));
  }
  forward(x: Tensor): Tensor {
    return this.norm.forward(this.linear.forward(x)); // [B, in] -> [B, out]
  }
}

/** F.normalize(x, p=2, dim=1): rows divided by max(|row|, 1e-12). */
function normalizeRows(x: Tensor): Tensor {
  return t.tidy(() => x.div(x.mul(x).sum(1, true).sqrt().clamp(1e-12)));
}

export class SpeakerDecoder extends t.Module {
  readonly emb_layers: t.ModuleList<EmbeddingLayer>;
  readonly final: t.Linear;

  constructor(
    readonly cfg: SpeakerDecoderConfig,
    seed = 0,
  ) {
    super();
    for (const k of ['feat_in', 'num_classes', 'emb_size'] as const)
      if (!(Number.isInteger(cfg[k]) && cfg[k] > 0)) throw new RangeError(`decoder.${k} must be a positive integer, got ${cfg[k]}`);
    const generator = new t.Generator(seed);
    this.emb_layers = this.registerModule('emb_layers', new t.ModuleList([new EmbeddingLayer(cfg.feat_in, cfg.emb_size, generator)]));
    this.final = this.registerModule('final', new t.Linear(cfg.emb_size, cfg.num_classes, false, { generator }));
    t.init.xavierUniform_(this.final.weight, 1, generator);
  }

  /** pooled [B, 2D] -> speaker embeddings [B, E] (NeMo's `embs`: the embedding layer before its ReLU). */
  embed(pooled: Tensor): Tensor {
    return this.emb_layers.items[0]!.forward(pooled);
  }

  /** pooled [B, 2D] -> cosine similarities [B, C] with each training speaker (the angular loss's logits). */
  cosines(pooled: Tensor): Tensor {
    return t.tidy(() => {
      const h = normalizeRows(t.relu(this.embed(pooled))); // [B, E]
      return h.matmul(normalizeRows(this.final.weight).transpose(0, 1)); // [B, C]
    });
  }

  /** The embedding layer as SpeakerEmbedder's projection: [2D] or [B, 2D] -> [E] or [B, E], always with the running statistics. */
  get projection(): EmbeddingProjection {
    return {
      inFeatures: this.cfg.feat_in,
      outFeatures: this.cfg.emb_size,
      forward: (x: Tensor): Tensor =>
        t.tidy(() => {
          if (this.training) throw new Error('speaker decoder: put it in eval mode before embedding');
          return x.shape.length === 1 ? this.embed(x.unsqueeze(0)).select(0, 0) : this.embed(x);
        }),
    };
  }
}

/** What SpeakerEmbedder needs of a projection of the pooled statistics (a t.Linear is one). */
export interface EmbeddingProjection {
  readonly inFeatures: number;
  readonly outFeatures: number;
  forward(pooled: Tensor): Tensor;
}
