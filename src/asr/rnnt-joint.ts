// Provenance: nemo.collections.asr.modules.rnnt.RNNTJoint — enc: Linear(encoder_hidden, joint_hidden), pred:
// Linear(pred_hidden, joint_hidden), joint_net: Sequential(activation, [Dropout if dropout], Linear(joint_hidden,
// num_classes + 1)); logits(t, u) = joint_net(enc(f_t) + pred(g_u)), the blank last. State-dict names as NeMo (inside a
// model prefixed `joint.`): pred.*, enc.*, and joint_net.2.* with dropout or joint_net.1.* without (the Sequential's
// index). torch default initialisation, as NeMo.
import * as t from '../torch/index.js';
import type { Generator, Tensor } from '../torch/index.js';

export type JointActivation = 'relu' | 'sigmoid' | 'tanh';

/** The `jointnet:` section of NeMo's joint config. */
export interface RnntJointNetConfig {
  encoder_hidden: number;
  pred_hidden: number;
  joint_hidden: number;
  activation: JointActivation;
  dropout?: number;
}

/** NeMo's RNNTJoint arguments (the model sets num_classes from its labels: the blank excluded). */
export interface RnntJointConfig {
  jointnet: RnntJointNetConfig;
  num_classes: number;
  vocabulary?: readonly string[];
  /** null (NeMo's default): log_softmax on CPU tensors only, as NeMo; true / false: always / never. */
  log_softmax?: boolean | null;
  /** Only 0: TDT / multi-blank extra outputs are not ported. */
  num_extra_outputs?: number;
  /**
   * NeMo's fused joint + loss batching: the model (rnnt-model.ts) computes joint and loss over sub-batches of
   * fused_batch_size utterances, each trimmed to its own longest T and U (the joint itself is unchanged).
   */
  fuse_loss_wer?: boolean;
  fused_batch_size?: number | null;
  /** Only <= 0: prediction-output masking in training is not ported. */
  masking_prob?: number;
}

function checkJointConfig(c: RnntJointConfig): void {
  const j = c.jointnet;
  const bad: string[] = [];
  for (const k of ['encoder_hidden', 'pred_hidden', 'joint_hidden'] as const) {
    if (!(Number.isInteger(j[k]) && j[k] > 0)) bad.push(`jointnet.${k} must be a positive integer, got ${j[k]}`);
  }
  if (!(Number.isInteger(c.num_classes) && c.num_classes > 0)) bad.push(`num_classes must be a positive integer, got ${c.num_classes}`);
  if (!['relu', 'sigmoid', 'tanh'].includes(j.activation)) bad.push(`jointnet.activation must be relu, sigmoid or tanh, got '${String(j.activation)}'`);
  const d = j.dropout ?? 0;
  if (!(d >= 0 && d < 1)) bad.push(`jointnet.dropout must be in [0, 1), got ${d}`);
  if (c.vocabulary && c.vocabulary.length !== c.num_classes) bad.push(`num_classes is ${c.num_classes} but the vocabulary has ${c.vocabulary.length} labels`);
  if ((c.num_extra_outputs ?? 0) !== 0) bad.push(`num_extra_outputs ${c.num_extra_outputs} is not supported (TDT / multi-blank joints are not ported)`);
  if (c.fuse_loss_wer && !(Number.isInteger(c.fused_batch_size) && (c.fused_batch_size ?? 0) > 0))
    bad.push(`fuse_loss_wer is set, so fused_batch_size must be a positive integer, got ${String(c.fused_batch_size)}`);
  if ((c.masking_prob ?? -1) > 0) bad.push(`masking_prob ${c.masking_prob} is not supported (prediction-output masking is not ported)`);
  if (bad.length) throw new RangeError(`RNNTJoint: ${bad.join('; ')}`);
}

// Provenance: torch.nn.ReLU / Sigmoid / Tanh (no parameters; holds a place in the Sequential's numbering)
class Activation extends t.Module {
  constructor(readonly kind: JointActivation) {
    super();
  }
  forward(x: Tensor): Tensor {
    if (this.kind === 'relu') return t.relu(x);
    if (this.kind === 'sigmoid') return t.sigmoid(x);
    return t.tanh(x);
  }
}

export class RnntJoint extends t.Module {
  readonly pred: t.Linear;
  readonly enc: t.Linear;
  readonly joint_net: t.ModuleList<t.Module>;
  /** Classes with the blank (num_classes + 1); the blank is the last. */
  readonly numClassesWithBlank: number;
  private readonly activation: Activation;
  private readonly dropout: t.Dropout | null;
  private readonly out: t.Linear;

  constructor(
    readonly cfg: RnntJointConfig,
    init: { generator?: Generator; dropoutGenerator?: Generator } = {},
  ) {
    super();
    checkJointConfig(cfg);
    const j = cfg.jointnet;
    this.numClassesWithBlank = cfg.num_classes + 1;
    this.pred = this.registerModule('pred', new t.Linear(j.pred_hidden, j.joint_hidden, true, { generator: init.generator }));
    this.enc = this.registerModule('enc', new t.Linear(j.encoder_hidden, j.joint_hidden, true, { generator: init.generator }));
    this.activation = new Activation(j.activation);
    this.dropout = j.dropout ? new t.Dropout(j.dropout, init.dropoutGenerator) : null;
    this.out = new t.Linear(j.joint_hidden, this.numClassesWithBlank, true, { generator: init.generator });
    const seq: t.Module[] = this.dropout ? [this.activation, this.dropout, this.out] : [this.activation, this.out];
    this.joint_net = this.registerModule('joint_net', new t.ModuleList(seq));
  }

  /** Encoder frames [..., encoder_hidden] -> [..., joint_hidden] (NeMo's project_encoder). */
  projectEncoder(f: Tensor): Tensor {
    return this.enc.forward(f);
  }

  /** Prediction-network outputs [..., pred_hidden] -> [..., joint_hidden] (NeMo's project_prednet). */
  projectPrednet(g: Tensor): Tensor {
    return this.pred.forward(g);
  }

  /** joint_net over summed projections of any broadcastable shapes [..., joint_hidden] -> raw logits [..., V+1]. */
  jointProjected(f: Tensor, g: Tensor): Tensor {
    return t.tidy(() => {
      let h = this.activation.forward(f.add(g));
      if (this.dropout) h = this.dropout.forward(h);
      return this.out.forward(h);
    });
  }

  /** Raw logits for the loss: f [B, T, encoder_hidden], g [B, U+1, pred_hidden] -> [B, T, U+1, V+1]. */
  logits(f: Tensor, g: Tensor): Tensor {
    return t.tidy(() => this.jointProjected(this.projectEncoder(f).unsqueeze(2), this.projectPrednet(g).unsqueeze(1)));
  }

  /**
   * NeMo's joint output: the logits, log-softmaxed per `log_softmax` (null: on CPU tensors only, as NeMo, which leaves
   * CUDA logits raw for its fused loss kernel). f [B, T, encoder_hidden], g [B, U+1, pred_hidden] (channel-last; NeMo
   * takes [B, D, T] and [B, D, U+1]) -> [B, T, U+1, V+1].
   */
  forward(f: Tensor, g: Tensor): Tensor {
    return t.tidy(() => {
      const z = this.logits(f, g);
      const ls = this.cfg.log_softmax ?? null;
      return ls === true || (ls === null && z.device === 'cpu') ? t.logSoftmax(z, -1) : z;
    });
  }
}
