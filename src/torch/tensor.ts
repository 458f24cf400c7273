// The Tensor: a handle to one libtorch tensor. Memory is released by dispose() or by the enclosing tidy scope.
import { native, type NativeTensor } from './native.js';
import { noteDerivedTensor } from './runtime.js';
import { isFloatingDtype, scalarTypeCode, typedArrayFrom, type DType } from './dtype.js';
import { registerTensorCheck, track, type ScopeList } from './scope.js';
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
  relu_: op('relu_'),
  mulS_: op('mul_', 'Scalar'),
  uniform_: op('uniform_'),
  normal_: op('normal_'),
};

export type Operand = Tensor | number;

/**
 * The safety net for tensors no scope owns (made outside any scope, kept, or returned from the outermost one): the
 * slot of such a Tensor that is garbage-collected without dispose() is released here. Tensors inside scopes are not
 * registered: the scope disposes them, and a registration costs about a microsecond and keeps the Tensor alive
 * through V8's minor collections (BENCHMARKS.md, "Small ops").
 */
const leakGuard = new FinalizationRegistry<NativeTensor>((handle) => {
  native.tensorDispose(handle);
});

/** A tensor cached with the tensor it was computed from (Tensor.derived). */
export interface DerivedTensor {
  /** What `tensor` is (ops/nn.ts: 'transposed', 'packed'); a cache of another kind replaces it. */
  kind: string;
  tensor: Tensor;
  /** The source's version counter and assign() count when `tensor` was made. */
  version: number;
  assignments: number;
}

export class Tensor {
  /** The handle to the tensor in the addon's table (stale once disposed). */
  readonly native: NativeTensor;
  // Read from libtorch once: only assign() and operators that write their arguments can change them (forgetMetadata).
  private shapeCache: number[] | undefined;
  private dtypeCache: DType | undefined;
  private leakGuarded = false;
  /** How many times assign() made this handle refer to another tensor (for caches of derived values). */
  assignments = 0;
  /**
   * A tensor computed from this one and cached with it, with this tensor's write stamp (version, assignments) when it
   * was made (ops/nn.ts keeps a linear weight's transposed or packed copy here); disposed with this tensor. Set by setDerived.
   */
  derived: DerivedTensor | null = null;
  /** The scope that will dispose this tensor (scope.ts's bookkeeping), or null. */
  ownerScope: ScopeList | null = null;

  /** Wraps a native handle; the new Tensor belongs to the innermost open tidy scope (or to no scope: see unscoped). */
  constructor(handle: NativeTensor) {
    this.native = handle;
    if (!track(this)) this.unscoped();
  }

  /**
   * Called when no scope owns this tensor any more (scope.ts): from then on, if it is garbage-collected without
   * dispose(), the FinalizationRegistry releases its slot.
   */
  unscoped(): void {
    if (this.leakGuarded) return;
    this.leakGuarded = true;
    leakGuard.register(this, this.native, this);
  }

  /** Drops the cached shape and dtype (an operator wrote this tensor in place: it may have been resized). */
  forgetMetadata(): void {
    this.shapeCache = undefined;
    this.dtypeCache = undefined;
  }

  private sizes(): number[] {
    if (this.shapeCache === undefined) this.shapeCache = native.tensorShape(this.native);
    return this.shapeCache;
  }
  /** The sizes (a new array each read). */
  get shape(): number[] {
    return this.sizes().slice();
  }
  get ndim(): number {
    return this.sizes().length;
  }
  get dtype(): DType {
    if (this.dtypeCache === undefined) this.dtypeCache = native.tensorDtype(this.native) as DType;
    return this.dtypeCache;
  }
  get device(): string {
    return native.tensorDevice(this.native);
  }
  get numel(): number {
    return native.tensorNumel(this.native);
  }
  /** Bytes of the elements (numel x element size). */
  get nbytes(): number {
    return native.tensorNbytes(this.native);
  }
  get strides(): number[] {
    return native.tensorStrides(this.native);
  }
  get isDisposed(): boolean {
    return native.tensorIsDisposed(this.native);
  }
  /** Caches d (its tensor owned by no scope) with this tensor, disposing the one before; null drops it. */
  setDerived(d: DerivedTensor | null): void {
    if (this.derived) {
      this.derived.tensor.dispose();
      noteDerivedTensor(-1);
    }
    this.derived = d;
    if (d) noteDerivedTensor(1);
  }

  /** ATen's version counter (_version): bumped by every in-place write to this tensor or a view of it. */
  get version(): number {
    return native.tensorVersion(this.native);
  }
  get requiresGrad(): boolean {
    return native.tensorRequiresGrad(this.native);
  }
  set requiresGrad(on: boolean) {
    if (on && !isFloatingDtype(this.dtype)) throw new TypeError(`requiresGrad: only floating-point tensors can require gradients (this one is ${this.dtype})`);
    native.tensorSetRequiresGrad(this.native, on);
  }
  get isLeaf(): boolean {
    return native.tensorIsLeaf(this.native);
  }
  /** The accumulated gradient (a new handle each call; dispose it or let the scope do it), or null. */
  get grad(): Tensor | null {
    const g = native.tensorGrad(this.native);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.tensorSetGrad(this.native, g === null ? null : g.native);
  }
  /** size of one dimension (negative counts from the end). */
  size(dim: number): number {
    const s = this.sizes();
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`dimension ${dim} out of range for a ${s.length}-d tensor`);
    return s[d]!;
  }

  /** Releases the tensor's handle at once (its memory goes with the last reference: views, autograd graph). Idempotent. */
  dispose(): void {
    if (this.leakGuarded) {
      leakGuard.unregister(this);
      this.leakGuarded = false;
    }
    this.forgetMetadata();
    this.ownerScope = null;
    this.setDerived(null);
    native.tensorDispose(this.native);
  }

  backward(gradient?: Tensor, retainGraph = false): void {
    native.tensorBackward(this.native, gradient?.native ?? null, retainGraph);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    const v = native.tensorItem(this.native);
    return typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }

  /** Whether this tensor and `other` share their storage (views, aliases, assigned tensors). */
  sameStorage(other: Tensor): boolean {
    return native.tensorSameStorage(this.native, other.native);
  }

  /**
   * Makes this tensor refer to `other`'s data, detached (the same storage, no copy), keeping its own requiresGrad;
   * what it referred to before is dropped. PyTorch's load_state_dict(assign=True) for one parameter.
   */
  assign(other: Tensor): void {
    native.tensorAssign(this.native, other.native);
    this.forgetMetadata();
    this.assignments++;
  }

  /** A copy of the data as a typed array of the tensor's dtype (bool and uint8 as Uint8Array). */
  data(): Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array {
    return typedArrayFrom(this.dtype, native.tensorToBuffer(this.native));
  }
  /** A copy of the data as plain numbers (int64 converted). */
  toArray(): number[] {
    const d = this.data();
    return Array.from(d as ArrayLike<number | bigint>, (v) => Number(v));
  }
  /** Raw bytes of the contiguous data. */
  toBuffer(): ArrayBuffer {
    return native.tensorToBuffer(this.native);
  }
  /**
   * The raw bytes without a copy where possible: a read-only-by-convention view of the tensor's memory that keeps the
   * tensor's storage alive until the buffer is collected. Do not write to it, and do not rely on it after the tensor
   * is changed in place. For streaming large tensors out (archive writing).
   */
  bytesView(): ArrayBuffer {
    return native.tensorBytesView(this.native);
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
  /** ReLU in place. */
  relu_(): this {
    callInPlace(OPS.relu_, this);
    return this;
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
