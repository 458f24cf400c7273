// Neural-network functions: products, convolutions, normalisations, dropout, softmax, embedding.
import { isCpuAutocastOn } from '../autocast.js';
import { call, callInPlace, op } from '../dispatch.js';
import { scalarTypeCode } from '../dtype.js';
import { native, type NativeTensor } from '../native.js';
import { keep } from '../scope.js';
import { Tensor } from '../tensor.js';
import type { Generator } from '../random.js';
import { rand, zeros } from './creation.js';
import { logicalNot } from './elementwise.js';
import { all, any } from './reduction.js';

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
  mulT: op('mul', 'Tensor'),
  mulS: op('mul', 'Scalar'),
  divS: op('div', 'Scalar'),
  einsum: op('einsum'),
  baddbmm: op('baddbmm'),
  contiguous: op('contiguous'),
  addInPlace: op('add_', 'Tensor'),
  unfold: op('unfold'),
  view: op('view'),
  unsqueeze: op('unsqueeze'),
  add: op('add', 'Tensor'),
  ltS: op('lt', 'Scalar'),
  select: op('select', 'int'),
  reshape: op('reshape'),
  permute: op('permute'),
};

export const matmul = (a: Tensor, b: Tensor): Tensor => call(OPS.matmul, a, b);
export const mm = (a: Tensor, b: Tensor): Tensor => call(OPS.mm, a, b);
export const bmm = (a: Tensor, b: Tensor): Tensor => call(OPS.bmm, a, b);

/**
 * a [..., m, k] @ b [..., k, n] for batches of small matrices (3-D or 4-D, the same batch shape; attention's scores
 * and weighted values). With gradients and CPU autocast off, in one native call (batchedProducts): float32
 * matrices of up to 16 rows (a streaming step's query frames) through the small-product kernel reading b in place
 * (see linear; useSmallProductKernel turns it off), others through one BLAS gemm per matrix (ATen's bmm on the CPU
 * spends about 1-2 us per matrix on views and checks, 1.6-1.8x the time of this route for the 64 matrices of 16
 * batched streams' scores; bench/batched-products.js). Otherwise, and wherever the native route does not apply (it
 * falls back itself: broadcasting, an operand without a unit stride, other dtypes or devices), ATen's matmul.
 */
export function batchedMatmul(a: Tensor, b: Tensor): Tensor {
  if (native.isGradEnabled() || isCpuAutocastOn()) return call(OPS.matmul, a, b);
  return new Tensor(native.batchedProducts(a.native, b.native, smallProductKernelOn));
}
/** Products of at most this many rows use the small-product kernel or the weight's transposed copy (see linear). */
export const SMALL_PRODUCT_ROWS = 64;

/**
 * A tensor computed from `source` by `make` on first use (a linear weight's transposed or packed copy, a mask's
 * softmax bias) and remade when the source was written in place (ATen's version counter) or assigned, or when a
 * derived tensor of another kind is asked for. Cached on the source (Tensor.derived) and disposed with it; owned by no
 * scope.
 */
function derivedTensor(source: Tensor, kind: string, make: () => Tensor): Tensor {
  const version = source.version;
  const assignments = source.assignments;
  const memo = source.derived;
  if (memo && memo.kind === kind && memo.version === version && memo.assignments === assignments) return memo.tensor;
  const copy = keep(make());
  source.setDerived({ kind, tensor: copy, version, assignments });
  return copy;
}

/** W^T ([in, out], contiguous) of a linear weight W [out, in] (or of a kernel-1 conv1d weight [out, in, 1]), cached. */
export function transposedWeight(weight: Tensor): Tensor {
  return derivedTensor(weight, 'transposed', () => {
    const [out, inFeatures] = weight.shape as [number, number];
    const matrix = weight.shape.length === 2 ? null : weight.view([out, inFeatures]); // [out, in, 1] -> [out, in]
    const view = (matrix ?? weight).transpose(0, 1);
    const wt = call(OPS.contiguous, view);
    view.dispose();
    matrix?.dispose();
    return wt;
  });
}

/** The small-product kernel's packed copy of a linear (or kernel-1 conv1d) weight, cached (see linear). */
function packedWeight(weight: Tensor): Tensor {
  return derivedTensor(weight, 'packed', () => new Tensor(native.packWeight(weight.native)));
}

/**
 * The small-product kernel this CPU runs (native/src/small-products.cc: 'avx512' or 'avx2'), or null where linear keeps
 * ATen's routes (no such CPU, or STREAMNEST_SMALL_PRODUCTS=off; =avx2 picks the AVX2 kernel on an AVX-512 CPU).
 */
