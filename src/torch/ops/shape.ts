// Shape and indexing: views, permutations, joins and splits, gathers and scatters, padding, triangles.
import { call, callMany, op } from '../dispatch.js';
import type { Tensor } from '../tensor.js';

const OPS = {
  reshape: op('reshape'),
  view: op('view'),
  permute: op('permute'),
  transpose: op('transpose', 'int'),
  contiguous: op('contiguous'),
  unsqueeze: op('unsqueeze'),
  squeeze: op('squeeze'),
  squeezeDim: op('squeeze', 'dim'),
  expand: op('expand'),
  repeat: op('repeat'),
  repeatInterleave: op('repeat_interleave', 'self_int'),
  flatten: op('flatten', 'using_ints'),
  cat: op('cat'),
  stack: op('stack'),
  splitSize: op('split', 'Tensor'),
  splitSizes: op('split_with_sizes'),
  chunk: op('chunk'),
  narrow: op('narrow'),
  select: op('select', 'int'),
  slice: op('slice', 'Tensor'),
  indexSelect: op('index_select'),
  index: op('index', 'Tensor'),
  gather: op('gather'),
  scatter: op('scatter', 'src'),
  scatterValue: op('scatter', 'value'),
  scatterAdd: op('scatter_add'),
  flip: op('flip'),
  roll: op('roll'),
  tril: op('tril'),
  triu: op('triu'),
  constantPad: op('constant_pad_nd'),
  reflectionPad1d: op('reflection_pad1d'),
  reflectionPad2d: op('reflection_pad2d'),
  replicationPad1d: op('replication_pad1d'),
  nonzero: op('nonzero'),
  clone: op('clone'),
  detach: op('detach'),
  toDtype: op('to', 'dtype'),
  toDevice: op('to', 'device'),
  unfold: op('unfold'),
  asStrided: op('as_strided'),
  diagonal: op('diagonal'),
};

export const reshape = (x: Tensor, shape: readonly number[]): Tensor => call(OPS.reshape, x, shape);
/** A view (no copy); fails for non-contiguous layouts where reshape would copy. */
export const view = (x: Tensor, shape: readonly number[]): Tensor => call(OPS.view, x, shape);
export const permute = (x: Tensor, dims: readonly number[]): Tensor => call(OPS.permute, x, dims);
export const transpose = (x: Tensor, d0: number, d1: number): Tensor => call(OPS.transpose, x, d0, d1);
export const contiguous = (x: Tensor): Tensor => call(OPS.contiguous, x);
export const unsqueeze = (x: Tensor, dim: number): Tensor => call(OPS.unsqueeze, x, dim);
export const squeeze = (x: Tensor, dim?: number): Tensor => (dim === undefined ? call(OPS.squeeze, x) : call(OPS.squeezeDim, x, dim));
/** Broadcast view; -1 keeps a dimension's size. */
export const expand = (x: Tensor, shape: readonly number[]): Tensor => call(OPS.expand, x, shape, false);
export const repeat = (x: Tensor, repeats: readonly number[]): Tensor => call(OPS.repeat, x, repeats);
export const repeatInterleave = (x: Tensor, repeats: number, dim?: number): Tensor => call(OPS.repeatInterleave, x, repeats, dim ?? null);
export const flatten = (x: Tensor, startDim = 0, endDim = -1): Tensor => call(OPS.flatten, x, startDim, endDim);
export function cat(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new RangeError('cat: need at least one tensor');
  return call(OPS.cat, xs, dim);
}
export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new RangeError('stack: need at least one tensor');
  return call(OPS.stack, xs, dim);
}
/** split into pieces of `size` (last may be smaller) or of the listed sizes. */
export function split(x: Tensor, size: number | readonly number[], dim = 0): Tensor[] {
  return typeof size === 'number' ? callMany(OPS.splitSize, x, size, dim) : callMany(OPS.splitSizes, x, size, dim);
}
export const chunk = (x: Tensor, chunks: number, dim = 0): Tensor[] => callMany(OPS.chunk, x, chunks, dim);
/** View of `length` entries along dim from `start`. */
export const narrow = (x: Tensor, dim: number, start: number, length: number): Tensor => call(OPS.narrow, x, dim, start, length);
/** x[..., index, ...] along dim (drops dim). */
export const select = (x: Tensor, dim: number, index: number): Tensor => call(OPS.select, x, dim, index);
/** x[start:end:step] along dim (a view). */
export const slice = (x: Tensor, dim: number, start?: number | null, end?: number | null, step = 1): Tensor =>
  call(OPS.slice, x, dim, start ?? null, end ?? null, step);
