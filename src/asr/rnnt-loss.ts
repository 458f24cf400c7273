// Provenance: torchaudio.functional.rnnt_loss (Graves 2012 transducer loss, fused log-softmax, `clamp` on each
// utterance's gradient w.r.t. the logits before the reduction) with FastEmit as NeMo's numba RNNT loss defines it
// (nemo/collections/asr/parts/numba/rnnt_loss: cost = (1 + lambda) * -log P, label-transition gradients scaled by
// (1 + lambda), blank-transition gradients not).
//
// Written with ATen ops (no kernel of our own). The lattice recursions run one time row at a time: within a row the
// alpha recursion alpha(t,u) = logaddexp(alpha(t-1,u) + blank(t-1,u), alpha(t,u-1) + emit(t,u-1)) is a running
// log-sum-exp, so each row is one `logcumsumexp` over u once the row is shifted by the cumulative emission scores
// C(t,u) = sum_{k<u} emit(t,k). Alpha and beta are kept in float64 ([B, T, U+1], small); the gradient w.r.t. the
// logits is computed in the forward pass, in place over one [B, T, U+1, V] buffer, as torchaudio does, and handed to
// autograd through a surrogate dot product (its value is zero; its gradient is that buffer times d loss / d cost).
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

export type RnntReduction = 'none' | 'mean' | 'sum';

export interface RnntLossOptions {
  /** Blank index; negative counts from the end (default -1: the last class, NeMo's convention). */
  blank?: number;
  /** Clamp each utterance's gradient w.r.t. the logits to [-clamp, clamp]; <= 0 (default -1) leaves it alone. */
  clamp?: number;
  /** 'mean' (default): mean over the batch; 'sum'; 'none': per-utterance costs [B]. */
  reduction?: RnntReduction;
  /** NeMo's FastEmit regularisation weight (default 0). */
  fastemitLambda?: number;
  /**
   * true (default, torchaudio): `logits` are raw scores and log_softmax is applied here, its gradient included.
   * false: `logits` are already log-probabilities and the gradient is taken w.r.t. them directly.
   */
  fusedLogSoftmax?: boolean;
  /**
   * How the gradient is obtained: 'beta' (default) runs the backward (beta) recursion and writes the gradient in
   * closed form; 'autograd' differentiates the alpha recursion with libtorch's autograd (a cross-check; slower and
   * it holds the autograd graph of the log-softmax). Both give the same numbers.
   */
  gradient?: 'beta' | 'autograd';
}

/** Per-utterance lattice quantities (float64), for tests and decoding diagnostics. */
export interface RnntLattice {
  /** log alpha [B, T, U+1] (finite everywhere; meaningful for t < T_b, u <= U_b). */
  alpha: Tensor;
  /** log P(targets | inputs) [B]. */
  logLikelihood: Tensor;
}

interface CheckedInputs {
  batch: number;
  maxT: number;
  maxU: number;
  classes: number;
  blank: number;
  /** int64 [B] */
  logitLen: Tensor;
  /** int64 [B] */
  targetLen: Tensor;
  /** int64 [B, U], padding replaced by 0 */
  labels: Tensor;
}

