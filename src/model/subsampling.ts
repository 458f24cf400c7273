// Convolutional subsampling (dw_striding / striding) with NeMo's per-layer time masking (MaskedConvSequential).
// Provenance: nemo.collections.asr.parts.submodules.subsampling.ConvSubsampling (+ MaskedConvSequential, calc_length,
//             causal_convs.CausalConv2D for causal_downsampling)
import * as t from '../torch/index.js';
import type { Tensor, LayerInit } from '../torch/index.js';
import { noFramePadded } from './attention-context.js';

export type SubsamplingKind = 'dw_striding' | 'striding';

export interface ConvSubsamplingOptions {
  subsampling: SubsamplingKind;
  /** Power of two (2, 4, 8, 16, ...): the number of stride-2 stages is log2 of it. */
  subsamplingFactor: number;
  featIn: number;
  featOut: number;
  /** Channels of the 2-D convolutions (NeMo's subsampling_conv_channels; -1 is resolved by the caller). */
  convChannels: number;
  /** causal_downsampling: pad (k-1, stride-1) on both axes instead of (1, 1). */
  isCausal: boolean;
  /** NeMo <= 2.4 behaviour: no time masking between the convolutions (spec 04 §2.4). */
  legacyFrontEnd?: boolean;
  init?: LayerInit;
}

const KERNEL = 3;
const STRIDE = 2;

/** Output length of one stride-2 stage as calc_length computes it: floor((m + padL + padR - k) / s) + 1. */
export function stageLength(m: number, isCausal: boolean): number {
  const pads = isCausal ? KERNEL - 1 + (STRIDE - 1) : 2 * ((KERNEL - 1) >> 1);
  return Math.floor((m + pads - KERNEL) / STRIDE) + 1;
}

/** NeMo's calc_length over all stages (the encoder's output length for an input of `m` feature frames). */
export function subsampledLength(m: number, subsamplingFactor: number, isCausal: boolean): number {
  let len = m;
  for (let i = 0; i < Math.log2(subsamplingFactor); i++) len = stageLength(len, isCausal);
  return len;
}

const CONTIGUOUS = t.op('contiguous');
/** c10::MemoryFormat values. */
const CONTIGUOUS_FORMAT = 0;
const CHANNELS_LAST = 2;
/** Whether a [B, C, T, F] tensor is laid out channels last ([B, T, F, C] in memory). */
const channelsLast = (x: Tensor): boolean => x.shape[1]! > 1 && x.strides[1] === 1;

/** One convolution of the stack with its explicit padding (left/top, right/bottom) on both axes. */
interface ConvStage {
  kind: 'conv';
  conv: t.Conv2d;
  padLeft: number;
  padRight: number;
  stride: number;
  /** Non-causal 3x3 convs use the convolution's own symmetric padding (as torch.nn.Conv2d(padding=1)). */
  nativePadding: number;
}
type Stage = ConvStage | { kind: 'relu' };

/**
 * One convolution with its padding. CausalConv2D pads (k - 1, stride - 1) on both axes (F.pad, then a padding-free
 * conv). When the left padding is at least the right one, the convolution's own symmetric padding of padLeft gives
 * the same windows at the same output positions plus at most a few trailing ones, which are narrowed away: the same
 * values. That route copies the output (made contiguous) instead of the padded input, so it is taken when the output
 * is the smaller of the two (the depthwise stages: 4x smaller; not the first stage, 1 channel in, C out).
 */
function convolve(s: ConvStage, h: Tensor): Tensor {
  if (s.padLeft === s.nativePadding && s.padRight === s.nativePadding) return s.conv.forward(h);
  const [, cIn, time, freq] = h.shape as [number, number, number, number];
  const k = s.conv.weight.size(2);
  const out = (m: number): number => Math.floor((m + s.padLeft + s.padRight - k) / s.stride) + 1; // the causal length
  const [ht, wf] = [out(time), out(freq)];
  const pads = s.padLeft + s.padRight;
  const outputSmaller = s.conv.weight.size(0) * ht * wf < cIn * (time + pads) * (freq + pads);
  if (s.padLeft < s.padRight || s.nativePadding !== 0 || !outputSmaller) return s.conv.forward(t.pad(h, [s.padLeft, s.padRight, s.padLeft, s.padRight]));
  const c = s.conv.config;
  const y = t.conv2d(h, s.conv.weight, s.conv.bias, { stride: c.stride ?? 1, padding: s.padLeft, dilation: c.dilation ?? 1, groups: c.groups ?? 1 }); // [B, C', >= ht, >= wf]
  if (y.size(2) === ht && y.size(3) === wf) return y;
  // Dense in its own layout (channels last stays so), so that the next convolution reads it directly (oneDNN reorders
  // a strided input, at 2x its time).
  return t.call(CONTIGUOUS, y.narrow(2, 0, ht).narrow(3, 0, wf), channelsLast(y) ? CHANNELS_LAST : CONTIGUOUS_FORMAT);
}

