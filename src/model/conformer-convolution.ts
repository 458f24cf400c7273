// The Conformer convolution module: pointwise conv + GLU, depthwise conv with explicit (left, right) padding,
// normalisation, swish, pointwise conv.
// Provenance: nemo.collections.asr.parts.submodules.conformer_modules.ConformerConvolution (+ causal_convs.CausalConv1D)
import * as t from '../torch/index.js';
import type { LayerInit, Tensor } from '../torch/index.js';

/** 'batch_norm' | 'layer_norm' | 'group_normN' (N groups, e.g. 'group_norm8'). */
export type ConvNormType = 'batch_norm' | 'layer_norm' | `group_norm${number}`;

export interface ConvolutionOptions {
  dModel: number;
  kernelSize: number;
  normType: ConvNormType;
  /** [left, right] frames of the depthwise conv; left + right = kernelSize - 1. */
  convContextSize: [number, number];
  useBias: boolean;
  init?: LayerInit;
  /** With batch_norm: synchronise its training statistics across this data-parallel group (trainer.sync_batchnorm). */
  syncBatchNorm?: t.ProcessGroup | null;
}

/** Streaming cache of one conv module (NeMo's cache_last_time for one layer): the last `left` GLU outputs, [B, d, left]. */
export interface ConvCache {
  frames: Tensor;
}

export class ConformerConvolution extends t.Module {
  readonly pointwise_conv1: t.Conv1d;
  readonly depthwise_conv: t.Conv1d;
  /** Named batch_norm for every norm type, as in NeMo's state dict. */
  readonly batch_norm: t.BatchNorm1d | t.LayerNorm | t.GroupNorm;
  readonly pointwise_conv2: t.Conv1d;
  readonly padLeft: number;
  readonly padRight: number;

  constructor(readonly options: ConvolutionOptions) {
    super();
    const { dModel: d, kernelSize: k, normType, useBias, init } = options;
    const [lc, rc] = options.convContextSize;
    if ((k - 1) % 2 !== 0) throw new RangeError(`conv_kernel_size must be odd, got ${k}`);
    if (lc + rc !== k - 1 || lc < 0 || rc < 0) throw new RangeError(`conv_context_size [${lc}, ${rc}] must sum to kernel_size - 1 = ${k - 1}`);
    this.padLeft = lc;
    this.padRight = rc;
    this.pointwise_conv1 = this.registerModule('pointwise_conv1', new t.Conv1d(d, 2 * d, 1, { bias: useBias }, init));
    this.depthwise_conv = this.registerModule('depthwise_conv', new t.Conv1d(d, d, k, { groups: d, bias: useBias }, init));
    let norm: t.BatchNorm1d | t.LayerNorm | t.GroupNorm;
    if (normType === 'batch_norm')
      norm = options.syncBatchNorm ? new t.SyncBatchNorm1d(d, 1e-5, 0.1, init, options.syncBatchNorm) : new t.BatchNorm1d(d, 1e-5, 0.1, init);
    else if (normType === 'layer_norm') norm = new t.LayerNorm(d, 1e-5, init);
    else if (/^group_norm\d+$/.test(normType)) norm = new t.GroupNorm(Number(normType.slice('group_norm'.length)), d, 1e-5, init);
    else throw new RangeError(`conv_norm_type '${String(normType)}' is not supported (batch_norm, layer_norm, group_normN)`);
    this.batch_norm = this.registerModule('batch_norm', norm);
    this.pointwise_conv2 = this.registerModule('pointwise_conv2', new t.Conv1d(d, d, 1, { bias: useBias }, init));
  }

  /** pointwise_conv1 + GLU + zeroing of padded frames: x [B, T, d] -> [B, d, T]. */
  private gated(x: Tensor, padMask: Tensor | null): Tensor {
    const z = t.glu(this.pointwise_conv1.forward(x.transpose(1, 2)), 1); // [B, d, T] -> [B, 2d, T] -> [B, d, T]
    return padMask ? z.maskedFill(padMask.unsqueeze(1), 0.0) : z; // padMask [B, T] -> [B, 1, T]
  }

