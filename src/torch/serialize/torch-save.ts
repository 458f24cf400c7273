// torch.save / torch.load zip format (ports torch/serialization.py's _save and _load with a weights-only
// unpickler): tensors, state dicts and nested checkpoint dicts, without executing any pickled code.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { call, op } from '../dispatch.js';
import { isFloatingDtype, type DType } from '../dtype.js';
import { tidy } from '../scope.js';
import { empty } from '../ops/creation.js';
import { PickleError, PickleWriter, unpickle, type PickleCallable, type UnpickleHooks } from './pickle.js';
import { asRandomAccess, FileRangeSource, type RandomAccessSource } from './random-access.js';
import { ZipArchive, ZipError, zipStream, type LazyZipEntry, type SizedChunks, type ZipEntries } from './zip.js';
import { writeFileAtomic } from './atomic-file.js';

export type PickleValue = Tensor | number | bigint | string | boolean | null | PickleValue[] | Map<string | number, PickleValue>;

export class TorchSaveError extends Error {
  constructor(msg: string, options?: { cause?: unknown }) {
    super(msg, options);
    this.name = 'TorchSaveError';
  }
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};
const DTYPE_STORAGES = Object.fromEntries(Object.entries(STORAGE_DTYPES).map(([k, v]) => [v, k])) as Record<DType, string>;
const ITEM_SIZE: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const AS_STRIDED = op('as_strided');
const CLONE = op('clone');
const DETACH = op('detach');

/** Whether strides are the row-major (C-contiguous) ones of size (dimensions of size 1 may have any stride). */
function isRowMajor(size: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expected) return false;
    expected *= size[i]!;
  }
  return true;
}
const MEMORY_FORMAT_CONTIGUOUS = 0;

/** A storage type named by a GLOBAL (torch.FloatStorage, ...). */
class StorageType implements PickleCallable {
  constructor(
    readonly qualifiedName: string,
    readonly dtype: DType,
  ) {}
  call(): unknown {
    throw new Error(`${this.qualifiedName} may only appear inside a persistent id`);
  }
}

/** How to treat a GLOBAL outside the whitelist. */
export type UnknownGlobals = 'refuse' | 'placeholder';

export interface LoadTorchSaveOptions {
  /**
   * 'refuse' (default): any GLOBAL outside the whitelist aborts the load, naming it.
   * 'placeholder': it becomes an inert placeholder (nothing is imported or executed); instances built from it
   * come back as `Map { '__class__' => 'module.Name', '__args__' => [...], '__state__' => ... }` and a bare
   * reference as `Map { '__global__' => 'module.Name' }`. Needed for Lightning checkpoints, whose
   * hyper_parameters hold OmegaConf objects.
   */
  unknownGlobals?: UnknownGlobals;
  /**
   * 'load' (default): tensors hold the file's data. 'meta': tensors are made on the 'meta' device (shape, dtype and
   * strides only, no memory) and no storage is read: the pickle is still fully checked, and each storage's entry must
   * exist and be large enough, which the zip's directory tells without reading it.
   */
  storages?: 'load' | 'meta';
  /** Storages larger than this are copied into their tensors in pieces of this size (default 16 MiB; a multiple of 8). */
  storageChunkBytes?: number;
}

/** Storages larger than this are copied into their tensor in pieces of this size (one scratch buffer, reused). */
const STORAGE_CHUNK_BYTES = 16 << 20;

/** A GLOBAL outside the whitelist, loaded in placeholder mode. */
class OpaqueGlobal implements PickleCallable {
  constructor(readonly qualifiedName: string) {}
  call(args: unknown[]): unknown {
    return new OpaqueObject(this.qualifiedName, args);
  }
}

/** What REDUCE/NEWOBJ of an OpaqueGlobal made: the class name, the arguments and any BUILD state. */
class OpaqueObject {
  state: unknown = undefined;
  constructor(
    readonly qualifiedName: string,
    readonly args: unknown[],
  ) {}
}

