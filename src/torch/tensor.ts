// The Tensor: a handle to one libtorch tensor. Memory is released by dispose() or by the enclosing tidy scope.
import type { NativeTensor } from './native.js';
import { isFloatingDtype, scalarTypeCode, typedArrayFrom, type DType } from './dtype.js';
import { registerTensorCheck, track } from './scope.js';
import * as ew from './ops/elementwise.js';
import * as red from './ops/reduction.js';
import * as sh from './ops/shape.js';
import * as nnf from './ops/nn.js';
import { call, callInPlace, op } from './dispatch.js';
import type { Generator } from './random.js';

const OPS = {
  toDtype: op('to', 'dtype'),
  toDevice: op('to', 'device'),
  alias: op('alias'),
  zero_: op('zero_'),
  fill_: op('fill_', 'Scalar'),
  copy_: op('copy_'),
  add_: op('add_', 'Tensor'),
  addS_: op('add_', 'Scalar'),
  mul_: op('mul_', 'Tensor'),
  mulS_: op('mul_', 'Scalar'),
  uniform_: op('uniform_'),
  normal_: op('normal_'),
};

export type Operand = Tensor | number;

export class Tensor {
  readonly native: NativeTensor;

  /** Wraps a native handle; the new Tensor belongs to the innermost open tidy scope. */
  constructor(handle: NativeTensor) {
    this.native = handle;
    track(this);
  }

