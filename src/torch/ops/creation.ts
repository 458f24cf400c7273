// Tensor creation: constants, ranges, random draws and typed-array conversion.
import { native } from '../native.js';
import { scalarTypeCode, type DType } from '../dtype.js';
import { call, op } from '../dispatch.js';
import { Tensor } from '../tensor.js';
import type { Generator } from '../random.js';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

const OPS = {
  zeros: op('zeros'),
  ones: op('ones'),
  full: op('full'),
  empty: op('empty', 'memory_format'),
  arange: op('arange', 'start_step'),
  randn: op('randn', 'generator'),
  rand: op('rand', 'generator'),
  randint: op('randint', 'low_generator'),
  randperm: op('randperm', 'generator'),
  bernoulliP: op('bernoulli', 'p'),
  bernoulli: op('bernoulli', ''),
  zerosLike: op('zeros_like'),
  onesLike: op('ones_like'),
  fullLike: op('full_like'),
  linspace: op('linspace'),
  eye: op('eye'),
};

/** The device creation functions use when no `device` option is given (null: libtorch's default, the CPU). */
let defaultDevice: string | null = null;

const dev = (o: CreateOptions): string | null => o.device ?? defaultDevice;

/**
 * Runs `fn` with `device` as the default of every creation function here (`zeros`, `empty`, `tensor`, `rand`, ...):
 * e.g. 'meta' builds a module's parameters as shapes and dtypes without memory. Synchronous; nests.
 */
export function withDefaultDevice<T>(device: string, fn: () => T): T {
  const prev = defaultDevice;
  defaultDevice = device;
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('withDefaultDevice(fn): fn must be synchronous');
    return r;
  } finally {
    defaultDevice = prev;
  }
}

/** The device set by withDefaultDevice, or null (the CPU). */
export function currentDefaultDevice(): string | null {
  return defaultDevice;
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

function dt(o: CreateOptions, fallback: DType = 'float32'): number {
  return scalarTypeCode(o.dtype ?? fallback);
}

function checkShape(shape: readonly number[], what: string): readonly number[] {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new RangeError(`${what}: shape [${shape.join(', ')}] must hold non-negative integers`);
  }
  return shape;
}

export function zeros(shape: readonly number[], o: CreateOptions = {}): Tensor {
  return finish(call(OPS.zeros, checkShape(shape, 'zeros'), dt(o), null, dev(o)), o);
}
export function ones(shape: readonly number[], o: CreateOptions = {}): Tensor {
  return finish(call(OPS.ones, checkShape(shape, 'ones'), dt(o), null, dev(o)), o);
}
export function full(shape: readonly number[], value: number, o: CreateOptions = {}): Tensor {
  return finish(call(OPS.full, checkShape(shape, 'full'), value, dt(o), null, dev(o)), o);
}
export function empty(shape: readonly number[], o: CreateOptions = {}): Tensor {
  return finish(call(OPS.empty, checkShape(shape, 'empty'), dt(o), null, dev(o)), o);
}
export function zerosLike(t: Tensor): Tensor {
  return call(OPS.zerosLike, t);
}
export function onesLike(t: Tensor): Tensor {
  return call(OPS.onesLike, t);
}
export function fullLike(t: Tensor, value: number): Tensor {
  return call(OPS.fullLike, t, value);
}
/** arange(end) or arange(start, end, step); int64 when all bounds are integers, as in PyTorch. */
export function arange(startOrEnd: number, end?: number, step = 1, o: CreateOptions = {}): Tensor {
  const start = end === undefined ? 0 : startOrEnd;
  const stop = end === undefined ? startOrEnd : end;
  const integral = Number.isInteger(start) && Number.isInteger(stop) && Number.isInteger(step);
  return finish(call(OPS.arange, start, stop, step, dt(o, integral ? 'int64' : 'float32'), null, dev(o)), o);
}
export function linspace(start: number, end: number, steps: number, o: CreateOptions = {}): Tensor {
  return finish(call(OPS.linspace, start, end, steps, dt(o), null, dev(o)), o);
}
export function eye(n: number, o: CreateOptions = {}): Tensor {
  return finish(call(OPS.eye, n, dt(o), null, dev(o)), o);
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

export function randn(shape: readonly number[], o: RandomOptions = {}): Tensor {
  return finish(call(OPS.randn, checkShape(shape, 'randn'), o.generator ?? null, dt(o), null, dev(o)), o);
}
export function rand(shape: readonly number[], o: RandomOptions = {}): Tensor {
  return finish(call(OPS.rand, checkShape(shape, 'rand'), o.generator ?? null, dt(o), null, dev(o)), o);
}
/** Integers in [low, high). */
export function randint(low: number, high: number, shape: readonly number[], o: RandomOptions = {}): Tensor {
  return call(OPS.randint, low, high, checkShape(shape, 'randint'), o.generator ?? null, dt(o, 'int64'), null, dev(o));
}
export function randperm(n: number, o: RandomOptions = {}): Tensor {
  return call(OPS.randperm, n, o.generator ?? null, dt(o, 'int64'), null, dev(o));
}
/** Bernoulli draws: with a number p, each element of `like`'s shape is 1 with probability p; with a tensor, elementwise. */
export function bernoulli(probs: Tensor, o: { generator?: Generator; p?: number } = {}): Tensor {
  if (o.p !== undefined) return call(OPS.bernoulliP, probs, o.p, o.generator ?? null);
  return call(OPS.bernoulli, probs, o.generator ?? null);
}

type NumericArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array;

function inferDtype(data: NumericArray | readonly number[] | readonly boolean[]): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data.length > 0 && typeof data[0] === 'boolean') return 'bool';
  return 'float32';
}

/** A tensor copied from a typed array or a JS array; shape defaults to [length]. */
export function tensor(data: NumericArray | readonly number[] | readonly boolean[], shape?: readonly number[], o: CreateOptions = {}): Tensor {
  const dtype = o.dtype ?? inferDtype(data);
  const shp = shape ?? [data.length];
  let bytes: ArrayBufferView;
  if (ArrayBuffer.isView(data) && inferDtype(data as NumericArray) === dtype) {
    bytes = data as NumericArray;
  } else {
    const arr = Array.from(data as ArrayLike<number | boolean | bigint>, (v) => (typeof v === 'bigint' ? Number(v) : Number(v)));
    switch (dtype) {
      case 'float32':
        bytes = Float32Array.from(arr);
        break;
      case 'float64':
        bytes = Float64Array.from(arr);
        break;
      case 'int64':
        bytes = BigInt64Array.from(arr, (v) => BigInt(Math.trunc(v)));
        break;
      case 'int32':
        bytes = Int32Array.from(arr);
        break;
      case 'int16':
        bytes = Int16Array.from(arr);
        break;
      case 'int8':
        bytes = Int8Array.from(arr);
        break;
      case 'uint8':
      case 'bool':
        bytes = Uint8Array.from(arr, (v) => (dtype === 'bool' ? (v ? 1 : 0) : v));
        break;
      default:
        throw new TypeError(`tensor(): cannot build ${dtype} from a JS array`);
    }
  }
  let t = new Tensor(native.fromBuffer(bytes, dtype, checkShape(shp, 'tensor')));
  const device = dev(o);
  if (device && device !== 'cpu') {
    const moved = t.to({ device });
    t.dispose();
    t = moved;
  }
  return finish(t, o);
}

/** A 0-dimensional tensor holding one number. */
export function scalar(value: number, o: CreateOptions = {}): Tensor {
  return tensor([value], [], o);
}