/** One storage: a flat tensor over the bytes of `<top>/data/<key>`. */
class StorageRef {
  /** Whether a tensor already took `flat`'s memory as its own (later tensors over this storage get copies). */
  claimed = false;
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly flat: Tensor,
  ) {}
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isIntList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);

function rebuildTensor(storage: unknown, offset: unknown, size: unknown, stride: unknown, requiresGrad: unknown, fail: (m: string) => never): Tensor {
  if (!(storage instanceof StorageRef)) fail('_rebuild_tensor_v2: first argument is not a storage');
  const s = storage as StorageRef;
  if (!isInt(offset) || offset < 0) fail(`_rebuild_tensor_v2: bad storage offset ${String(offset)}`);
  if (!isIntList(size) || size.some((d) => d < 0)) fail(`_rebuild_tensor_v2: bad size ${JSON.stringify(size)}`);
  if (!isIntList(stride) || stride.length !== (size as number[]).length || stride.some((d) => d < 0))
    fail(`_rebuild_tensor_v2: bad stride ${JSON.stringify(stride)}`);
  const sz = size as number[];
  const st = stride as number[];
  const off = offset as number;
  if (sz.every((d) => d > 0)) {
    const last = off + sz.reduce((a, d, i) => a + (d - 1) * st[i]!, 0);
    if (last >= s.numel) fail(`_rebuild_tensor_v2: size [${sz}] stride [${st}] offset ${off} reach element ${last} of storage '${s.key}' holding ${s.numel}`);
  }
  const view = call(AS_STRIDED, s.flat, sz, st, off); // [numel] -> size, with the file's strides
  let owned: Tensor;
  if (!s.claimed && off === 0 && sz.reduce((a, d) => a * d, 1) === s.numel && isRowMajor(sz, st)) {
    // the tensor is its whole storage, in row-major order (as torch.save writes state dicts): it takes the storage's
    // memory (no copy); the flat tensor is released by the caller's scope, so nothing else aliases it
    s.claimed = true;
    owned = call(DETACH, view);
  } else {
    owned = call(CLONE, view, MEMORY_FORMAT_CONTIGUOUS); // size, row-major compact memory of its own
  }
  view.dispose();
  if (requiresGrad === true) {
    if (!isFloatingDtype(owned.dtype)) fail(`_rebuild_tensor_v2: requires_grad on a ${owned.dtype} tensor`);
    owned.requiresGrad = true;
  }
  return owned;
}

function findTopFolder(zip: ZipEntries, where: string): string {
  const pkls = zip.names().filter((n) => n.endsWith('data.pkl') && /^[^/]*\/?data\.pkl$/.test(n));
  if (pkls.length === 0) throw new TorchSaveError(`${where}: zip archive has no <folder>/data.pkl; is it a torch.save file?`);
  if (pkls.length > 1) throw new TorchSaveError(`${where}: zip archive has several data.pkl entries (${pkls.join(', ')})`);
  return pkls[0]!.slice(0, -'data.pkl'.length);
}

function isLegacyOrForeign(bytes: Uint8Array): string | null {
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! <= 5) {
    return 'this is the legacy (pre-1.6, non-zip) torch.save format, which is not supported: re-save it with torch>=1.6 (torch.save(obj, path))';
  }
  if (bytes.length >= 262 && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar') {
    return 'this is a tar archive (the legacy tar torch.save format or a .nemo file), not a torch.save zip; use readNemoArchive for .nemo files or re-save with torch>=1.6';
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return 'this is gzip data, not a torch.save zip (a .nemo archive? use readNemoArchive)';
  return null;
}

const isZipEntries = (x: Uint8Array | RandomAccessSource | ZipEntries): x is ZipEntries =>
  !(x instanceof Uint8Array) && typeof (x as Partial<ZipEntries>).names === 'function';

