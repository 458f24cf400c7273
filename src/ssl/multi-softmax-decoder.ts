// Provenance: NeMo nemo/collections/asr/modules/ssl_modules/multi_softmax_decoder.py MultiSoftmaxDecoder.
//
// A kernel-1 Conv1d (a per-frame linear layer) to C*H channels, channel o = c*H + h (class-major, book-minor),
// then log_softmax over the classes. Initialisation consumes the generator as NeMo does (Conv1d default init,
// then init_weights(mode) on the weight), so `new Generator(s)` gives NeMo's weights after `torch.manual_seed(s)`.
import * as t from '../torch/index.js';
import type { Tensor, Generator } from '../torch/index.js';

export type DecoderInitMode = 'xavier_uniform' | 'xavier_normal' | 'kaiming_uniform' | 'kaiming_normal' | null;

export interface MultiSoftmaxDecoderConfig {
  featIn: number;
  numClasses: number;
  numDecoders?: number;
  initMode?: DecoderInitMode;
  /** NeMo's class default is false; the NEST config sets true. */
  useBias?: boolean;
  /** Drop the decoder axis of the output when numDecoders == 1. */
  squeezeSingle?: boolean;
}

/** NeMo's torch.nn.Sequential holding the one Conv1d, so that state-dict names are decoder_layers.0.weight / .bias. */
class DecoderLayers extends t.ModuleList<t.Conv1d> {
  /** The Conv1d (child 0). */
  get conv(): t.Conv1d {
    return this.items[0]!;
  }
}

export class MultiSoftmaxDecoder extends t.Module {
  readonly featIn: number;
  readonly numClasses: number;
  readonly numDecoders: number;
  readonly squeezeSingle: boolean;
  readonly decoderLayers: DecoderLayers;

  constructor(cfg: MultiSoftmaxDecoderConfig, init: { generator?: Generator } = {}) {
    super();
    this.featIn = cfg.featIn;
    this.numClasses = cfg.numClasses;
    this.numDecoders = cfg.numDecoders ?? 1;
    this.squeezeSingle = cfg.squeezeSingle ?? false;
    for (const [k, v] of [
      ['featIn', this.featIn],
      ['numClasses', this.numClasses],
      ['numDecoders', this.numDecoders],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new RangeError(`MultiSoftmaxDecoder: ${k} must be a positive integer, got ${v}`);
    }
    const g = init.generator;
    const conv = new t.Conv1d(this.featIn, this.numClasses * this.numDecoders, 1, { bias: cfg.useBias ?? false }, { generator: g });
    this.decoderLayers = this.registerModule('decoder_layers', new DecoderLayers([conv]));
    const mode = cfg.initMode === undefined ? 'xavier_uniform' : cfg.initMode;
    const w = conv.weight; // (C*H, featIn, 1)
    const { fanIn, fanOut } = t.init.fans(w.shape);
    switch (mode) {
      case 'xavier_uniform':
        t.init.xavierUniform_(w, 1, g);
        break;
      case 'xavier_normal':
        t.init.normal_(w, 0, Math.sqrt(2 / (fanIn + fanOut)), g);
        break;
      case 'kaiming_uniform':
        t.init.kaimingUniform_(w, 0, 'relu', g);
        break;
      case 'kaiming_normal':
        t.init.normal_(w, 0, Math.SQRT2 / Math.sqrt(fanIn), g);
        break;
      case null:
        break;
      default:
        throw new Error(`MultiSoftmaxDecoder: unknown init_mode '${String(mode)}'`);
    }
  }

  /** encoder output (B, d, T') -> log-probabilities (B, T', C, H), or (B, T', C) when squeezed. */
  forward(encoderOutput: Tensor): Tensor {
    if (encoderOutput.ndim !== 3 || encoderOutput.size(1) !== this.featIn) {
      throw new RangeError(`MultiSoftmaxDecoder: input must be (B, ${this.featIn}, T), got [${encoderOutput.shape}]`);
    }
    return t.tidy(() => {
      const logits = this.decoderLayers.conv.forward(encoderOutput).transpose(1, 2); // (B, T', C*H)
      const [B, T] = logits.shape as [number, number];
      let l = logits.reshape([B, T, this.numClasses, this.numDecoders]); // (B, T', C, H): channel = c*H + h
      if (this.squeezeSingle && this.numDecoders === 1) l = l.squeeze(-1); // (B, T', C)
      // in float32 under autocast too: CUDA autocast runs log_softmax in float32, CPU autocast would keep bfloat16
      if (l.dtype === 'bfloat16' || l.dtype === 'float16') l = l.to({ dtype: 'float32' });
      return t.logSoftmax(l, 2); // over C
    });
  }
}
