// Elementwise arithmetic (with broadcasting), math functions, activations, comparisons and logic.
import { isCpuAutocastOn } from '../autocast.js';
import { call, op } from '../dispatch.js';
import { Tensor } from '../tensor.js';

type Operand = Tensor | number;

const OPS = {
  addT: op('add', 'Tensor'),
  addS: op('add', 'Scalar'),
  subT: op('sub', 'Tensor'),
  subS: op('sub', 'Scalar'),
  rsubS: op('rsub', 'Scalar'),
  mulT: op('mul', 'Tensor'),
  mulS: op('mul', 'Scalar'),
  divT: op('div', 'Tensor'),
  divS: op('div', 'Scalar'),
  divTMode: op('div', 'Tensor_mode'),
  powTS: op('pow', 'Tensor_Scalar'),
  powTT: op('pow', 'Tensor_Tensor'),
  powST: op('pow', 'Scalar'),
  remainderS: op('remainder', 'Scalar'),
  remainderT: op('remainder', 'Tensor'),
  neg: op('neg'),
  exp: op('exp'),
  log: op('log'),
  log1p: op('log1p'),
  log10: op('log10'),
  sqrt: op('sqrt'),
  rsqrt: op('rsqrt'),
  abs: op('abs'),
  sign: op('sign'),
  floor: op('floor'),
  ceil: op('ceil'),
  round: op('round'),
  reciprocal: op('reciprocal'),
  sin: op('sin'),
  cos: op('cos'),
  clamp: op('clamp'),
  clampT: op('clamp', 'Tensor'),
  maximum: op('maximum'),
  logaddexp: op('logaddexp'),
  minimum: op('minimum'),
  relu: op('relu'),
  silu: op('silu'),
  sigmoid: op('sigmoid'),
  tanh: op('tanh'),
  gelu: op('gelu'),
  glu: op('glu'),
  softplus: op('softplus'),
  eqT: op('eq', 'Tensor'),
  eqS: op('eq', 'Scalar'),
  neT: op('ne', 'Tensor'),
  neS: op('ne', 'Scalar'),
  ltT: op('lt', 'Tensor'),
  ltS: op('lt', 'Scalar'),
  leT: op('le', 'Tensor'),
  leS: op('le', 'Scalar'),
  gtT: op('gt', 'Tensor'),
  gtS: op('gt', 'Scalar'),
  geT: op('ge', 'Tensor'),
  geS: op('ge', 'Scalar'),
  logicalAnd: op('logical_and'),
  logicalOr: op('logical_or'),
  logicalNot: op('logical_not'),
  logicalXor: op('logical_xor'),
  whereSelf: op('where', 'self'),
  whereScalarOther: op('where', 'ScalarOther'),
  whereScalarSelf: op('where', 'ScalarSelf'),
  whereScalar: op('where', 'Scalar'),
  maskedFillS: op('masked_fill', 'Scalar'),
  maskedFillT: op('masked_fill', 'Tensor'),
  isnan: op('isnan'),
  isinf: op('isinf'),
  isfinite: op('isfinite'),
  nanToNum: op('nan_to_num'),
  addcmul: op('addcmul'),
  lerpS: op('lerp', 'Scalar'),
};

export function add(a: Tensor, b: Operand, alpha = 1): Tensor {
  return typeof b === 'number' ? call(OPS.addS, a, b, alpha) : call(OPS.addT, a, b, alpha);
}
export function sub(a: Operand, b: Operand, alpha = 1): Tensor {
  if (typeof a === 'number') {
    if (typeof b === 'number') throw new TypeError('sub: at least one operand must be a tensor');
    return call(OPS.rsubS, b, a, alpha);
  }
  return typeof b === 'number' ? call(OPS.subS, a, b, alpha) : call(OPS.subT, a, b, alpha);
}
export function mul(a: Tensor, b: Operand): Tensor {
  return typeof b === 'number' ? call(OPS.mulS, a, b) : call(OPS.mulT, a, b);
}
/** True division (integers give floats, as in PyTorch). */
export function div(a: Tensor, b: Operand): Tensor {
  return typeof b === 'number' ? call(OPS.divS, a, b) : call(OPS.divT, a, b);
}
export function floorDivide(a: Tensor, b: Tensor): Tensor {
  return call(OPS.divTMode, a, b, 'floor');
}
export function remainder(a: Tensor, b: Operand): Tensor {
  return typeof b === 'number' ? call(OPS.remainderS, a, b) : call(OPS.remainderT, a, b);
}
export function pow(a: Operand, b: Operand): Tensor {
  if (typeof a === 'number') {
    if (typeof b === 'number') throw new TypeError('pow: at least one operand must be a tensor');
    return call(OPS.powST, a, b);
  }
  return typeof b === 'number' ? call(OPS.powTS, a, b) : call(OPS.powTT, a, b);
}
export const neg = (x: Tensor): Tensor => call(OPS.neg, x);
export const exp = (x: Tensor): Tensor => call(OPS.exp, x);
export const log = (x: Tensor): Tensor => call(OPS.log, x);
export const log1p = (x: Tensor): Tensor => call(OPS.log1p, x);
export const log10 = (x: Tensor): Tensor => call(OPS.log10, x);
export const sqrt = (x: Tensor): Tensor => call(OPS.sqrt, x);
export const rsqrt = (x: Tensor): Tensor => call(OPS.rsqrt, x);
export const abs = (x: Tensor): Tensor => call(OPS.abs, x);
export const sign = (x: Tensor): Tensor => call(OPS.sign, x);
export const floor = (x: Tensor): Tensor => call(OPS.floor, x);
export const ceil = (x: Tensor): Tensor => call(OPS.ceil, x);
export const round = (x: Tensor): Tensor => call(OPS.round, x);
export const reciprocal = (x: Tensor): Tensor => call(OPS.reciprocal, x);
export const sin = (x: Tensor): Tensor => call(OPS.sin, x);
export const cos = (x: Tensor): Tensor => call(OPS.cos, x);
export function clamp(x: Tensor, min?: number | Tensor | null, max?: number | Tensor | null): Tensor {
  if ((min === undefined || min === null) && (max === undefined || max === null)) {
    throw new TypeError('clamp: give at least one of min and max');
  }
  if (min instanceof Tensor || max instanceof Tensor) {
    if ((min !== undefined && min !== null && !(min instanceof Tensor)) || (max !== undefined && max !== null && !(max instanceof Tensor))) {
      throw new TypeError('clamp: min and max must both be numbers or both be tensors');
    }
    return call(OPS.clampT, x, min ?? null, max ?? null);
  }
  return call(OPS.clamp, x, min ?? null, max ?? null);
}
export const maximum = (a: Tensor, b: Tensor): Tensor => call(OPS.maximum, a, b);
export const minimum = (a: Tensor, b: Tensor): Tensor => call(OPS.minimum, a, b);
/** log(exp(a) + exp(b)), elementwise with broadcasting (-inf + -inf gives -inf). */
export const logaddexp = (a: Tensor, b: Tensor): Tensor => call(OPS.logaddexp, a, b);