/**
 * Reads torch.save data (zip format): bytes in memory, a RandomAccessSource (a range of a file: only the zip's
 * directory, the pickle and the storages are read, each storage straight into its tensor), or the entries of an
 * already opened zip. `where` names the source in errors. Tensors come back on the CPU ('meta' with storages: 'meta').
 */
export function loadTorchSave(source: Uint8Array | RandomAccessSource | ZipEntries, where = '<torch.save>', options: LoadTorchSaveOptions = {}): PickleValue {
  try {
    let zip: ZipEntries;
    if (isZipEntries(source)) {
      zip = source;
    } else {
      const ra = asRandomAccess(source);
      const foreign = isLegacyOrForeign(ra.read(0, 512));
      if (foreign !== null) throw new TorchSaveError(`${where}: ${foreign}`);
      zip = new ZipArchive(ra, where);
    }
    const top = findTopFolder(zip, where);
    const pkl = zip.read(`${top}data.pkl`);
    if (zip.has(`${top}byteorder`)) {
      const order = new TextDecoder().decode(zip.read(`${top}byteorder`)).trim();
      if (order !== 'little') throw new TorchSaveError(`${where}: storages are in '${order}' byte order; only little-endian files are supported`);
    }
    const chunk = options.storageChunkBytes ?? STORAGE_CHUNK_BYTES;
    if (!Number.isSafeInteger(chunk) || chunk <= 0 || chunk % 8 !== 0)
      throw new RangeError(`loadTorchSave: storageChunkBytes ${chunk} is not a positive multiple of 8`);
    return tidy(() => unpickleTorch(zip, top, pkl, where, options.unknownGlobals ?? 'refuse', options.storages ?? 'load', chunk));
  } catch (e) {
    if (e instanceof ZipError || e instanceof PickleError) throw new TorchSaveError(e.message, { cause: e });
    throw e;
  }
}

/** A flat [numel] tensor holding the first numel elements of the entry, copied in once (in pieces for large ones). */
function readStorage(zip: ZipEntries, entry: string, dtype: DType, numel: number, chunkBytes: number): Tensor {
  const item = ITEM_SIZE[dtype];
  const nbytes = numel * item;
  const out: { flat: Tensor | null } = { flat: null };
  try {
    zip.readChunks(entry, chunkBytes, (chunk, offset) => {
      if (offset === 0 && chunk.length >= nbytes) {
        out.flat = new Tensor(native.fromBuffer(chunk.subarray(0, nbytes), dtype, [numel]));
        return;
      }
      out.flat ??= empty([numel], { dtype, device: 'cpu' });
      const n = Math.min(chunk.length, nbytes - offset);
      if (n <= 0) return;
      // pieces start at multiples of chunkBytes, a multiple of every item size
      const part = new Tensor(native.fromBuffer(chunk.subarray(0, n), dtype, [n / item]));
      const dst = out.flat.narrow(0, offset / item, n / item);
      dst.copy_(part);
      dst.dispose();
      part.dispose();
    });
  } catch (e) {
    out.flat?.dispose();
    throw e;
  }
  return out.flat ?? empty([numel], { dtype, device: 'cpu' });
}