export const SMALL_PRODUCT_KERNEL = native.smallProductKernel();
let smallProductKernelOn = SMALL_PRODUCT_KERNEL !== null;

/**
 * Turns the small-product route on or off for this process (on only where there is a kernel) and returns whether it
 * was on: for comparing the routes in one process (tests, bench/); STREAMNEST_SMALL_PRODUCTS=off does it for a run.
 */
export function useSmallProductKernel(on: boolean): boolean {
  const was = smallProductKernelOn;
  smallProductKernelOn = on && SMALL_PRODUCT_KERNEL !== null;
  return was;
}

/**
 * Whether a product of `rows` rows goes through the small-product kernel (see linear): 1 to SMALL_PRODUCT_ROWS rows,
 * gradients off, CPU autocast off, float32 x and weight (and bias) on the CPU, a kernel for this CPU.
 */
function viaSmallProductKernel(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, rows: number): boolean {
  return (
    smallProductKernelOn &&
    rows >= 1 &&
    rows <= SMALL_PRODUCT_ROWS &&
    !native.isGradEnabled() &&
    !isCpuAutocastOn() &&
    x.dtype === 'float32' &&
    weight.dtype === 'float32' &&
    weight.device === 'cpu' &&
    x.device === 'cpu' &&
    (!bias || (bias.dtype === 'float32' && bias.device === 'cpu'))
  );
}

/** x [..., in] W^T + b -> [..., out] through the small-product kernel over W's packed copy (no autograd). */
function smallProducts(x: Tensor, weight: Tensor, bias: Tensor | null | undefined): Tensor {
  return new Tensor(native.packedProducts(x.native, packedWeight(weight).native, weight.shape[0]!, bias ? bias.native : null));
}

/** Products of 1 to this many rows with gradients off go through one matrix-vector product per row (see linear). */
export const FEW_ROWS = 3;

/**
 * Whether a product of `rows` rows goes through one matrix-vector product per row (native rowProducts; see linear):
 * 1 to FEW_ROWS rows, gradients off, CPU autocast off, x in the weight's dtype, on the CPU.
 */
function viaRowProducts(x: Tensor, weight: Tensor, rows: number): boolean {
  return rows >= 1 && rows <= FEW_ROWS && !native.isGradEnabled() && !isCpuAutocastOn() && x.dtype === weight.dtype && weight.device === 'cpu';
}

/** x [..., in] W^T + b -> [..., out] as one matrix-vector product per row, in one native call (no autograd). */
function rowProducts(x: Tensor, weight: Tensor, bias: Tensor | null | undefined): Tensor {
  return new Tensor(native.rowProducts(weight.native, x.native, bias ? bias.native : null));
}

/**
 * Whether a product of `rows` rows of x with weight goes through the weight's transposed copy (see linear): 2 to
 * SMALL_PRODUCT_ROWS rows, no gradient flowing to the weight, x in the weight's dtype, CPU autocast off.
 */
function viaTransposedCopy(x: Tensor, weight: Tensor, rows: number): boolean {
  return rows > 1 && rows <= SMALL_PRODUCT_ROWS && !isCpuAutocastOn() && x.dtype === weight.dtype && (!native.isGradEnabled() || !weight.requiresGrad);
}

/** x @ transposedWeight(weight) (+ bias, in place on the fresh product): [..., in] -> [..., out]. */
function productWithTransposedCopy(x: Tensor, weight: Tensor, bias: Tensor | null | undefined): Tensor {
  const y = call(OPS.matmul, x, transposedWeight(weight)); // [..., in] @ [in, out] -> [..., out]
  return bias ? callInPlace(OPS.addInPlace, y, bias) : y;
}

