// Provenance: nemo.collections.asr.modules.rnnt.RNNTDecoder (the prediction network: Embedding with the blank as its
// padding row, then nemo.collections.common.parts.rnn.LSTMDropout = torch.nn.LSTM + Dropout). State-dict names as NeMo
// (inside a model prefixed `decoder.`): prediction.embed.weight [V+1, H], prediction.dec_rnn.lstm.weight_ih_l{k},
// weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}. Initialisation as NeMo: torch defaults (N(0,1) embedding with the padding
// row zeroed; LSTM U(+-1/sqrt(H))), forget-gate bias_ih = forget_gate_bias, forget-gate bias_hh *= hidden_hidden_bias_scale
// (or Chrono init with t_max), then every weight and bias times weights_init_scale.
import * as t from '../torch/index.js';
import type { Generator, LstmState, Tensor } from '../torch/index.js';

/** The `prednet:` section of NeMo's decoder config. */
export interface RnntPrednetConfig {
  pred_hidden: number;
  pred_rnn_layers: number;
  forget_gate_bias?: number | null;
  t_max?: number | null;
  weights_init_scale?: number;
  hidden_hidden_bias_scale?: number;
  dropout?: number;
  /** Only -1 (or pred_hidden) is supported: NeMo's LSTM projection (rnn_hidden_size > pred_hidden) is not. */
  rnn_hidden_size?: number;
}

/** NeMo's RNNTDecoder arguments (the model sets vocab_size from its labels: the blank excluded). */
export interface RnntDecoderConfig {
  prednet: RnntPrednetConfig;
  vocab_size: number;
  /** Only null: NeMo's 'batch' and 'layer' normalised LSTMs are not ported. */
  normalization_mode?: null;
  /** Only false: random initial states in training are not ported. */
  random_state_sampling?: boolean;
  /** Only true (NeMo's default, which every NeMo transducer config uses): the blank is the embedding's padding row. */
  blank_as_pad?: boolean;
}

/** The prediction network's state: the LSTM's h and c, [L, B, H] each. */
export type RnntDecoderState = LstmState;

/** Refuses the RNNTDecoder options this port does not implement, naming each and why. */
function checkDecoderConfig(c: RnntDecoderConfig): void {
  const p = c.prednet;
  const bad: string[] = [];
  if (!(Number.isInteger(c.vocab_size) && c.vocab_size > 0)) bad.push(`vocab_size must be a positive integer, got ${c.vocab_size}`);
  if (!(Number.isInteger(p.pred_hidden) && p.pred_hidden > 0)) bad.push(`prednet.pred_hidden must be a positive integer, got ${p.pred_hidden}`);
  if (!(Number.isInteger(p.pred_rnn_layers) && p.pred_rnn_layers > 0)) bad.push(`prednet.pred_rnn_layers must be a positive integer, got ${p.pred_rnn_layers}`);
  const d = p.dropout ?? 0;
  if (!(d >= 0 && d < 1)) bad.push(`prednet.dropout must be in [0, 1), got ${d}`);
  if (p.rnn_hidden_size !== undefined && p.rnn_hidden_size !== -1 && p.rnn_hidden_size !== p.pred_hidden)
    bad.push(`prednet.rnn_hidden_size ${p.rnn_hidden_size} is not supported (LSTM projections are not ported; use -1)`);
  if (p.t_max !== undefined && p.t_max !== null && !(p.t_max > 2)) bad.push(`prednet.t_max must be > 2 for Chrono initialisation, got ${p.t_max}`);
  if (c.normalization_mode !== undefined && c.normalization_mode !== null)
    bad.push(`normalization_mode '${String(c.normalization_mode)}' is not supported (only null: NeMo's batch/layer-normalised LSTMs are not ported)`);
  if (c.random_state_sampling) bad.push('random_state_sampling: true is not supported (random initial LSTM states are not ported)');
  if (c.blank_as_pad === false) bad.push('blank_as_pad: false is not supported (the blank must be the embedding padding row, as in NeMo configs)');
  if (bad.length) throw new RangeError(`RNNTDecoder: ${bad.join('; ')}`);
}

// Provenance: nemo.collections.common.parts.rnn.LSTMDropout (torch.nn.LSTM named `lstm`, dropout after the last layer)
class LstmDropout extends t.Module {
  readonly lstm: t.Lstm;
  private readonly dropout: t.Dropout;
  constructor(size: number, layers: number, p: number, init: { generator?: Generator; dropoutGenerator?: Generator }) {
    super();
    this.lstm = this.registerModule('lstm', new t.Lstm(size, size, layers, p, { generator: init.generator, dropoutGenerator: init.dropoutGenerator }));
    this.dropout = this.registerModule('dropout', new t.Dropout(p, init.dropoutGenerator));
  }
  forward(x: Tensor, state: LstmState | null): { y: Tensor; state: LstmState } {
    const r = this.lstm.forward(x, state); // [B, U, H]
    return { y: this.dropout.forward(r.y), state: r.state };
  }
}