function unpickleTorch(
  zip: ZipEntries,
  top: string,
  pkl: Uint8Array,
  where: string,
  unknownGlobals: UnknownGlobals,
  mode: 'load' | 'meta',
  chunkBytes: number,
): PickleValue {
  const pklWhere = `${where}: ${top}data.pkl`;
  const fail = (msg: string): never => {
    throw new PickleError(pklWhere, msg);
  };
  const storages = new Map<string, StorageRef>();
  const fn = (qualifiedName: string, f: (args: unknown[]) => unknown): PickleCallable => ({ qualifiedName, call: f });
  const orderedDict = fn('collections.OrderedDict', (args) => {
    const m = new Map<string | number, unknown>();
    if (args.length === 0) return m;
    if (args.length === 1 && Array.isArray(args[0])) {
      for (const kv of args[0] as unknown[]) {
        if (!Array.isArray(kv) || kv.length !== 2 || (typeof kv[0] !== 'string' && typeof kv[0] !== 'number'))
          fail('OrderedDict: items are not (key, value) pairs');
        m.set((kv as [string | number, unknown])[0], (kv as unknown[])[1]);
      }
      return m;
    }
    return fail('OrderedDict: unsupported arguments');
  });
  const globals: Record<string, PickleCallable> = {
    'collections.OrderedDict': orderedDict,
    'torch._utils._rebuild_tensor_v2': fn('torch._utils._rebuild_tensor_v2', (a) => {
      if (a.length < 6 || a.length > 7) fail(`_rebuild_tensor_v2: ${a.length} arguments, expected 6 or 7`);
      return rebuildTensor(a[0], a[1], a[2], a[3], a[4], fail);
    }),
    'torch._utils._rebuild_parameter': fn('torch._utils._rebuild_parameter', (a) => {
      if (a.length !== 3 || !(a[0] instanceof Tensor)) fail('_rebuild_parameter: expected (tensor, requires_grad, hooks)');
      const t = a[0] as Tensor;
      if (a[1] === true && !t.requiresGrad) t.requiresGrad = true;
      if (a[1] === false && t.requiresGrad) t.requiresGrad = false;
      return t;
    }),
    'torch.Size': fn('torch.Size', (a) => {
      if (a.length !== 1 || !isIntList(a[0])) fail('torch.Size: expected a tuple of ints');
      return [...(a[0] as number[])];
    }),
  };
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) globals[`torch.${name}`] = new StorageType(`torch.${name}`, dtype);

  const hooks: UnpickleHooks = {
    findClass(module, name) {
      const g = globals[`${module}.${name}`];
      if (g === undefined && unknownGlobals === 'placeholder') return new OpaqueGlobal(`${module}.${name}`);
      if (g === undefined) {
        return fail(`refused global '${module}.${name}': only tensors, storages and OrderedDict may be loaded (nothing is executed)`);
      }
      return g;
    },
    persistentLoad(pid) {
      if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') fail(`unsupported persistent id ${JSON.stringify(pid)}`);
      const [, type, key, , numel] = pid as unknown[];
      if (!(type instanceof StorageType)) return fail('persistent id does not name a storage type');
      if (typeof key !== 'string' || !isInt(numel) || numel < 0) return fail(`bad storage persistent id (key ${String(key)}, numel ${String(numel)})`);
      const cached = storages.get(key);
      if (cached) {
        if (cached.dtype !== type.dtype) fail(`storage '${key}' is used as both ${cached.dtype} and ${type.dtype}`);
        return cached;
      }
      const entry = `${top}data/${key}`;
      const listedOnlyInPart = mode === 'meta' && zip.partial === true && !zip.has(entry);
      if (!zip.has(entry) && !listedOnlyInPart) fail(`storage '${key}' has no entry ${entry}`);
      // the declared size is checked before anything is allocated or read
      const declared = listedOnlyInPart ? Number.POSITIVE_INFINITY : zip.size(entry);
      const nbytes = numel * ITEM_SIZE[type.dtype];
      if (declared < nbytes) fail(`storage entry ${entry} has ${declared} bytes, but ${numel} ${type.dtype} elements need ${nbytes}`);
      const flat = mode === 'meta' ? empty([numel], { dtype: type.dtype, device: 'meta' }) : readStorage(zip, entry, type.dtype, numel, chunkBytes);
      const ref = new StorageRef(key, type.dtype, numel, flat);
      storages.set(key, ref);
      return ref;
    },
    build(obj, state) {
      // state_dict()'s OrderedDict carries `_metadata` (module versions) as instance state: accepted and dropped
      if (obj instanceof Map && (state === null || state instanceof Map)) return;
      if (obj instanceof OpaqueObject) {
        obj.state = state;
        return;
      }
      if (unknownGlobals === 'placeholder') return; // state of a whitelisted object that does not use it
      fail('BUILD is only allowed on an OrderedDict');
    },
  };
  const value = unpickle(pkl, hooks, pklWhere);
  return finalize(value, pklWhere);
}