/**
 * y = x W^T + b. Small products (1 to SMALL_PRODUCT_ROWS rows: streaming steps, greedy decoding) with gradients and
 * autocast off go, in float32 on a CPU with AVX2 or AVX-512, through a kernel of our own over W packed once into
 * column panels (native/src/small-products.cc): 0.3-0.5x ATen's time at 2-64 rows of the encoder's widths over
 * weights read from memory, 0.6-0.8x at one row (BENCHMARKS.md "A small-product kernel"). Without that kernel:
 * products of 2 to SMALL_PRODUCT_ROWS rows for which no gradient flows to W multiply by W's transposed copy instead:
 * ATen's linear asks BLAS for x W^T with W transposed ("TN"), which OpenBLAS packs (copies) whole for every call and
 * which its small-matrix kernels refuse, while x (W^T) ("NN") goes through those kernels without packing: 2-2.5x
 * faster at up to 8 rows of the encoder's widths, still faster at 64 (BENCHMARKS.md "Small products"); and 1 to
 * FEW_ROWS rows with gradients off go through one matrix-vector product per row in one native call (rowProducts): over
 * weights streamed from memory, gemm with 2-3 rows reads them about 1.6x slower than that many matrix-vector products
 * (BENCHMARKS.md "Products of 1-3 rows over cold weights"). One other row goes through a matrix-vector product. The
 * same dot products on every route, summed in another order (differences of float rounding). Under CPU autocast,
 * linear's lower-precision policy applies.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const shape = x.shape;
  const inFeatures = shape[shape.length - 1]!;
  if (shape.length < 1 || isCpuAutocastOn() || x.dtype !== weight.dtype) return call(OPS.linear, x, weight, bias ?? null);
  const rows = x.numel / inFeatures;
  const fits = weight.shape.length === 2 && weight.shape[1] === inFeatures; // otherwise ATen's linear gives the error
  if (fits && viaSmallProductKernel(x, weight, bias, rows)) return smallProducts(x, weight, bias);
  if (fits && viaRowProducts(x, weight, rows)) return rowProducts(x, weight, bias);
  if (fits && viaTransposedCopy(x, weight, rows)) return productWithTransposedCopy(x, weight, bias);
  if (rows === 1) {
    const vector = shape.length === 1; // a vector is multiplied as it is, without the reshapes
    const v = vector ? x : x.reshape([inFeatures]);
    const y = bias ? call(OPS.addmv, bias, weight, v, 1, 1) : call(OPS.mv, weight, v);
    if (vector) return y;
    v.dispose();
    const out = y.reshape([...shape.slice(0, -1), weight.shape[0]!]);
    y.dispose();
    return out;
  }
  return call(OPS.linear, x, weight, bias ?? null);
}

/**
 * conv2d of a one-channel input with weight [C, 1, kh, kw] (+ bias), stride `stride` on both axes and no padding, then
 * max(0, .) when `relu`: x [B, 1, T, F] -> [B, C, T', F'], laid out channels last ([B, T', F', C] in memory). With
 * gradients and CPU autocast off, float32 on the CPU with the small-product kernel: every output position's window
 * is a row of kh * kw values, times the weight packed once (cached on it) through the kernel, the ReLU applied while
 * the rows are in cache. The subsampling's first convolution: oneDNN takes 1.8 ms for 16 streams' step (1 input channel,
 * 63 M multiply-adds) and the ReLU another pass over its 14 MB output (BENCHMARKS.md "Batched streams: the step's
 * small ops"). null where it does not apply (the caller keeps conv2d). The same sums in another order.
 */
export function oneChannelConv2dRows(x: Tensor, weight: Tensor, bias: Tensor | null, stride: number, relu: boolean): Tensor | null {
  const [c, cIn, kh, kw] = weight.shape as [number, number, number, number];
  const [b, xc, time, freq] = x.shape as [number, number, number, number];
  if (weight.shape.length !== 4 || cIn !== 1 || x.shape.length !== 4 || xc !== 1 || time < kh || freq < kw) return null;
  if (!viaSmallProductKernel(x, weight, bias, 1)) return null;
  const plane = call(OPS.select, x, 1, 0); // [B, T, F]
  const overTime = call(OPS.unfold, plane, 1, kh, stride); // [B, T', F, kh]
  const windows = call(OPS.unfold, overTime, 2, kw, stride); // [B, T', F', kh, kw] (views)
  const rows = call(OPS.reshape, windows, [b, windows.shape[1]!, windows.shape[2]!, kh * kw]); // [B, T', F', kh*kw] (a copy)
  for (const v of [plane, overTime, windows]) v.dispose();
  const y = new Tensor(native.packedProducts(rows.native, packedWeight(weight).native, c, bias ? bias.native : null, relu)); // [B, T', F', C]
  rows.dispose();
  const out = call(OPS.permute, y, [0, 3, 1, 2]); // [B, C, T', F'], channels last
  y.dispose();
  return out;
}

/**
 * A kernel-1 conv1d over frames laid out as rows: x [..., in], weight [out, in, 1] -> [..., out], equal to
 * conv1d(x^T, weight)^T without the two transposes, and through linear's small-product route (see linear).
 */
