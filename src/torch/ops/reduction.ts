// Reductions and scans: sum, mean, var/std, max/min (with indices), arg*, topk, cumsum, norms.
import { scalarTypeCode, type DType } from '../dtype.js';
import { call, callMany, op } from '../dispatch.js';
import type { Tensor } from '../tensor.js';

type Dims = number | readonly number[];

const OPS = {
  sum: op('sum'),
  sumDim: op('sum', 'dim_IntList'),
  mean: op('mean'),
  meanDim: op('mean', 'dim'),
  varCorr: op('var', 'correction'),
  stdCorr: op('std', 'correction'),
  max: op('max'),
  maxDim: op('max', 'dim'),
  min: op('min'),
  minDim: op('min', 'dim'),
  amax: op('amax'),
  amin: op('amin'),
  argmax: op('argmax'),
  argmin: op('argmin'),
  topk: op('topk'),
  sort: op('sort'),
  cumsum: op('cumsum'),
  logsumexp: op('logsumexp'),
  logcumsumexp: op('logcumsumexp'),
  normScalarOpt: op('norm', 'ScalarOpt_dim'),
  all: op('all'),
  allDim: op('all', 'dim'),
  any: op('any'),
  anyDim: op('any', 'dim'),
  countNonzero: op('count_nonzero'),
  prod: op('prod'),
};

export interface ReduceOptions {
  keepdim?: boolean;
  dtype?: DType;
}

export function sum(x: Tensor, dim?: Dims, o: ReduceOptions = {}): Tensor {
  const dt = o.dtype ? scalarTypeCode(o.dtype) : null;
  if (dim === undefined) return call(OPS.sum, x, dt);
  return call(OPS.sumDim, x, dim, o.keepdim ?? false, dt);
}
export function mean(x: Tensor, dim?: Dims, o: ReduceOptions = {}): Tensor {
  const dt = o.dtype ? scalarTypeCode(o.dtype) : null;
  if (dim === undefined) return call(OPS.mean, x, dt);
  return call(OPS.meanDim, x, dim, o.keepdim ?? false, dt);
}
export interface VarOptions {
  keepdim?: boolean;
  /** 1 (default): unbiased (Bessel); 0: population. */
  correction?: number;
}
export function variance(x: Tensor, dim?: Dims, o: VarOptions = {}): Tensor {
  return call(OPS.varCorr, x, dim ?? null, o.correction ?? 1, o.keepdim ?? false);
}
export function std(x: Tensor, dim?: Dims, o: VarOptions = {}): Tensor {
  return call(OPS.stdCorr, x, dim ?? null, o.correction ?? 1, o.keepdim ?? false);
}
/** Max over everything (a 0-d tensor). */
export const maxAll = (x: Tensor): Tensor => call(OPS.max, x);
export const minAll = (x: Tensor): Tensor => call(OPS.min, x);
/** Max along a dimension: { values, indices }. */
export function max(x: Tensor, dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
  const [values, indices] = callMany(OPS.maxDim, x, dim, keepdim) as [Tensor, Tensor];
  return { values, indices };
}
export function min(x: Tensor, dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
  const [values, indices] = callMany(OPS.minDim, x, dim, keepdim) as [Tensor, Tensor];
  return { values, indices };
}
export const amax = (x: Tensor, dim: Dims, keepdim = false): Tensor => call(OPS.amax, x, dim, keepdim);
export const amin = (x: Tensor, dim: Dims, keepdim = false): Tensor => call(OPS.amin, x, dim, keepdim);
export const argmax = (x: Tensor, dim?: number, keepdim = false): Tensor => call(OPS.argmax, x, dim ?? null, keepdim);
export const argmin = (x: Tensor, dim?: number, keepdim = false): Tensor => call(OPS.argmin, x, dim ?? null, keepdim);
export function topk(x: Tensor, k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
  const [values, indices] = callMany(OPS.topk, x, k, dim, largest, sorted) as [Tensor, Tensor];
  return { values, indices };
}
export function sort(x: Tensor, dim = -1, descending = false): { values: Tensor; indices: Tensor } {
  const [values, indices] = callMany(OPS.sort, x, dim, descending) as [Tensor, Tensor];
  return { values, indices };
}
export const cumsum = (x: Tensor, dim: number, dtype?: DType): Tensor => call(OPS.cumsum, x, dim, dtype ? scalarTypeCode(dtype) : null);
export const logsumexp = (x: Tensor, dim: Dims, keepdim = false): Tensor => call(OPS.logsumexp, x, dim, keepdim);
/** Running log(sum(exp)) along dim: out[i] = log(exp(x[0]) + ... + exp(x[i])) (-inf entries allowed). */
export const logcumsumexp = (x: Tensor, dim: number): Tensor => call(OPS.logcumsumexp, x, dim);
/** p-norm along dims (all dims when omitted). */
export const norm = (x: Tensor, p = 2, dim?: Dims, keepdim = false): Tensor => call(OPS.normScalarOpt, x, p, dim ?? [], keepdim);
export const all = (x: Tensor, dim?: number, keepdim = false): Tensor => (dim === undefined ? call(OPS.all, x) : call(OPS.allDim, x, dim, keepdim));
export const any = (x: Tensor, dim?: number, keepdim = false): Tensor => (dim === undefined ? call(OPS.any, x) : call(OPS.anyDim, x, dim, keepdim));
export const countNonzero = (x: Tensor, dim?: number): Tensor => call(OPS.countNonzero, x, dim ?? null);
export const prod = (x: Tensor): Tensor => call(OPS.prod, x, null);