/** Validates shapes, lengths and label values (naming the first offending utterance); returns int64 copies. */
function checkInputs(logits: Tensor, targets: Tensor, logitLengths: Tensor, targetLengths: Tensor, blankOpt: number): CheckedInputs {
  if (logits.ndim !== 4) throw new RangeError(`rnntLoss: logits must be [B, T, U+1, V], got [${logits.shape.join(', ')}]`);
  if (logits.dtype !== 'float32' && logits.dtype !== 'float64') throw new TypeError(`rnntLoss: logits must be float32 or float64, got ${logits.dtype}`);
  const [batch, maxT, maxU1, classes] = logits.shape as [number, number, number, number];
  const maxU = maxU1 - 1;
  if (targets.ndim !== 2 || targets.size(0) !== batch || targets.size(1) !== maxU) {
    throw new RangeError(`rnntLoss: targets must be [B, U] = [${batch}, ${maxU}] for logits [${logits.shape.join(', ')}], got [${targets.shape.join(', ')}]`);
  }
  for (const [name, x] of [
    ['targets', targets],
    ['logitLengths', logitLengths],
    ['targetLengths', targetLengths],
  ] as const) {
    if (x.dtype !== 'int32' && x.dtype !== 'int64') throw new TypeError(`rnntLoss: ${name} must be int32 or int64, got ${x.dtype}`);
  }
  if (logitLengths.ndim !== 1 || logitLengths.size(0) !== batch) throw new RangeError(`rnntLoss: logitLengths must be [${batch}]`);
  if (targetLengths.ndim !== 1 || targetLengths.size(0) !== batch) throw new RangeError(`rnntLoss: targetLengths must be [${batch}]`);
  const blank = blankOpt < 0 ? classes + blankOpt : blankOpt;
  if (!Number.isInteger(blank) || blank < 0 || blank >= classes) throw new RangeError(`rnntLoss: blank ${blankOpt} is out of range for ${classes} classes`);
  const tl = logitLengths.toArray();
  const ul = targetLengths.toArray();
  const ys = targets.toArray();
  for (let b = 0; b < batch; b++) {
    const T = tl[b]!;
    const U = ul[b]!;
    if (!(T >= 1 && T <= maxT)) throw new RangeError(`rnntLoss: logitLengths[${b}] = ${T} is outside [1, ${maxT}]`);
    if (!(U >= 0 && U <= maxU)) throw new RangeError(`rnntLoss: targetLengths[${b}] = ${U} is outside [0, ${maxU}]`);
    for (let u = 0; u < U; u++) {
      const y = ys[b * maxU + u]!;
      if (!(y >= 0 && y < classes) || y === blank) {
        throw new RangeError(`rnntLoss: targets[${b}][${u}] = ${y} is ${y === blank ? 'the blank' : `outside [0, ${classes})`}`);
      }
    }
  }
  return t.tidy(() => {
    const logitLen = logitLengths.to({ dtype: 'int64' });
    const targetLen = targetLengths.to({ dtype: 'int64' });
    const valid = t.arange(maxU, undefined, 1, { device: targets.device }).unsqueeze(0).lt(targetLen.unsqueeze(1)); // [B, U]
    const labels = t.where(valid, targets.to({ dtype: 'int64' }), 0); // padding -> class 0 (never used)
    return { batch, maxT, maxU, classes, blank, logitLen, targetLen, labels };
  });
}

/** Log-probabilities of blank [B, T, U+1] and of the next label emit [B, T, U+1] (last column: 0, unused), float64. */
function transitionScores(logProbs: Tensor, c: CheckedInputs): { blank: Tensor; emit: Tensor } {
  return t.tidy(() => {
    const { batch, maxT, maxU } = c;
    const blank = t.select(logProbs, 3, c.blank).to({ dtype: 'float64' }); // [B, T, U+1]
    const idx = c.labels.view([batch, 1, maxU, 1]).expand([batch, maxT, maxU, 1]); // [B, T, U, 1]
    const labelScores = t
      .gather(t.narrow(logProbs, 2, 0, maxU), 3, idx)
      .squeeze(3)
      .to({ dtype: 'float64' }); // [B, T, U]
    const emit = t.pad(labelScores, [0, 1]); // [B, T, U+1]
    return { blank, emit };
  });
}

/**
 * The forward recursion in shifted form: with C(t,u) = sum_{k<u} emit(t,k), a(t,u) = alpha(t,u) - C(t,u) satisfies
 * a(0,.) = 0 and a(t,.) = logcumsumexp_u(a(t-1,.) + E(t,.)), E(t,u) = C(t-1,u) + blank(t-1,u) - C(t,u).
 * Differentiable (autograd records it when the scores require gradients).
 */