export function pointwiseConv1dRows(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const [out, inFeatures, k] = weight.shape as [number, number, number];
  if (k !== 1 || weight.shape.length !== 3) throw new RangeError(`pointwiseConv1dRows: expected a [out, in, 1] weight, got [${weight.shape.join(', ')}]`);
  const shape = x.shape;
  if (shape[shape.length - 1] !== inFeatures) throw new RangeError(`pointwiseConv1dRows: ${inFeatures} input channels, got rows of ${shape[shape.length - 1]}`);
  const rows = x.numel / inFeatures;
  if (viaSmallProductKernel(x, weight, bias, rows)) return smallProducts(x, weight, bias);
  if (viaRowProducts(x, weight, rows)) return rowProducts(x, weight, bias);
  if (viaTransposedCopy(x, weight, rows)) return productWithTransposedCopy(x, weight, bias);
  const matrix = weight.view([out, inFeatures]);
  const y = linear(x, matrix, bias);
  matrix.dispose();
  return y;
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
/**
 * conv1d(x, weight, bias, groups = C) with no padding, stride 1 and dilation 1, for a depthwise weight [C, 1, K]:
 * x [B, C, L] -> [B, C, L - K + 1], for the few output frames of a streaming step. With gradients and CPU autocast off,
 * float32 on the CPU: a loop of our own per (stream, channel) row (native/src/step-kernels.cc; at 16 streams of
 * 4 frames 0.1x the time of the route below, BENCHMARKS.md "Batched streams: the step's small ops"). Otherwise one
 * batched product of each channel's K-frame windows (unfold, a view) with its kernel, about 2-3x faster than ATen's
 * conv1d at one stream (BENCHMARKS.md "Small products"). The same sums in another order (float rounding apart).
 */
export function depthwiseConv1dWindows(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const [c, perGroup, k] = weight.shape as [number, number, number];
  const [b, channels, length] = x.shape as [number, number, number];
  if (weight.shape.length !== 3 || perGroup !== 1 || x.shape.length !== 3 || channels !== c || length < k)
    throw new RangeError(
      `depthwiseConv1dWindows: x [B, ${c}, >= ${k}] and weight [C, 1, K] expected, got x [${x.shape.join(', ')}] and weight [${weight.shape.join(', ')}]`,
    );
  if (!native.isGradEnabled() && !isCpuAutocastOn()) {
    const y = native.depthwiseWindows(x.native, weight.native, bias ? bias.native : null);
    if (y) return new Tensor(y); // [B, C, L - K + 1]; null: not float32 on the CPU with unit stride along L
  }
  const windows = call(OPS.unfold, x, 2, k, 1); // [B, C, T, K]
  const kernel = call(OPS.view, weight, [c, k, 1]); // [C, K, 1]
  const y = call(OPS.matmul, windows, kernel); // [B, C, T, K] @ [C, K, 1] -> [B, C, T, 1]
  windows.dispose();
  kernel.dispose();
  const out = call(OPS.view, y, [b, c, length - k + 1]); // [B, C, T]
  y.dispose();
  if (!bias) return out;
  const column = call(OPS.unsqueeze, bias, 1); // [C, 1]
  callInPlace(OPS.addInPlace, out, column);
  column.dispose();
  return out;
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
 * Inverted dropout. With a generator, the mask is drawn from it (reproducible, resumable): on the CPU in float32 or
 * bfloat16, one 64-bit draw from the generator keys a counter-based Philox4x32-10 mask made in one pass
 * (native/src/dropout-mask.cc; ATen 1.13's rand, a comparison, a cast and a division took 320 ms of the bf16 NEST-Small
 * training forward, BENCHMARKS.md "Mixed precision"); elsewhere an element is kept where a uniform float32 draw from
 * the generator is below 1 - p. Without a generator, ATen's dropout on libtorch's default generator (the mask
 * torch.nn.functional.dropout draws after the same torch.manual_seed).
 */
export function dropout(x: Tensor, p: number, training: boolean, generator?: Generator): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout probability must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x.alias();
  // p = 1: everything dropped (as ATen: input * 0); the generator path would scale by 1/0 and give NaN.
  if (p === 1) return call(OPS.mulS, x, 0);
  if (generator === undefined) return call(OPS.dropout, x, p, training);
  const scaled = dropoutMask(x, 1 - p, generator); // 1/(1-p) where kept, 0 where dropped, x's shape and dtype
  const y = call(OPS.mulT, x, scaled);
  scaled.dispose();
  return y;
}

/** x's dropout mask with keep probability `keep`, scaled by 1/keep, drawn from `generator`. */
function dropoutMask(x: Tensor, keep: number, generator: Generator): Tensor {
  if (x.device === 'cpu' && (x.dtype === 'float32' || x.dtype === 'bfloat16')) {
    return new Tensor(native.dropoutMask(x.shape, scalarTypeCode(x.dtype), generator.randomUint64(), keep) as NativeTensor);
  }
  const draws = rand(x.shape, { generator, device: x.device });
  const kept = call(OPS.ltS, draws, keep);
  draws.dispose();
  const keepMask = kept.to({ dtype: x.dtype });
  kept.dispose();
  const scaled = call(OPS.divS, keepMask, keep);
  keepMask.dispose();
  return scaled;
}
export const softmax = (x: Tensor, dim: number): Tensor => call(OPS.softmax, x, dim, null);

/**
 * Attention's masked softmax as NeMo computes it: softmax(scores.masked_fill(m, fill), -1).masked_fill(m, 0) with
 * scores [B, h, Tq, Tk], mask [B, Tq, Tk] (bool, true = blocked; the same for every head: m = mask.unsqueeze(1)) and
 * fill a large negative score (NeMo's INF_VAL, -10000).
 * The same values come from adding a bias (fill where blocked, 0 elsewhere; made once per mask and cached on it, so
 * the layers of a step, which share their mask, make it once): a blocked entry's exponent is then its score + fill -
 * the row's maximum instead of fill - that maximum, both far below the smallest exponent float32 represents (for
 * scores much smaller than |fill|), so both give exactly 0; the row maximum and the sum over the open entries are the
 * same, and the second masked_fill has nothing to zero. A query row blocked whole (a padded frame) is multiplied by 0
 * afterwards (NeMo's second masked_fill zeroes it). With gradients the gradient is the same too: the add passes it
 * through, and the blocked entries' zero probabilities give them zero gradient, as the masked_fills do. Why: ATen's
 * masked_fill is a scalar loop on the CPU; the two cost 80 us per layer of 16 batched streams' attention, the add 6
 * (BENCHMARKS.md "Batched streams: the step's small ops"); at NEST-Small's training shapes ([8, 4, 200, 200] per
 * layer) forward + backward took 5.8 ms float32 and 5.6 ms bfloat16 that way, 1.5 and 2.4 ms this way.
 */
export function maskedSoftmax(scores: Tensor, mask: Tensor, fill: number): Tensor {
  if (mask.dtype !== 'bool') throw new TypeError(`maskedSoftmax: the mask must be a bool tensor, got ${mask.dtype}`);
  const bias = softmaxBias(mask, fill, scores.dtype); // [B, 1, Tq, Tk]
  const shifted = call(OPS.add, scores, bias, 1);
  const p = softmax(shifted, -1);
  shifted.dispose();
  const open = openRows(bias, mask); // [B, 1, Tq, 1] 1 or 0, or [0] when no row is blocked whole
  if (open.numel === 0) return p;
  const y = call(OPS.mulT, p, open);
  p.dispose();
  return y;
}

/** The bias maskedSoftmax adds: fill where the mask blocks, 0 elsewhere, [B, 1, Tq, Tk] in `dtype`, cached on the mask. */
function softmaxBias(mask: Tensor, fill: number, dtype: Tensor['dtype']): Tensor {
  return derivedTensor(mask, `softmax bias ${fill} ${dtype}`, () => {
    const m = call(OPS.unsqueeze, mask, 1);
    const asType = m.to({ dtype });
    m.dispose();
    const bias = call(OPS.mulS, asType, fill);
    asType.dispose();
    return bias;
  });
}

/**
 * [B, 1, Tq, 1] in the bias's dtype: 0 for the query rows `mask` blocks whole, 1 for the others; an empty tensor
 * when no row is blocked whole. Cached on the bias (made from the mask, and remade with it).
 */
function openRows(bias: Tensor, mask: Tensor): Tensor {
  return derivedTensor(bias, 'open rows', () => {
    const blocked = all(mask, -1); // [B, Tq]
    const anyBlocked = any(blocked);
    const whole = anyBlocked.item() !== 0;
    anyBlocked.dispose();
    if (!whole) {
      blocked.dispose();
      return zeros([0], { dtype: bias.dtype, device: bias.device });
    }
    const open = logicalNot(blocked);
    blocked.dispose();
    const asType = open.to({ dtype: bias.dtype });
    open.dispose();
    const shaped = call(OPS.view, asType, [asType.size(0), 1, asType.size(1), 1]);
    asType.dispose();
    return shaped;
  });
}
export const logSoftmax = (x: Tensor, dim: number): Tensor => call(OPS.logSoftmax, x, dim, null);
export const embedding = (weight: Tensor, indices: Tensor, paddingIdx = -1): Tensor => call(OPS.embedding, weight, indices, paddingIdx, false, false);
