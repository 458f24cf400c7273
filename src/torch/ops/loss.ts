// Losses: cross-entropy, NLL, CTC, MSE. Reductions as in torch.nn.functional.
import { call, op } from '../dispatch.js';
import type { Tensor } from '../tensor.js';

export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };
function reductionCode(r: Reduction): number {
  const c = REDUCTION[r];
  if (c === undefined) throw new RangeError(`reduction must be 'none', 'mean' or 'sum', got '${String(r)}'`);
  return c;
}

const OPS = {
  crossEntropy: op('cross_entropy_loss'),
  nll: op('nll_loss_nd'),
  ctcT: op('ctc_loss', 'Tensor'),
  mse: op('mse_loss'),
  l1: op('l1_loss'),
};

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
  labelSmoothing?: number;
}
/** logits [N, C, ...] against class indices [N, ...] (int64). */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  return call(OPS.crossEntropy, logits, target, o.weight ?? null, reductionCode(o.reduction ?? 'mean'), o.ignoreIndex ?? -100, o.labelSmoothing ?? 0);
}
/** log-probabilities [N, C, ...] against class indices [N, ...]. */
export function nllLoss(logProbs: Tensor, target: Tensor, o: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  return call(OPS.nll, logProbs, target, o.weight ?? null, reductionCode(o.reduction ?? 'mean'), o.ignoreIndex ?? -100);
}
export interface CtcOptions {
  blank?: number;
  reduction?: Reduction;
  zeroInfinity?: boolean;
}
/**
 * CTC loss. logProbs [T, N, C] (log_softmax output), targets [N, S] padded or concatenated 1-D,
 * inputLengths [N] and targetLengths [N] as int64 tensors. 'mean' divides each loss by its target length, then averages.
 */
export function ctcLoss(logProbs: Tensor, targets: Tensor, inputLengths: Tensor, targetLengths: Tensor, o: CtcOptions = {}): Tensor {
  return call(OPS.ctcT, logProbs, targets, inputLengths, targetLengths, o.blank ?? 0, reductionCode(o.reduction ?? 'mean'), o.zeroInfinity ?? false);
}
export const mseLoss = (a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor => call(OPS.mse, a, b, reductionCode(reduction));
export const l1Loss = (a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor => call(OPS.l1, a, b, reductionCode(reduction));