  get shape(): number[] {
    return this.native.shape();
  }
  get ndim(): number {
    return this.native.shape().length;
  }
  get dtype(): DType {
    return this.native.dtype() as DType;
  }
  get device(): string {
    return this.native.device();
  }
  get numel(): number {
    return this.native.numel();
  }
  get strides(): number[] {
    return this.native.strides();
  }
  get isDisposed(): boolean {
    return this.native.isDisposed();
  }
  get requiresGrad(): boolean {
    return this.native.requiresGrad();
  }
  set requiresGrad(on: boolean) {
    if (on && !isFloatingDtype(this.dtype)) throw new TypeError(`requiresGrad: only floating-point tensors can require gradients (this one is ${this.dtype})`);
    this.native.setRequiresGrad(on);
  }
  get isLeaf(): boolean {
    return this.native.isLeaf();
  }
  /** The accumulated gradient (a new handle each call; dispose it or let the scope do it), or null. */
  get grad(): Tensor | null {
    const g = this.native.grad();
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    this.native.setGrad(g === null ? null : g.native);
  }
  /** size of one dimension (negative counts from the end). */
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`dimension ${dim} out of range for a ${s.length}-d tensor`);
    return s[d]!;
  }

  dispose(): void {
    this.native.dispose();
  }

  backward(gradient?: Tensor, retainGraph = false): void {
    this.native.backward(gradient?.native ?? null, retainGraph);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    const v = this.native.item();
    return typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }

  /** A copy of the data as a typed array of the tensor's dtype (bool and uint8 as Uint8Array). */
  data(): Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array {
    return typedArrayFrom(this.dtype, this.native.toBuffer());
  }
  /** A copy of the data as plain numbers (int64 converted). */
  toArray(): number[] {
    const d = this.data();
    return Array.from(d as ArrayLike<number | bigint>, (v) => Number(v));
  }
  /** Raw bytes of the contiguous data. */
  toBuffer(): ArrayBuffer {
    return this.native.toBuffer();
  }
  /**
   * The raw bytes without a copy where possible: a read-only-by-convention view of the tensor's memory that keeps the
   * tensor's storage alive until the buffer is collected. Do not write to it, and do not rely on it after the tensor
   * is changed in place. For streaming large tensors out (archive writing).
   */
  bytesView(): ArrayBuffer {
    return this.native.bytesView();
  }

  to(o: { dtype?: DType; device?: string }): Tensor {
    if (o.device !== undefined && o.device !== this.device) {
      return call(OPS.toDevice, this, o.device, scalarTypeCode(o.dtype ?? this.dtype), false, false, null);
    }
    return call(OPS.toDtype, this, scalarTypeCode(o.dtype ?? this.dtype), false, false, null);
  }
  float(): Tensor {
    return this.to({ dtype: 'float32' });
  }
  double(): Tensor {
    return this.to({ dtype: 'float64' });
  }
  long(): Tensor {
    return this.to({ dtype: 'int64' });
  }
  bool(): Tensor {
    return this.to({ dtype: 'bool' });
  }
  /** A new handle to the same tensor (same storage, same autograd identity). */
  alias(): Tensor {
    return call(OPS.alias, this);
  }

  // In-place updates (return this).
  zero_(): this {
    callInPlace(OPS.zero_, this);
    return this;
  }
  fill_(value: number): this {
    callInPlace(OPS.fill_, this, value);
    return this;
  }
  copy_(src: Tensor): this {
    callInPlace(OPS.copy_, this, src, false);
    return this;
  }
  add_(other: Operand, alpha = 1): this {
    if (typeof other === 'number') callInPlace(OPS.addS_, this, other, alpha);
    else callInPlace(OPS.add_, this, other, alpha);
    return this;
  }
  mul_(other: Operand): this {
    if (typeof other === 'number') callInPlace(OPS.mulS_, this, other);
    else callInPlace(OPS.mul_, this, other);
    return this;
  }
  uniform_(from: number, to: number, generator?: Generator): this {
    callInPlace(OPS.uniform_, this, from, to, generator ?? null);
    return this;
  }
  normal_(mean: number, std: number, generator?: Generator): this {
    callInPlace(OPS.normal_, this, mean, std, generator ?? null);
    return this;
  }

  // Arithmetic and math.
  add(o: Operand, alpha = 1): Tensor {
    return ew.add(this, o, alpha);
  }
  sub(o: Operand, alpha = 1): Tensor {
    return ew.sub(this, o, alpha);
  }
  mul(o: Operand): Tensor {
    return ew.mul(this, o);
  }
  div(o: Operand): Tensor {
    return ew.div(this, o);
  }
  pow(o: Operand): Tensor {
    return ew.pow(this, o);
  }
  neg(): Tensor {
    return ew.neg(this);
  }
  exp(): Tensor {
    return ew.exp(this);
  }
  log(): Tensor {
    return ew.log(this);
  }
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  rsqrt(): Tensor {
    return ew.rsqrt(this);
  }
  abs(): Tensor {
    return ew.abs(this);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return ew.clamp(this, min, max);
  }
  relu(): Tensor {
    return ew.relu(this);
  }
  sigmoid(): Tensor {
    return ew.sigmoid(this);
  }
  tanh(): Tensor {
    return ew.tanh(this);
  }
  eq(o: Operand): Tensor {
    return ew.eq(this, o);
  }
  ne(o: Operand): Tensor {
    return ew.ne(this, o);
  }
  lt(o: Operand): Tensor {
    return ew.lt(this, o);
  }
  le(o: Operand): Tensor {
    return ew.le(this, o);
  }
  gt(o: Operand): Tensor {
    return ew.gt(this, o);
  }
  ge(o: Operand): Tensor {
    return ew.ge(this, o);
  }
  maskedFill(mask: Tensor, value: Operand): Tensor {
    return ew.maskedFill(this, mask, value);
  }

  // Reductions.
  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    return red.sum(this, dim, { keepdim });
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return red.mean(this, dim, { keepdim });
  }
  max(): Tensor {
    return red.maxAll(this);
  }
  min(): Tensor {
    return red.minAll(this);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return red.argmax(this, dim, keepdim);
  }

  // Shapes.
  reshape(shape: readonly number[]): Tensor {
    return sh.reshape(this, shape);
  }
  view(shape: readonly number[]): Tensor {
    return sh.view(this, shape);
  }
  permute(dims: readonly number[]): Tensor {
    return sh.permute(this, dims);
  }
  transpose(d0: number, d1: number): Tensor {
    return sh.transpose(this, d0, d1);
  }
  contiguous(): Tensor {
    return sh.contiguous(this);
  }
  unsqueeze(dim: number): Tensor {
    return sh.unsqueeze(this, dim);
  }
  squeeze(dim?: number): Tensor {
    return sh.squeeze(this, dim);
  }
  expand(shape: readonly number[]): Tensor {
    return sh.expand(this, shape);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return sh.flatten(this, startDim, endDim);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return sh.narrow(this, dim, start, length);
  }
  select(dim: number, index: number): Tensor {
    return sh.select(this, dim, index);
  }
  clone(): Tensor {
    return sh.clone(this);
  }
  detach(): Tensor {
    return sh.detach(this);
  }
  matmul(o: Tensor): Tensor {
    return nnf.matmul(this, o);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

registerTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);