/**
 * Turns the unpickled graph into PickleValues in place (shared references and cycles are kept): placeholders
 * become Maps, bytes become `Map { '__class__' => 'builtins.bytes', 'hex' => ... }`; a bare storage is refused.
 */
function finalize(root: unknown, where: string): PickleValue {
  const done = new Map<object, PickleValue>();
  const convert = (x: unknown, path: string): PickleValue => {
    if (x === null || typeof x === 'number' || typeof x === 'bigint' || typeof x === 'string' || typeof x === 'boolean' || x instanceof Tensor) return x;
    if (typeof x !== 'object') throw new PickleError(where, `value at ${path || 'top level'} has unsupported type ${typeof x}`);
    const prior = done.get(x);
    if (prior !== undefined) return prior;
    if (Array.isArray(x)) {
      done.set(x, x as PickleValue[]);
      for (let i = 0; i < x.length; i++) x[i] = convert(x[i], `${path}[${i}]`);
      return x as PickleValue[];
    }
    if (x instanceof Map) {
      done.set(x, x as Map<string | number, PickleValue>);
      for (const [k, v] of x) x.set(k, convert(v, `${path}[${JSON.stringify(k)}]`));
      return x as Map<string | number, PickleValue>;
    }
    if (x instanceof OpaqueObject) {
      const m = new Map<string | number, PickleValue>([['__class__', x.qualifiedName]]);
      done.set(x, m);
      m.set('__args__', convert(x.args, `${path}.__args__`));
      if (x.state !== undefined) m.set('__state__', convert(x.state, `${path}.__state__`));
      return m;
    }
    if (x instanceof Uint8Array) {
      const m = new Map<string | number, PickleValue>([
        ['__class__', 'builtins.bytes'],
        ['hex', Buffer.from(x).toString('hex')],
      ]);
      done.set(x, m);
      return m;
    }
    if (x instanceof StorageRef) throw new PickleError(where, `value at ${path || 'top level'} is a bare storage, which is not supported`);
    const name = (x as Partial<PickleCallable>).qualifiedName;
    if (typeof name === 'string') {
      const m = new Map<string | number, PickleValue>([['__global__', name]]);
      done.set(x, m);
      return m;
    }
    throw new PickleError(where, `value at ${path || 'top level'} cannot be represented`);
  };
  return convert(root, '');
}

/** Every tensor inside a value. */
function tensorsIn(v: PickleValue, out: Set<Tensor> = new Set(), seen: Set<object> = new Set()): Set<Tensor> {
  if (v instanceof Tensor) out.add(v);
  else if ((Array.isArray(v) || v instanceof Map) && !seen.has(v)) {
    seen.add(v);
    for (const x of v.values()) tensorsIn(x, out, seen);
  }
  return out;
}

/** The class name when `v` is a placeholder Map made in 'placeholder' mode. */
function placeholderClass(v: PickleValue): string | null {
  if (!(v instanceof Map)) return null;
  const c = v.get('__class__') ?? v.get('__global__');
  return typeof c === 'string' ? c : null;
}

/**
 * Loads a state dict: a file path (read piece by piece: its zip directory, its pickle, then each storage straight into
 * its tensor), torch.save bytes, or a RandomAccessSource holding either the bare `{name: tensor}` dict or a
 * Lightning-style checkpoint whose `state_dict` entry is one. Objects of other classes elsewhere in a checkpoint
 * (OmegaConf hyper-parameters, ...) are skipped as inert placeholders; nothing is executed. Other tensors in
 * the file are released. `storages: 'meta'` gives shapes and dtypes only (see LoadTorchSaveOptions).
 */