/**
 * The first convolution (one input channel) and the ReLU after it, at inference, as products of windows
 * (t.oneChannelConv2dRows: the small-product kernel, the ReLU fused), on the input padded explicitly (as CausalConv2D
 * pads; a symmetric conv padding is the same zeros) -> [B, C, T', F'] channels last; null where that route does not apply.
 */
function oneChannelRowsRelu(s: ConvStage, h: Tensor): Tensor | null {
  if (h.size(1) !== 1 || s.conv.weight.size(1) !== 1) return null;
  const padded = t.pad(h, [s.padLeft, s.padRight, s.padLeft, s.padRight]); // [B, 1, T + pads, F + pads]
  const y = t.oneChannelConv2dRows(padded, s.conv.weight, s.conv.bias, s.stride, true);
  padded.dispose();
  return y;
}

// Provenance: nemo.collections.asr.parts.submodules.subsampling.MaskedConvSequential
/** The conv stack; children are named by their index in NeMo's nn.Sequential (ReLUs hold no state). */
export class MaskedConvSequential extends t.Module {
  readonly stages: Stage[] = [];
  constructor(readonly masking: boolean) {
    super();
  }
  addConv(conv: t.Conv2d, o: { padLeft: number; padRight: number; stride: number; nativePadding: number }): void {
    this.registerModule(String(this.stages.length), conv);
    this.stages.push({ kind: 'conv', conv, ...o });
  }
  addRelu(): void {
    this.stages.push({ kind: 'relu' });
  }

  /** x [B, T, F], lengths int64 [B] -> {x [B, C, T', F'], lengths int64 [B]}. */
  forward(x: Tensor, lengths: Tensor): { x: Tensor; lengths: Tensor } {
    return t.tidy(() => {
      // [B, T, F] -> [B, 1, T, F]; at inference laid out channels last, so that oneDNN runs the stack channels last
      // (the first convolution's output, and every later one, comes out [B, T, F, C] in memory): its depthwise
      // convolutions take 0.3x the time they take on [B, C, T, F] (16 streams' step: 38.7 -> 36.0 ms; BENCHMARKS.md
      // "A small-product kernel"). Training keeps ATen's default layout (not measured channels last).
      let h = t.isGradEnabled() ? x.unsqueeze(1) : t.call(CONTIGUOUS, x.unsqueeze(1), CHANNELS_LAST);
      let len = lengths.to({ dtype: 'float32' }); // NeMo keeps the running length as float
      const timeMask = (time: number): Tensor =>
        t
          .arange(time)
          .unsqueeze(0)
          .lt(len.unsqueeze(1)) // [B, T]: t < len_b
          .to({ dtype: h.dtype })
          .unsqueeze(1)
          .unsqueeze(-1); // [B, T] -> [B, 1, T, 1]
      // With no padded frame every mask would be all ones (each stage's length formula is its output size), so none
      // is made or applied.
      const masking = this.masking && !noFramePadded(lengths, x.size(1));
      let mask = masking ? timeMask(h.size(2)) : null;
      // True while h is already zero at t >= len for the current mask: the mask NeMo applies after a ReLU of a
      // masked tensor is then a no-op (ReLU keeps zeros; its backward zeroes the gradient there too), so it is
      // skipped — exact, and it saves full passes over the largest activations ([B, C, T/2, F/2] first).
      let isMasked = false;
      // True when h is a convolution output made here: masked in place (never the caller's input; a convolution's
      // backward keeps its input, not its output, so autograd is unaffected), saving a full-size allocation.
      let ownsH = false;
      for (let i = 0; i < this.stages.length; i++) {
        const s = this.stages[i]!;
        if (mask && !isMasked) {
          h = ownsH ? h.mul_(mask) : h.mul(mask); // zero t >= len before every layer
          isMasked = true;
        }
        if (s.kind === 'relu') {
          // In place on a convolution's output when nothing records gradients (inference: a full pass over the
          // largest activations saved); with autograd, ReLU's backward keeps its output, which is then never
          // modified in place.
          const inPlace: boolean = ownsH && !t.isGradEnabled();
          h = inPlace ? h.relu_() : h.relu();
          ownsH = inPlace;
          continue;
        }
        isMasked = false; // a convolution mixes time steps and adds its bias
        // At inference the first convolution and its ReLU run as one product (the ReLU commutes with the time mask
        // applied before the next convolution); then the ReLU stage is skipped.
        const fused = !t.isGradEnabled() && this.stages[i + 1]?.kind === 'relu' ? oneChannelRowsRelu(s, h) : null;
        if (fused) i++;
        h = fused ?? convolve(s, h); // [B, C, T, F] -> [B, C', T/2, F/2] (stride 2) or same (1x1)
        ownsH = true;
        if (s.stride !== 1) {
          len = t.floor(len.add(s.padLeft + s.padRight - s.conv.weight.size(2)).div(s.stride)).add(1);
          if (masking) mask = timeMask(h.size(2));
        }
      }
      if (mask && !isMasked) h = h.mul(mask); // final mask
      return { x: h, lengths: len.to({ dtype: 'int64' }) };
    });
  }
}