function shiftedAlpha(blank: Tensor, emit: Tensor): { a: Tensor; cum: Tensor } {
  return t.tidy(() => {
    const [batch, maxT, maxU1] = blank.shape as [number, number, number];
    const cum = t.cat([t.zeros([batch, maxT, 1], { dtype: 'float64', device: blank.device }), t.cumsum(t.narrow(emit, 2, 0, maxU1 - 1), 2)], 2); // [B, T, U+1]
    const rows: Tensor[] = [t.zeros([batch, maxU1], { dtype: 'float64', device: blank.device })];
    if (maxT > 1) {
      const step = t
        .narrow(cum, 1, 0, maxT - 1)
        .add(t.narrow(blank, 1, 0, maxT - 1))
        .sub(t.narrow(cum, 1, 1, maxT - 1)); // E [B, T-1, U+1]
      for (let i = 1; i < maxT; i++) rows.push(t.logcumsumexp(rows[i - 1]!.add(t.select(step, 1, i - 1)), 1)); // [B, U+1]
    }
    return { a: t.stack(rows, 1), cum }; // [B, T, U+1]
  });
}

/** log P(y|x) [B] from the shifted alpha: alpha(T_b-1, U_b) + blank(T_b-1, U_b). */
function finalLogLikelihood(a: Tensor, cum: Tensor, blank: Tensor, c: CheckedInputs): Tensor {
  return t.tidy(() => {
    const total = a.add(cum).add(blank); // [B, T, U+1]: alpha + blank
    const tIdx = c.logitLen
      .sub(1)
      .view([c.batch, 1, 1])
      .expand([c.batch, 1, c.maxU + 1]); // [B, 1, U+1]
    const atT = t.gather(total, 1, tIdx).squeeze(1); // [B, U+1]
    return t.gather(atT, 1, c.targetLen.view([c.batch, 1])).squeeze(1); // [B]
  });
}

/**
 * The backward recursion in the same shifted form, b(t,u) = beta(t,u) + C(t,u): b(t,.) = reverse-logcumsumexp_u of
 * x(t,.), x(t,u) = logaddexp(b(t+1,u) + F(t,u), terminal(t,u)), F(t,u) = blank(t,u) + C(t,u) - C(t+1,u), and terminal
 * = blank(T_b-1,U_b) + C(T_b-1,U_b) at (T_b-1, U_b), -inf elsewhere. x is blank(t,u) + beta(t+1,u) + C(t,u): the
 * blank transition's share. Returns b and x, [B, T, U+1] each (-inf outside each utterance's lattice).
 */
function shiftedBeta(blank: Tensor, cum: Tensor, c: CheckedInputs): { b: Tensor; x: Tensor } {
  return t.noGrad(() =>
    t.tidy(() => {
      const { batch, maxT, maxU } = c;
      const dev = blank.device;
      const flipU = (z: Tensor): Tensor => t.flip(z, [-1]);
      const tPos = t.arange(maxT, undefined, 1, { device: dev }).view([1, maxT, 1]);
      const uPos = t.arange(maxU + 1, undefined, 1, { device: dev }).view([1, 1, maxU + 1]);
      const atEnd = t.logicalAnd(tPos.eq(c.logitLen.sub(1).view([batch, 1, 1])), uPos.eq(c.targetLen.view([batch, 1, 1]))); // [B, T, U+1]
      const terminal = flipU(t.where(atEnd, blank.add(cum), Number.NEGATIVE_INFINITY)); // reversed u
      const nextCum = t.pad(t.narrow(cum, 1, 1, maxT - 1), [0, 0, 0, 1]); // C(t+1, u), row T-1 unused (b(T) = -inf)
      const step = flipU(blank.add(cum).sub(nextCum)); // F, reversed u
      let next = t.full([batch, maxU + 1], Number.NEGATIVE_INFINITY, { dtype: 'float64', device: dev }); // b(T, .)
      const bRows: Tensor[] = new Array(maxT);
      const xRows: Tensor[] = new Array(maxT);
      for (let i = maxT - 1; i >= 0; i--) {
        const x = t.logaddexp(next.add(t.select(step, 1, i)), t.select(terminal, 1, i)); // [B, U+1], reversed u
        next = t.logcumsumexp(x, 1);
        xRows[i] = x;
        bRows[i] = next;
      }
      return { b: flipU(t.stack(bRows, 1)), x: flipU(t.stack(xRows, 1)) };
    }),
  );
}

