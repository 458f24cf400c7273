// Calls ATen operators by schema through the addon's boxed dispatcher, wrapping results as Tensors.
import { native, type NativeResult, type NativeValue } from './native.js';
import { Tensor } from './tensor.js';
import type { Generator } from './random.js';

/** A handle to one ATen operator overload, looked up on first use. */
export class Op {
  private handle = -1;
  /** Whether the operator writes any of its arguments (a `Tensor(a!)` in its schema); set when `id` is first read. */
  writesArguments = false;
  constructor(
    readonly name: string,
    readonly overload: string,
  ) {}
  get id(): number {
    if (this.handle < 0) {
      const h = native.findOp(this.name, this.overload);
      this.writesArguments = native.opSchema(h).includes('!');
      this.handle = h;
    }
    return this.handle;
  }
  get schema(): string {
    return native.opSchema(this.id);
  }
}

export function op(name: string, overload = ''): Op {
  return new Op(name.includes('::') ? name : `aten::${name}`, overload);
}

/** What TypeScript may pass for one operator argument. */
export type Arg = Tensor | Generator | number | boolean | string | null | undefined | readonly Arg[];

function toNative(a: Arg): NativeValue {
  if (a instanceof Tensor) return a.native;
  if (Array.isArray(a)) return a.map(toNative);
  if (a !== null && typeof a === 'object' && 'native' in a) return (a as Generator).native;
  return a as NativeValue;
}

/** The tensors among an operator's arguments may be resized by it (resize_, out=): their cached shapes are dropped. */
function forgetMetadata(args: readonly Arg[]): void {
  for (const a of args) {
    if (a instanceof Tensor) a.forgetMetadata();
    else if (Array.isArray(a)) forgetMetadata(a);
  }
}

export function callRaw(o: Op, args: readonly Arg[]): NativeResult {
  const id = o.id;
  if (o.writesArguments) forgetMetadata(args);
  return native.callOp(id, ...args.map(toNative));
}

function wrapOne(r: NativeResult, o: Op): Tensor {
  if (typeof r !== 'bigint') throw new Error(`${o.name}.${o.overload}: expected a tensor result`);
  return new Tensor(r);
}

/** Calls an operator that returns one tensor. */
export function call(o: Op, ...args: Arg[]): Tensor {
  return wrapOne(callRaw(o, args), o);
}

/** Calls an operator that returns a tuple or list of tensors. */
export function callMany(o: Op, ...args: Arg[]): Tensor[] {
  const r = callRaw(o, args);
  if (!Array.isArray(r)) throw new Error(`${o.name}.${o.overload}: expected several tensor results`);
  return r.map((x) => wrapOne(x, o));
}

/** Calls an in-place operator; returns `self` (the native result handle is dropped at once). */
export function callInPlace(o: Op, self: Tensor, ...rest: Arg[]): Tensor {
  const r = callRaw(o, [self, ...rest]);
  if (typeof r === 'bigint') native.tensorDispose(r);
  return self;
}