// Provenance: nemo.collections.asr.parts.submodules.subsampling.ConvSubsampling
export class ConvSubsampling extends t.Module {
  readonly out: t.Linear;
  readonly conv: MaskedConvSequential;
  readonly numStages: number;
  /** Frequency bins after the stack (F'). */
  readonly freqOut: number;

  constructor(readonly options: ConvSubsamplingOptions) {
    super();
    const { subsampling, subsamplingFactor, featIn, featOut, convChannels: cc, isCausal, init } = options;
    const n = Math.log2(subsamplingFactor);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`subsampling_factor must be a power of two >= 2, got ${subsamplingFactor}`);
    this.numStages = n;
    const padLeft = isCausal ? KERNEL - 1 : (KERNEL - 1) >> 1;
    const padRight = isCausal ? STRIDE - 1 : (KERNEL - 1) >> 1;
    const nativePadding = isCausal ? 0 : padLeft;
    const strided = { padLeft, padRight, stride: STRIDE, nativePadding };
    const pointwise = { padLeft: 0, padRight: 0, stride: 1, nativePadding: 0 };
    const conv = new MaskedConvSequential(!(options.legacyFrontEnd ?? false));

    if (subsampling === 'dw_striding') {
      conv.addConv(new t.Conv2d(1, cc, KERNEL, { stride: STRIDE, padding: nativePadding }, init), strided);
      conv.addRelu();
      for (let i = 0; i < n - 1; i++) {
        conv.addConv(new t.Conv2d(cc, cc, KERNEL, { stride: STRIDE, padding: nativePadding, groups: cc }, init), strided);
        conv.addConv(new t.Conv2d(cc, cc, 1, {}, init), pointwise);
        conv.addRelu();
      }
    } else if (subsampling === 'striding') {
      for (let i = 0; i < n; i++) {
        conv.addConv(new t.Conv2d(i === 0 ? 1 : cc, cc, KERNEL, { stride: STRIDE, padding: nativePadding }, init), strided);
        conv.addRelu();
      }
    } else {
      throw new RangeError(`subsampling '${String(subsampling)}' is not supported (dw_striding, striding)`);
    }
    let f = featIn;
    for (let i = 0; i < n; i++) f = stageLength(f, isCausal);
    this.freqOut = f;
    // NeMo assigns `out` before `conv`, so the state dict lists pre_encode.out.* first.
    this.out = this.registerModule('out', new t.Linear(cc * f, featOut, true, init));
    this.conv = this.registerModule('conv', conv);
  }

  /**
   * x [B, T, F] (time-major features), lengths int64 [B] -> {x [B, T' - dropFront, featOut], lengths int64 [B]}.
   * dropFront output frames are left out before the output projection, which is per frame (a streaming step drops
   * the frames of its pre-encode cache: the same values for the frames kept, without projecting the others); the
   * lengths are those of all T' frames.
   */
  forward(x: Tensor, lengths: Tensor, dropFront = 0): { x: Tensor; lengths: Tensor } {
    return t.tidy(() => {
      const r = this.conv.forward(x, lengths); // [B, T, F] -> [B, C, T', F']
      const [b, c, tt, f] = r.x.shape as [number, number, number, number];
      const drop = Math.min(dropFront, tt);
      const kept = drop > 0 ? r.x.narrow(2, drop, tt - drop) : r.x; // [B, C, T' - drop, F']
      const flat = kept.transpose(1, 2).reshape([b, tt - drop, c * f]); // -> [B, T' - drop, C*F'] (channel-major)
      return { x: this.out.forward(flat), lengths: r.lengths }; // [B, T' - drop, C*F'] -> [B, T' - drop, d]
    });
  }
}