export const indexSelect = (x: Tensor, dim: number, index: Tensor): Tensor => call(OPS.indexSelect, x, dim, index);
/** Advanced indexing x[i0, i1, ...] with tensors (null leaves a dimension whole). */
export const index = (x: Tensor, indices: readonly (Tensor | null)[]): Tensor => call(OPS.index, x, indices);
export const gather = (x: Tensor, dim: number, idx: Tensor): Tensor => call(OPS.gather, x, dim, idx, false);
export function scatter(x: Tensor, dim: number, idx: Tensor, src: Tensor | number): Tensor {
  return typeof src === 'number' ? call(OPS.scatterValue, x, dim, idx, src) : call(OPS.scatter, x, dim, idx, src);
}
export const scatterAdd = (x: Tensor, dim: number, idx: Tensor, src: Tensor): Tensor => call(OPS.scatterAdd, x, dim, idx, src);
export const flip = (x: Tensor, dims: readonly number[]): Tensor => call(OPS.flip, x, dims);
export const roll = (x: Tensor, shifts: readonly number[], dims: readonly number[]): Tensor => call(OPS.roll, x, shifts, dims);
export const tril = (x: Tensor, diagonal = 0): Tensor => call(OPS.tril, x, diagonal);
export const triu = (x: Tensor, diagonal = 0): Tensor => call(OPS.triu, x, diagonal);
export const nonzero = (x: Tensor): Tensor => call(OPS.nonzero, x);
export const clone = (x: Tensor): Tensor => call(OPS.clone, x, null);
export const detach = (x: Tensor): Tensor => call(OPS.detach, x);
/** Sliding windows of `size` every `step` along dim (appended as a new last dimension). */
export const unfold = (x: Tensor, dim: number, size: number, step: number): Tensor => call(OPS.unfold, x, dim, size, step);
/**
 * A view of x's storage with the given sizes, strides and storage offset (torch.as_strided): it may reach any part of
 * the storage, also outside x's own elements (e.g. a buffer that x is a window of).
 */
export const asStrided = (x: Tensor, size: readonly number[], stride: readonly number[], storageOffset: number): Tensor =>
  call(OPS.asStrided, x, size, stride, storageOffset);
export const diagonal = (x: Tensor, offset = 0, dim1 = 0, dim2 = 1): Tensor => call(OPS.diagonal, x, offset, dim1, dim2);

export type PadMode = 'constant' | 'reflect' | 'replicate';
/**
 * torch.nn.functional.pad: `pad` lists (left, right) pairs starting from the LAST dimension.
 * reflect/replicate pad the last dimension of a 2-D/3-D input (and the last two for reflect on 3-D/4-D).
 */
export function pad(x: Tensor, padding: readonly number[], mode: PadMode = 'constant', value = 0): Tensor {
  if (padding.length % 2 !== 0) throw new RangeError(`pad: padding must have an even length, got ${padding.length}`);
  if (mode === 'constant') return call(OPS.constantPad, x, padding, value);
  if (mode === 'reflect' && padding.length === 2) return call(OPS.reflectionPad1d, x, padding);
  if (mode === 'reflect' && padding.length === 4) return call(OPS.reflectionPad2d, x, padding);
  if (mode === 'replicate' && padding.length === 2) return call(OPS.replicationPad1d, x, padding);
  throw new RangeError(`pad: mode '${mode}' with ${padding.length / 2} padded dimensions is not supported`);
}

export { OPS as SHAPE_OPS };