  /** depthwise output (already padded input) -> norm -> swish -> pointwise_conv2: [B, d, T] -> [B, T, d]. */
  private tail(zPadded: Tensor): Tensor {
    let z = this.depthwise_conv.forward(zPadded); // [B, d, T + lc + rc] -> [B, d, T]
    if (this.batch_norm instanceof t.LayerNorm)
      z = this.batch_norm.forward(z.transpose(1, 2)).transpose(1, 2); // over channels per frame
    else z = this.batch_norm.forward(z); // [B, d, T]
    return this.pointwise_conv2.forward(t.silu(z)).transpose(1, 2); // [B, d, T] -> [B, T, d]
  }

  /** x [B, T, d], padMask [B, T] (true = padding) -> [B, T, d]. */
  forward(x: Tensor, padMask: Tensor | null): Tensor {
    return t.tidy(() => this.tail(t.pad(this.gated(x, padMask), [this.padLeft, this.padRight]))); // [B, d, T] -> [B, d, lc + T + rc]
  }

  /** Zero cache for `batch` streams. */
  initCache(batch: number, dtype: 'float32' | 'float64' = 'float32'): ConvCache {
    return { frames: t.zeros([batch, this.options.dModel, this.padLeft], { dtype }) };
  }

  /**
   * Streaming step: the cache replaces the left zero padding. x [B, T, d] -> y [B, T, d] (or one frame of one stream,
   * [d] -> [d]: the pointwise convs are then matrix-vector products without reshapes); the next cache holds the
   * last `left` frames of [cache, z, right zeros] before the last cacheDropSize frames (NeMo's CausalConv1D.update_cache).
   * The pointwise convs run on frames as rows (t.pointwiseConv1dRows: the same products without the transposes, through
   * the small-product route), the depthwise conv as a product of windows (t.depthwiseConv1dWindows); the same sums
   * as forward's convolutions, in another order.
   */
  step(x: Tensor, padMask: Tensor | null, cache: ConvCache, cacheDropSize: number): { y: Tensor; cache: ConvCache } {
    return t.tidy(() => {
      const vector = x.shape.length === 1;
      const d = this.options.dModel;
      const pw1 = this.pointwise_conv1;
      let g = t.glu(t.pointwiseConv1dRows(x, pw1.weight, pw1.bias), -1); // [B, T, d] -> [B, T, 2d] -> [B, T, d] (or [d])
      if (padMask) g = g.maskedFill(vector ? padMask.view([1]) : padMask.unsqueeze(2), 0.0); // padMask [B, T] -> [B, T, 1] (or [1])
      const gc = vector ? g.view([1, d, 1]) : g.transpose(1, 2); // [B, d, T]
      const z = this.padRight > 0 ? t.pad(gc, [0, this.padRight]) : gc; // [B, d, T + rc]
      const full = t.cat([cache.frames, z], 2); // [B, d, lc + T + rc]
      // Python slicing as in NeMo (a chunk shorter than cacheDropSize leaves a shorter cache, as NeMo does).
      const kept = cacheDropSize > 0 ? t.slice(full, 2, 0, -cacheDropSize) : full;
      const next = this.padLeft > 0 ? t.slice(kept, 2, -this.padLeft, null) : kept.narrow(2, 0, 0); // [B, d, lc]
      const dw = t.depthwiseConv1dWindows(full, this.depthwise_conv.weight, this.depthwise_conv.bias); // [B, d, lc + T + rc] -> [B, d, T]
      const rows = (channels: Tensor): Tensor => (vector ? channels.view([d]) : channels.transpose(1, 2)); // [B, d, T] -> [B, T, d] (or [d])
      const normed = this.batch_norm instanceof t.LayerNorm ? this.batch_norm.forward(rows(dw)) : rows(this.batch_norm.forward(dw)); // [B, T, d]
      const pw2 = this.pointwise_conv2;
      return { y: t.pointwiseConv1dRows(t.silu(normed), pw2.weight, pw2.bias), cache: { frames: next } }; // [B, T, d]
    });
  }
}
