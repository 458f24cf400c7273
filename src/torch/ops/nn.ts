// Neural-network functions: products, convolutions, normalisations, dropout, softmax, embedding.
import { isCpuAutocastOn } from '../autocast.js';
import { call, op } from '../dispatch.js';
import type { Tensor } from '../tensor.js';
import type { Generator } from '../random.js';

const OPS = {
  matmul: op('matmul'),
  mm: op('mm'),
  bmm: op('bmm'),
  linear: op('linear'),
  addmv: op('addmv'),
  mv: op('mv'),
  conv1d: op('conv1d'),
  conv2d: op('conv2d'),
  layerNorm: op('layer_norm'),
  batchNorm: op('batch_norm'),
  groupNorm: op('group_norm'),
  dropout: op('dropout'),
  softmax: op('softmax', 'int'),
  logSoftmax: op('log_softmax', 'int'),
  embedding: op('embedding'),
  bernoulliP: op('bernoulli', 'p'),
  emptyLike: op('empty_like'),
  mulT: op('mul', 'Tensor'),
  mulS: op('mul', 'Scalar'),
  divS: op('div', 'Scalar'),
  einsum: op('einsum'),
  baddbmm: op('baddbmm'),
};

export const matmul = (a: Tensor, b: Tensor): Tensor => call(OPS.matmul, a, b);
export const mm = (a: Tensor, b: Tensor): Tensor => call(OPS.mm, a, b);
export const bmm = (a: Tensor, b: Tensor): Tensor => call(OPS.bmm, a, b);
/**
 * y = x W^T + b. One row (a streaming step of one frame for one stream) goes through a matrix-vector product: ATen's
 * linear calls gemm, which packs the whole weight matrix for that one row, while gemv reads it once (about 2x faster
 * for the encoder's 176-1024 wide layers on one core; BENCHMARKS.md "Streaming latency"). Not under CPU autocast,
 * where linear's lower-precision policy applies and addmv has none.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const shape = x.shape;
  const inFeatures = shape[shape.length - 1]!;
  if (shape.length >= 1 && x.numel === inFeatures && !isCpuAutocastOn() && x.dtype === weight.dtype) {
    const v = x.reshape([inFeatures]);
    const y = bias ? call(OPS.addmv, bias, weight, v, 1, 1) : call(OPS.mv, weight, v);
    v.dispose();
    const out = y.reshape([...shape.slice(0, -1), weight.shape[0]!]);
    y.dispose();
    return out;
  }
  return call(OPS.linear, x, weight, bias ?? null);
}
export const einsum = (equation: string, operands: readonly Tensor[]): Tensor => call(OPS.einsum, equation, operands);
/** beta * x + alpha * (a @ b), batched. */
export const baddbmm = (x: Tensor, a: Tensor, b: Tensor, beta = 1, alpha = 1): Tensor => call(OPS.baddbmm, x, a, b, beta, alpha);

export interface ConvOptions {
  stride?: number | readonly number[];
  padding?: number | readonly number[];
  dilation?: number | readonly number[];
  groups?: number;
}
export function conv1d(x: Tensor, weight: Tensor, bias: Tensor | null = null, o: ConvOptions = {}): Tensor {
  return call(OPS.conv1d, x, weight, bias, o.stride ?? 1, o.padding ?? 0, o.dilation ?? 1, o.groups ?? 1);
}
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, o: ConvOptions = {}): Tensor {
  return call(OPS.conv2d, x, weight, bias, o.stride ?? 1, o.padding ?? 0, o.dilation ?? 1, o.groups ?? 1);
}
/**
 * A normalisation's input in its parameters' precision: under autocast a 16-bit activation meets float32 weights, and
 * the norm runs in float32 (CUDA autocast's policy for layer_norm and group_norm; libtorch 1.13's CPU kernels refuse
 * a bfloat16 input with float32 weights). Otherwise (no weights, or weights of x's type) x itself.
 */
function normInput(x: Tensor, weight: Tensor | null | undefined): Tensor {
  const low = x.dtype === 'bfloat16' || x.dtype === 'float16';
  return low && weight?.dtype === 'float32' ? x.to({ dtype: 'float32' }) : x;
}
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  return call(OPS.layerNorm, normInput(x, weight), normalizedShape, weight, bias, eps, true);
}
export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training: boolean;
  momentum?: number;
  eps?: number;
}
/** Updates runningMean/runningVar in place when training (PyTorch's unbiased running variance). */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, o: BatchNormOptions): Tensor {
  // As torch.nn.functional.batch_norm's _verify_batch_size: aten would silently write NaN into running_var.
  if (o.training) {
    const s = x.shape;
    if (s.length >= 2 && s[0]! * s.slice(2).reduce((a, b) => a * b, 1) === 1) {
      throw new RangeError(`batchNorm: expected more than 1 value per channel when training, got input of shape [${s.join(', ')}]`);
    }
  }
  return call(
    OPS.batchNorm,
    normInput(x, o.weight),
    o.weight ?? null,
    o.bias ?? null,
    runningMean,
    runningVar,
    o.training,
    o.momentum ?? 0.1,
    o.eps ?? 1e-5,
    true,
  );
}
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  return call(OPS.groupNorm, normInput(x, weight), numGroups, weight, bias, eps, true);
}
/**
 * Inverted dropout. With a generator, the mask is drawn from it (reproducible, resumable);
 * without, from libtorch's default generator (as torch.nn.functional.dropout).
 */
export function dropout(x: Tensor, p: number, training: boolean, generator?: Generator): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout probability must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x.alias();
  // p = 1: everything dropped (as ATen: input * 0); the generator path would scale by 1/0 and give NaN.
  if (p === 1) return call(OPS.mulS, x, 0);
  if (generator === undefined) return call(OPS.dropout, x, p, training);
  const empty = call(OPS.emptyLike, x);
  const keepMask = call(OPS.bernoulliP, empty, 1 - p, generator);
  empty.dispose();
  const scaled = call(OPS.divS, keepMask, 1 - p);
  keepMask.dispose();
  const y = call(OPS.mulT, x, scaled);
  scaled.dispose();
  return y;
}
export const softmax = (x: Tensor, dim: number): Tensor => call(OPS.softmax, x, dim, null);
export const logSoftmax = (x: Tensor, dim: number): Tensor => call(OPS.logSoftmax, x, dim, null);
export const embedding = (weight: Tensor, indices: Tensor, paddingIdx = -1): Tensor => call(OPS.embedding, weight, indices, paddingIdx, false, false);