export function loadStateDict(
  source: string | Uint8Array | RandomAccessSource | ZipEntries,
  where = typeof source === 'string' ? source : '<state dict bytes>',
  options: Pick<LoadTorchSaveOptions, 'storages' | 'storageChunkBytes'> = {},
): Map<string, Tensor> {
  if (typeof source === 'string') {
    const fd = openSync(source, 'r');
    try {
      return loadStateDict(new FileRangeSource(fd, 0, fstatSync(fd).size), where, options);
    } finally {
      closeSync(fd);
    }
  }
  const value = loadTorchSave(source, where, { ...options, unknownGlobals: 'placeholder' });
  let sd: PickleValue = value;
  if (value instanceof Map && value.get('state_dict') instanceof Map) sd = value.get('state_dict')!;
  const fail = (msg: string): never => {
    for (const t of tensorsIn(value)) t.dispose();
    throw new TorchSaveError(`${where}: ${msg}`);
  };
  const cls = placeholderClass(sd);
  if (cls !== null)
    return fail(`the ${sd === value ? 'top-level object' : 'state_dict entry'} is a '${cls}' (not loaded, nothing was executed), not a state dict`);
  if (!(sd instanceof Map)) return fail('holds neither a state dict nor a checkpoint with a state_dict entry');
  const out = new Map<string, Tensor>();
  for (const [k, v] of sd as Map<string | number, PickleValue>) {
    if (typeof k !== 'string') return fail(`state dict key ${k} is not a string`);
    if (!(v instanceof Tensor)) {
      const c = placeholderClass(v);
      return fail(`state dict entry '${k}' is ${c !== null ? `a '${c}' (not loaded, nothing was executed)` : 'not a tensor'}`);
    }
    out.set(k, v);
  }
  const kept = new Set(out.values());
  for (const t of tensorsIn(value)) if (!kept.has(t)) t.dispose();
  return out;
}

export interface SaveOptions {
  /**
   * Record each tensor's requires_grad (default true, as torch.save of live tensors). State dicts pass false:
   * torch.save(model.state_dict()) stores detached tensors, so NeMo's files say requires_grad=False.
   */
  keepRequiresGrad?: boolean;
}

/**
 * torch.save bytes for `obj`. Maps become dicts (a non-empty Map whose values are all tensors becomes a
 * collections.OrderedDict, as state_dict() returns), arrays become lists, integral numbers become ints and
 * the others floats. Each distinct tensor is written once as its own contiguous CPU storage.
 */