function inPlace(name: string, self: Tensor, ...rest: (Tensor | number)[]): void {
  t.call(t.op(name), self, ...rest).dispose(); // the returned handle aliases `self`
}

/**
 * d cost / d logits for each utterance ([B, T, U+1, V], logits' dtype), built in place over the log-softmax buffer:
 * softmax * (occ_blank + (1+lambda) occ_emit) - onehot(blank) occ_blank - onehot(label) (1+lambda) occ_emit, with
 * occ_blank = exp(alpha + blank + beta(t+1) - ll) and occ_emit = exp(alpha + emit + beta(u+1) - ll); clamped if asked.
 */
function closedFormGradient(logProbs: Tensor, a: Tensor, bt: { b: Tensor; x: Tensor }, ll: Tensor, c: CheckedInputs, o: Required<RnntLossOptions>): Tensor {
  return t.noGrad(() =>
    t.tidy(() => {
      const { batch, maxT, maxU } = c;
      const llB = ll.view([batch, 1, 1]);
      const occBlank = t.exp(a.add(bt.x).sub(llB)); // [B, T, U+1]
      const bNextU = t.pad(t.narrow(bt.b, 2, 1, maxU), [0, 1], 'constant', Number.NEGATIVE_INFINITY); // b(t, u+1)
      const occEmit = t.exp(a.add(bNextU).sub(llB)).mul(1 + o.fastemitLambda); // [B, T, U+1], 0 at u >= U_b
      const dtype = logProbs.dtype;
      let grad: Tensor;
      if (o.fusedLogSoftmax) {
        grad = logProbs; // reused (it is ours): exp in place gives the softmax
        inPlace('exp_', grad);
        grad.mul_(occBlank.add(occEmit).to({ dtype }).unsqueeze(3));
      } else {
        grad = t.zerosLike(logProbs);
      }
      const blankIdx = t.full([batch, maxT, maxU + 1, 1], c.blank, { dtype: 'int64', device: a.device });
      const labelIdx = t
        .pad(c.labels, [0, 1])
        .view([batch, 1, maxU + 1, 1])
        .expand([batch, maxT, maxU + 1, 1]);
      const idx = t.cat([blankIdx, labelIdx], 3); // [B, T, U+1, 2]
      const src = t.stack([occBlank.neg(), occEmit.neg()], 3).to({ dtype }); // [B, T, U+1, 2]
      inPlace('scatter_add_', grad, 3, idx, src);
      if (o.clamp > 0) inPlace('clamp_', grad, -o.clamp, o.clamp);
      return grad;
    }),
  );
}

/** The same gradient by autograd through log_softmax, the gathers and the alpha recursion (see `gradient`). */
function autogradGradient(logits: Tensor, c: CheckedInputs, o: Required<RnntLossOptions>): Tensor {
  return t.enableGrad(() =>
    t.tidy(() => {
      const leaf = logits.detach();
      leaf.requiresGrad = true;
      const logProbs = o.fusedLogSoftmax ? t.logSoftmax(leaf, -1) : leaf;
      const s = transitionScores(logProbs, c);
      // FastEmit: the label scores' gradient is scaled by (1 + lambda), their value left alone
      const emit = o.fastemitLambda === 0 ? s.emit : s.emit.mul(1 + o.fastemitLambda).sub(s.emit.detach().mul(o.fastemitLambda));
      const { a, cum } = shiftedAlpha(s.blank, emit);
      const ll = finalLogLikelihood(a, cum, s.blank, c);
      const [g] = t.grad(ll.sum().neg(), [leaf]);
      if (!g) throw new Error('rnntLoss: autograd gave no gradient');
      if (o.clamp > 0) return t.clamp(g, -o.clamp, o.clamp);
      return g;
    }),
  );
}