export const relu = (x: Tensor): Tensor => call(OPS.relu, x);
/**
 * SiLU / swish: x * sigmoid(x). Under CPU autocast a bfloat16 input is computed in float32 (the result stays float32; the next
 * product casts it back): libtorch 1.13's CPU silu, forward and backward, takes about 2x as long on bfloat16 as on
 * float32, so the feed-forward's activation and product took 9.6 against 4.9 ms at NEST-Small's training shapes
 * (BENCHMARKS.md "Mixed precision"). A float32 op on autocast's lists would do the same; silu is on none of them.
 */
export function silu(x: Tensor): Tensor {
  if (x.dtype !== 'bfloat16' || !isCpuAutocastOn()) return call(OPS.silu, x);
  const up = x.to({ dtype: 'float32' });
  const y = call(OPS.silu, up);
  up.dispose();
  return y;
}
export const sigmoid = (x: Tensor): Tensor => call(OPS.sigmoid, x);
export const tanh = (x: Tensor): Tensor => call(OPS.tanh, x);
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => call(OPS.gelu, x, approximate);
export const softplus = (x: Tensor, beta = 1, threshold = 20): Tensor => call(OPS.softplus, x, beta, threshold);
/** Gated linear unit: splits `dim` in halves a, b and returns a * sigmoid(b). */
export const glu = (x: Tensor, dim = -1): Tensor => call(OPS.glu, x, dim);

function cmp(t: keyof typeof OPS, s: keyof typeof OPS) {
  return (a: Tensor, b: Operand): Tensor => (typeof b === 'number' ? call(OPS[s], a, b) : call(OPS[t], a, b));
}
export const eq = cmp('eqT', 'eqS');
export const ne = cmp('neT', 'neS');
export const lt = cmp('ltT', 'ltS');
export const le = cmp('leT', 'leS');
export const gt = cmp('gtT', 'gtS');
export const ge = cmp('geT', 'geS');
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => call(OPS.logicalAnd, a, b);
export const logicalOr = (a: Tensor, b: Tensor): Tensor => call(OPS.logicalOr, a, b);
export const logicalXor = (a: Tensor, b: Tensor): Tensor => call(OPS.logicalXor, a, b);
export const logicalNot = (a: Tensor): Tensor => call(OPS.logicalNot, a);

/** where(cond, a, b): a where cond is true, else b. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) return call(OPS.whereSelf, cond, a, b);
  if (a instanceof Tensor) return call(OPS.whereScalarOther, cond, a, b);
  if (b instanceof Tensor) return call(OPS.whereScalarSelf, cond, a, b);
  return call(OPS.whereScalar, cond, a, b);
}
export function maskedFill(x: Tensor, mask: Tensor, value: Operand): Tensor {
  // libtorch 1.13 accepts a non-bool mask and silently fills nothing (float) or warns (uint8): refuse it.
  if (mask.dtype !== 'bool') throw new TypeError(`maskedFill: the mask must be a bool tensor, got ${mask.dtype}`);
  return typeof value === 'number' ? call(OPS.maskedFillS, x, mask, value) : call(OPS.maskedFillT, x, mask, value);
}
export const isnan = (x: Tensor): Tensor => call(OPS.isnan, x);
export const isinf = (x: Tensor): Tensor => call(OPS.isinf, x);
export const isfinite = (x: Tensor): Tensor => call(OPS.isfinite, x);
export const nanToNum = (x: Tensor, nan = 0, posinf?: number, neginf?: number): Tensor => call(OPS.nanToNum, x, nan, posinf ?? null, neginf ?? null);
/** x + value * a * b */
export const addcmul = (x: Tensor, a: Tensor, b: Tensor, value = 1): Tensor => call(OPS.addcmul, x, a, b, value);
export const lerp = (a: Tensor, b: Tensor, weight: number): Tensor => call(OPS.lerpS, a, b, weight);
