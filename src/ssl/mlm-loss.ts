// Provenance: NeMo nemo/collections/asr/losses/ssl_losses/mlm.py MultiMLMLoss (wrapping MLMLoss).
//
// A token group k (feature frames [k*c, k*c + c)) is scored iff the mean of its c*D mask entries is > mask_threshold;
// the loss is the NLL of the target token at the selected positions, averaged over ALL selected positions of the
// batch, then averaged over decoders. Lengths are ignored (padding is never masked, so never selected).
//
// Causal-downsampling alignment (NeMo raises here; spec 00 §1.2): with causal stride-2 subsampling the encoder
// emits T/S + 1 frames for T feature frames (each layer maps m -> floor(m/2) + 1), while the mask has T/S groups.
// Encoder frame k's causal receptive field ends at feature frame k*S (each causal conv sees inputs [2j-2, 2j]), so we
// pair encoder frame k with token group k (feature frames [kS, kS + S)) and DROP THE FINAL ENCODER FRAME T/S, whose
// receptive field ends on padding. This mirrors NeMo's non-causal pairing (frame k centred at kS) and never uses an
// encoder frame from beyond the last group. Enabled by `causalDownsampling: true`; then exactly T/S + 1 frames are
// required, otherwise exactly T/S (any other count is an error, as in NeMo).
// That pairing ('first_frames') scores encoder frame k, which has seen only the first feature frame of group k. The
// alternative `alignment: 'whole_group'` pairs encoder frame k + 1 with group k and drops frame 0 instead: every
// scored frame has seen its whole group (its receptive field ends at feature frame (k+1)S, one past the group).
//
// No selected position (N = 0): NeMo's NLLLoss mean is 0/0 = NaN. `onEmpty: 'nan'` (default) keeps that, so a caller
// can detect it (isNaN(loss.item())) and skip the update; `onEmpty: 'zero'` returns 0 connected to the graph
// (all gradients zero), which lets a training loop step without a special case.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

/** 'first_frames': encoder frame k with token group k; 'whole_group': frame k + 1 with group k (causal downsampling only). */
export type TargetAlignment = 'first_frames' | 'whole_group';

export interface MultiMLMLossConfig {
  /** Mask frames per token (pre_conv: the subsampling factor; post_conv: 1). */
  combineTimeSteps?: number;
  maskThreshold?: number;
  numDecoders?: number;
  /** Decoder outputs and targets have no decoder axis when numDecoders == 1. */
  squeezeSingle?: boolean;
  /** The encoder uses causal downsampling: decoder outputs carry one extra frame, dropped (see above). */
  causalDownsampling?: boolean;
  /** With causalDownsampling: which G of the G + 1 frames are scored (default 'first_frames'; see above). */
  alignment?: TargetAlignment;
  onEmpty?: 'nan' | 'zero';
}

export class MultiMLMLoss {
  readonly combineTimeSteps: number;
  readonly maskThreshold: number;
  readonly numDecoders: number;
  readonly squeezeSingle: boolean;
  readonly causalDownsampling: boolean;
  readonly alignment: TargetAlignment;
  readonly onEmpty: 'nan' | 'zero';

  constructor(cfg: MultiMLMLossConfig = {}) {
    this.combineTimeSteps = cfg.combineTimeSteps ?? 1;
    this.maskThreshold = cfg.maskThreshold ?? 0.8;
    this.numDecoders = cfg.numDecoders ?? 1;
    this.squeezeSingle = cfg.squeezeSingle ?? false;
    this.causalDownsampling = cfg.causalDownsampling ?? false;
    this.alignment = cfg.alignment ?? 'first_frames';
    if (this.alignment !== 'first_frames' && this.alignment !== 'whole_group')
      throw new RangeError(`MultiMLMLoss: alignment must be 'first_frames' or 'whole_group', got '${String(cfg.alignment)}'`);
    this.onEmpty = cfg.onEmpty ?? 'nan';
    if (!Number.isInteger(this.combineTimeSteps) || this.combineTimeSteps < 1)
      throw new RangeError(`MultiMLMLoss: combineTimeSteps must be a positive integer, got ${cfg.combineTimeSteps}`);
    if (!Number.isInteger(this.numDecoders) || this.numDecoders < 1)
      throw new RangeError(`MultiMLMLoss: numDecoders must be a positive integer, got ${cfg.numDecoders}`);
    if (this.onEmpty !== 'nan' && this.onEmpty !== 'zero') throw new RangeError(`MultiMLMLoss: onEmpty must be 'nan' or 'zero', got '${String(cfg.onEmpty)}'`);
  }

  private get squeezed(): boolean {
    return this.squeezeSingle && this.numDecoders === 1;
  }