/** log alpha and log P(y|x) of each utterance (float64, no gradient). */
export function rnntLattice(
  logits: Tensor,
  targets: Tensor,
  logitLengths: Tensor,
  targetLengths: Tensor,
  o: Pick<RnntLossOptions, 'blank' | 'fusedLogSoftmax'> = {},
): RnntLattice {
  return t.noGrad(() =>
    t.tidy(() => {
      const c = checkInputs(logits, targets, logitLengths, targetLengths, o.blank ?? -1);
      const s = transitionScores(o.fusedLogSoftmax === false ? logits : t.logSoftmax(logits, -1), c);
      const { a, cum } = shiftedAlpha(s.blank, s.emit);
      return { alpha: a.add(cum), logLikelihood: finalLogLikelihood(a, cum, s.blank, c) };
    }),
  );
}

function resolveOptions(o: RnntLossOptions): Required<RnntLossOptions> {
  const r: Required<RnntLossOptions> = {
    blank: o.blank ?? -1,
    clamp: o.clamp ?? -1,
    reduction: o.reduction ?? 'mean',
    fastemitLambda: o.fastemitLambda ?? 0,
    fusedLogSoftmax: o.fusedLogSoftmax ?? true,
    gradient: o.gradient ?? 'beta',
  };
  if (!['none', 'mean', 'sum'].includes(r.reduction)) throw new RangeError(`rnntLoss: reduction must be 'none', 'mean' or 'sum', got '${String(r.reduction)}'`);
  if (!(r.fastemitLambda >= 0)) throw new RangeError(`rnntLoss: fastemitLambda must be >= 0, got ${r.fastemitLambda}`);
  if (!Number.isFinite(r.clamp)) throw new RangeError(`rnntLoss: clamp must be a finite number, got ${r.clamp}`);
  if (r.gradient !== 'beta' && r.gradient !== 'autograd') throw new RangeError(`rnntLoss: gradient must be 'beta' or 'autograd', got '${String(r.gradient)}'`);
  return r;
}

/**
 * RNN-T loss. logits [B, T, U+1, V] (joint output), targets [B, U] (padded), logitLengths [B] in [1, T] and
 * targetLengths [B] in [0, U], int32 or int64. Returns the reduced cost (or [B] costs) in the logits' dtype;
 * differentiable w.r.t. logits when they require gradients. Memory: one extra [B, T, U+1, V] buffer (the gradient)
 * is held until backward, plus float64 [B, T, U+1] lattices.
 */
export function rnntLoss(logits: Tensor, targets: Tensor, logitLengths: Tensor, targetLengths: Tensor, options: RnntLossOptions = {}): Tensor {
  const o = resolveOptions(options);
  return t.tidy(() => {
    const c = checkInputs(logits, targets, logitLengths, targetLengths, o.blank);
    const wantGrad = logits.requiresGrad && t.isGradEnabled();
    const { costs, grad } = t.noGrad(() => {
      const logProbs = o.fusedLogSoftmax ? t.logSoftmax(logits, -1) : logits.alias();
      const s = transitionScores(logProbs, c);
      const { a, cum } = shiftedAlpha(s.blank, s.emit);
      const ll = finalLogLikelihood(a, cum, s.blank, c); // [B] float64
      const costs = ll.mul(-(1 + o.fastemitLambda)).to({ dtype: logits.dtype });
      if (!wantGrad) return { costs, grad: null };
      if (o.gradient === 'autograd') return { costs, grad: autogradGradient(logits, c, o) };
      const beta = shiftedBeta(s.blank, cum, c);
      return { costs, grad: closedFormGradient(logProbs, a, beta, ll, c, o) };
    });
    let out = costs;
    if (grad) {
      // value 0, gradient `grad` per utterance: costs + <logits_b, grad_b> - <logits_b, grad_b>.detach()
      const n = logits.numel / c.batch;
      const dot = t.bmm(logits.reshape([c.batch, 1, n]), grad.view([c.batch, n, 1])).view([c.batch]); // [B]
      out = costs.add(dot.sub(dot.detach()));
    }
    if (o.reduction === 'mean') return out.mean();
    if (o.reduction === 'sum') return out.sum();
    return out;
  });
}