// Provenance: RNNTDecoder._predict_modules (a ModuleDict with `embed` and `dec_rnn`)
class PredictionModules extends t.Module {
  readonly embed: t.Embedding;
  readonly dec_rnn: LstmDropout;
  constructor(c: RnntDecoderConfig, init: { generator?: Generator; dropoutGenerator?: Generator }) {
    super();
    const h = c.prednet.pred_hidden;
    this.embed = this.registerModule('embed', new t.Embedding(c.vocab_size + 1, h, { generator: init.generator }));
    this.dec_rnn = this.registerModule('dec_rnn', new LstmDropout(h, c.prednet.pred_rnn_layers, c.prednet.dropout ?? 0, init));
  }
}

export class RnntDecoder extends t.Module {
  readonly prediction: PredictionModules;
  /** The blank id (= vocab_size, the last class) and the embedding's padding row. */
  readonly blank: number;
  readonly hidden: number;

  constructor(
    readonly cfg: RnntDecoderConfig,
    init: { generator?: Generator; dropoutGenerator?: Generator } = {},
  ) {
    super();
    checkDecoderConfig(cfg);
    this.blank = cfg.vocab_size;
    this.hidden = cfg.prednet.pred_hidden;
    this.prediction = this.registerModule('prediction', new PredictionModules(cfg, init));
    this.initialise(init.generator);
  }

  /** NeMo's post-construction changes to the torch defaults (see the file header). */
  private initialise(generator?: Generator): void {
    const p = this.cfg.prednet;
    const h = this.hidden;
    const forgetGateBias = p.forget_gate_bias === undefined ? 1.0 : p.forget_gate_bias; // null: leave torch's init
    t.noGrad(() =>
      t.tidy(() => {
        t.select(this.prediction.embed.weight, 0, this.blank).zero_(); // padding_idx row
        for (const [name, v] of this.prediction.dec_rnn.lstm.namedParameters()) {
          if (!name.startsWith('bias')) continue;
          const gate = (g: number): Tensor => t.narrow(v, 0, g * h, h);
          if (p.t_max !== undefined && p.t_max !== null) {
            // Chrono: forget bias log(U(1, t_max - 1)), input bias its negation, the rest 0 (ih and hh alike)
            v.zero_();
            gate(1).uniform_(1, p.t_max - 1, generator);
            gate(1).copy_(t.log(gate(1)));
            gate(0).copy_(gate(1).neg());
          } else if (forgetGateBias !== null) {
            if (name.startsWith('bias_ih')) gate(1).fill_(forgetGateBias);
            else gate(1).mul_(p.hidden_hidden_bias_scale ?? 0.0);
          }
        }
        const scale = p.weights_init_scale ?? 1.0;
        if (scale !== 1.0) for (const [, v] of this.prediction.dec_rnn.namedParameters()) v.mul_(scale);
      }),
    );
  }

  /** Embeddings of label ids [B, U] -> [B, U, H]; the blank (start symbol / padding) embeds to zeros, as NeMo's SOS. */
  private embed(labels: Tensor): Tensor {
    return t.tidy(() => {
      const e = t.embedding(this.prediction.embed.weight, labels, this.blank); // [B, U, H]
      return e.maskedFill(labels.eq(this.blank).unsqueeze(-1), 0);
    });
  }

  /** A zero state for `batch` sequences. */
  initState(batch: number, dtype: 'float32' | 'float64' = 'float32', device?: string): RnntDecoderState {
    return this.prediction.dec_rnn.lstm.initState(batch, dtype, device);
  }

  /**
   * Training forward (NeMo's forward with add_sos): targets [B, U] int64 -> g [B, U+1, H] (the outputs after the start
   * symbol and after each label; channel-last, where NeMo returns [B, H, U+1]) and the final state.
   */
  forward(targets: Tensor, state: RnntDecoderState | null = null): { g: Tensor; state: RnntDecoderState } {
    return t.tidy(() => {
      const [b] = targets.shape as [number, number];
      const start = t.full([b, 1], this.blank, { dtype: 'int64', device: targets.device });
      const y = this.embed(t.cat([start, targets.to({ dtype: 'int64' })], 1)); // [B, U+1, H]
      const r = this.prediction.dec_rnn.forward(y, state);
      return { g: r.y, state: r.state };
    });
  }

  /**
   * One step (NeMo's predict with add_sos=False): labels [B] int64 (the blank = the start symbol) -> g [B, H] and the
   * state after it. The input state is not changed.
   */
  step(labels: Tensor, state: RnntDecoderState): { g: Tensor; state: RnntDecoderState } {
    return t.tidy(() => {
      const r = this.prediction.dec_rnn.forward(this.embed(labels.view([-1, 1])), state); // [B, 1, H]
      return { g: r.y.squeeze(1), state: r.state };
    });
  }
}

/** Per batch row: `next` where mask [B] is true, else `prev` (states [L, B, H]). New tensors. */
export function selectDecoderState(mask: Tensor, next: RnntDecoderState, prev: RnntDecoderState): RnntDecoderState {
  return t.tidy(() => {
    const m = mask.view([1, -1, 1]);
    return { h: t.where(m, next.h, prev.h), c: t.where(m, next.c, prev.c) };
  });
}