  /** Which token groups are scored: masks (B, D, Tm) -> bool (B, Tm / combine). */
  selectedGroups(masks: Tensor): Tensor {
    if (masks.ndim !== 3) throw new RangeError(`MultiMLMLoss: masks must be (B, D, T), got [${masks.shape}]`);
    const [B, , Tm] = masks.shape as [number, number, number];
    const c = this.combineTimeSteps;
    if (Tm % c !== 0) throw new RangeError(`MultiMLMLoss: ${Tm} mask frames are not divisible by combine_time_steps ${c}`);
    return t.tidy(() => {
      const m = masks.transpose(1, 2).reshape([B, Tm / c, -1]); // (B, G, c*D)
      return m.mean(-1).gt(this.maskThreshold); // (B, G) bool, strict >
    });
  }

  /**
   * Decoder outputs aligned to the G token groups: unchanged when they have G frames; with causalDownsampling the
   * G + 1 frames are cut to the first G ('first_frames': the final frame is dropped) or the last G ('whole_group':
   * frame 0 is dropped). (B, T', C[, H]) -> (B, G, C[, H]).
   */
  alignFrames(decoderOutputs: Tensor, G: number): Tensor {
    const Tp = decoderOutputs.size(1);
    const want = this.causalDownsampling ? G + 1 : G;
    if (Tp !== want) {
      const hint = this.causalDownsampling
        ? 'causalDownsampling expects one extra trailing encoder frame'
        : Tp === G + 1
          ? ' (one extra frame: is the encoder using causal_downsampling? set causalDownsampling: true)'
          : '';
      throw new RangeError(`MultiMLMLoss: decoder outputs have ${Tp} frames but the masks have ${G} token groups; expected ${want}${hint}`);
    }
    if (Tp === G) return decoderOutputs.alias();
    return decoderOutputs.narrow(1, this.alignment === 'whole_group' ? 1 : 0, G); // (B, G, C[, H])
  }

  /**
   * masks (B, D, Tm) f32; decoderOutputs log-probs (B, T', C, H) or (B, T', C) when squeezed; targets int64
   * (B, T_tok, H) or (B, T_tok) when squeezed (right-padded with 0 or cropped to the G groups, as NeMo). -> scalar.
   */
  forward(masks: Tensor, decoderOutputs: Tensor, targets: Tensor): Tensor {
    const expectDims = this.squeezed ? 3 : 4;
    if (decoderOutputs.ndim !== expectDims) {
      throw new RangeError(`MultiMLMLoss: decoder outputs must be ${this.squeezed ? '(B, T, C)' : '(B, T, C, H)'}, got [${decoderOutputs.shape}]`);
    }
    if (targets.ndim !== expectDims - 1) {
      throw new RangeError(`MultiMLMLoss: targets must be ${this.squeezed ? '(B, T)' : '(B, T, H)'}, got [${targets.shape}]`);
    }
    if (!this.squeezed && (decoderOutputs.size(3) !== this.numDecoders || targets.size(2) !== this.numDecoders)) {
      throw new RangeError(`MultiMLMLoss: ${this.numDecoders} decoders, got outputs [${decoderOutputs.shape}] and targets [${targets.shape}]`);
    }
    return t.tidy(() => {
      const sel = this.selectedGroups(masks); // (B, G) bool
      const [B, G] = sel.shape as [number, number];
      if (decoderOutputs.size(0) !== B || targets.size(0) !== B) {
        throw new RangeError(`MultiMLMLoss: batch sizes differ: masks ${B}, outputs ${decoderOutputs.size(0)}, targets ${targets.size(0)}`);
      }
      const logp = this.alignFrames(decoderOutputs, G); // (B, G, C[, H])
      const n = sel.sum().item();
      const books = this.squeezed ? 1 : this.numDecoders;
      let total: Tensor | null = null;
      for (let h = 0; h < books; h++) {
        const lp = this.squeezed ? logp : logp.select(3, h); // (B, G, C)
        const tg = padOrCrop(this.squeezed ? targets : targets.select(2, h), G); // (B, G)
        const picked = t.index(lp, [sel]); // (N, C)
        const tsel = t.index(tg, [sel]); // (N,)
        const l = n === 0 && this.onEmpty === 'zero' ? picked.sum().mul(0) : t.nllLoss(picked, tsel); // ()
        total = total === null ? l : total.add(l);
      }
      return books === 1 ? total! : total!.div(books); // ()
    });
  }
}

/** torch.nn.functional.pad(targets, (0, G - T)): right-pad with 0, or crop when G < T. (B, T) -> (B, G). */
function padOrCrop(targets: Tensor, G: number): Tensor {
  const T = targets.size(1);
  if (T === G) return targets.alias();
  if (T > G) return targets.narrow(1, 0, G);
  return t.pad(targets, [0, G - T]); // (B, G)
}