export function saveTorchSave(obj: PickleValue, options: SaveOptions = {}): Uint8Array {
  const z = torchSaveStream(obj, options);
  const out = new Uint8Array(z.size);
  let p = 0;
  for (const b of z.chunks()) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

/**
 * saveTorchSave's bytes made piece by piece: the size is known up front and each storage's bytes are copied out of
 * its tensor only when the writer reaches it, so writing a large state dict holds one storage's copy at a time. The
 * tensors must stay alive (and unchanged) until the chunks have been consumed.
 */
export function torchSaveStream(obj: PickleValue, options: SaveOptions = {}): SizedChunks {
  const keepRequiresGrad = options.keepRequiresGrad ?? true;
  const w = new PickleWriter();
  const storageKeys = new Map<Tensor, string>();
  const storages: LazyZipEntry[] = [];
  const active = new Set<unknown>();

  const writeOrderedDictCtor = (): void => {
    w.global('collections', 'OrderedDict');
    w.emptyTuple();
    w.reduce();
  };
  const writeTensor = (t: Tensor): void => {
    if (t.isDisposed) throw new TorchSaveError('saveTorchSave: a tensor in the object has been disposed');
    const dtype = t.dtype;
    const storageType = DTYPE_STORAGES[dtype];
    if (storageType === undefined) throw new TorchSaveError(`saveTorchSave: cannot save dtype ${dtype}`);
    let key = storageKeys.get(t);
    if (key === undefined) {
      key = String(storageKeys.size);
      storageKeys.set(t, key);
      storages.push({ name: `archive/data/${key}`, size: t.nbytes, data: () => new Uint8Array(t.bytesView()) });
    }
    const shape = t.shape;
    const stride: number[] = new Array<number>(shape.length);
    let acc = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      stride[i] = acc;
      acc *= Math.max(shape[i]!, 1);
    }
    w.global('torch._utils', '_rebuild_tensor_v2');
    w.mark();
    w.mark();
    w.str('storage');
    w.global('torch', storageType);
    w.str(key);
    w.str('cpu');
    w.int(t.numel);
    w.tupleFromMark();
    w.binpersid();
    w.int(0);
    w.mark();
    for (const d of shape) w.int(d);
    w.tupleFromMark();
    w.mark();
    for (const s of stride) w.int(s);
    w.tupleFromMark();
    w.bool(keepRequiresGrad && t.requiresGrad);
    writeOrderedDictCtor();
    w.tupleFromMark();
    w.reduce();
  };
  const write = (v: PickleValue, path: string): void => {
    if (v === null) w.none();
    else if (typeof v === 'boolean') w.bool(v);
    else if (typeof v === 'bigint') w.int(v);
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) w.int(v);
      else w.float(v);
    } else if (typeof v === 'string') w.str(v);
    else if (v instanceof Tensor) writeTensor(v);
    else if (Array.isArray(v) || v instanceof Map) {
      if (active.has(v)) throw new TorchSaveError(`saveTorchSave: ${path || 'the object'} contains itself`);
      active.add(v);
      if (Array.isArray(v)) {
        w.emptyList();
        for (let i = 0; i < v.length; i += 1000) {
          w.mark();
          v.slice(i, i + 1000).forEach((x, j) => {
            write(x, `${path}[${i + j}]`);
          });
          w.appends();
        }
      } else {
        const ordered = v.size > 0 && [...v.values()].every((x) => x instanceof Tensor);
        if (ordered) writeOrderedDictCtor();
        else w.emptyDict();
        const items = [...v];
        for (let i = 0; i < items.length; i += 1000) {
          w.mark();
          for (const [k, x] of items.slice(i, i + 1000)) {
            if (typeof k === 'string') w.str(k);
            else if (Number.isSafeInteger(k)) w.int(k);
            else throw new TorchSaveError(`saveTorchSave: key ${k} at ${path || 'top level'} is not a string or integer`);
            write(x, `${path}[${JSON.stringify(k)}]`);
          }
          w.setitems();
        }
      }
      active.delete(v);
    } else {
      throw new TorchSaveError(`saveTorchSave: value at ${path || 'top level'} cannot be pickled (${typeof v})`);
    }
  };
  write(obj, '');
  const pkl = w.finish();
  const enc = new TextEncoder();
  const small = (name: string, data: Uint8Array): LazyZipEntry => ({ name, size: data.length, data: () => data });
  // record order as torch >= 2 writes it: data.pkl, byteorder, data/<n>..., version
  return zipStream([
    small('archive/data.pkl', pkl),
    small('archive/byteorder', enc.encode('little')),
    ...storages,
    small('archive/version', enc.encode('3\n')),
  ]);
}

/** Writes a state dict as a torch.save file (an OrderedDict), atomically. */
export function saveStateDict(path: string, sd: Map<string, Tensor>): void {
  for (const [k, v] of sd) {
    if (!(v instanceof Tensor)) throw new TorchSaveError(`saveStateDict(${path}): entry '${k}' is not a tensor`);
  }
  writeFileAtomic(path, saveTorchSave(sd, { keepRequiresGrad: false }));
}
