// A restricted pickle machine (ports the opcode semantics of CPython's pickle._Unpickler / _Pickler, protocol 2-4
// subset): it executes nothing; every GLOBAL is resolved through a caller-supplied whitelist.

export class PickleError extends Error {
  constructor(where: string, msg: string) {
    super(`${where}: ${msg}`);
    this.name = 'PickleError';
  }
}

/** Something a whitelisted GLOBAL resolves to: a named callable whose effects the caller implements. */
export interface PickleCallable {
  readonly qualifiedName: string;
  /** REDUCE / NEWOBJ: build the object from the argument tuple. */
  call(args: unknown[]): unknown;
}

export interface UnpickleHooks {
  /** Resolves `module.name`; throws to refuse it. */
  findClass(module: string, name: string): PickleCallable;
  /** BINPERSID: turns a persistent id into a value. */
  persistentLoad(pid: unknown): unknown;
  /** BUILD: applies `state` to `obj` (returns nothing; throws to refuse). */
  build(obj: unknown, state: unknown): void;
}

/** Marks a dict key type the result may hold. */
export type PickleKey = string | number;

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** Little-endian two's-complement integer of `bytes` (pickle's LONG1/LONG4 encoding). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function encodeLong(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  const out: number[] = [];
  let x = v;
  // two's complement, minimal length with a correct sign bit
  for (;;) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
    const signBit = (out[out.length - 1]! & 0x80) !== 0;
    if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
  }
  return Uint8Array.from(out);
}

/** Runs the pickle program in `data` under `hooks`; returns the value STOP leaves on the stack. */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks, where = '<pickle>'): unknown {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
  const utf8 = {
    decode: (b: Uint8Array): string => {
      try {
        return utf8Decoder.decode(b);
      } catch {
        return fail(`a string of ${b.length} bytes is not valid UTF-8`);
      }
    },
  };
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let opPos = 0;
  let opName = '';

  const fail = (msg: string): never => {
    throw new PickleError(where, `${msg} (opcode ${opName} at byte ${opPos})`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > data.length) fail(`argument of ${n} bytes runs past the end of the pickle (${data.length} bytes)`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) fail(`length ${v} exceeds the pickle size`);
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = utf8.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (prev === undefined) fail('no MARK on the stack');
    stack = prev!;
    return items;
  };
  const asKey = (k: unknown): PickleKey => {
    if (typeof k === 'string' || typeof k === 'number') return k;
    return fail(`unsupported dict key of type ${k === null ? 'None' : Array.isArray(k) ? 'tuple/list' : typeof k}`);
  };
  const setItems = (target: unknown, kv: unknown[]): void => {
    if (!(target instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    if (kv.length % 2 !== 0) fail('odd number of items for SETITEMS');
    for (let i = 0; i < kv.length; i += 2) (target as Map<PickleKey, unknown>).set(asKey(kv[i]), kv[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target)) fail('APPEND(S) on something that is not a list');
    for (const it of items) (target as unknown[]).push(it);
  };
  const callable = (f: unknown): PickleCallable => {
    if (f === null || typeof f !== 'object' || typeof (f as PickleCallable).call !== 'function') {
      fail('REDUCE/NEWOBJ target is not a whitelisted global');
    }
    return f as PickleCallable;
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo key ${i} was never stored`);
    return memo.get(i);
  };

  for (;;) {
    opPos = pos;
    if (pos >= data.length) {
      opName = 'EOF';
      fail('pickle ended without STOP');
    }
    const code = data[pos++]!;
    opName = OPCODE_NAMES[code] ?? `0x${code.toString(16).padStart(2, '0')}`;
    switch (code) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unsupported pickle protocol');
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(bytes(u64())));
        break;
      case 0x43: // SHORT_BINBYTES (a copy, as a Uint8Array)
        stack.push(Uint8Array.from(bytes(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(Uint8Array.from(bytes(u32())));
        break;
      case 0x8e: // BINBYTES8
        stack.push(Uint8Array.from(bytes(u64())));
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(bytes(u8())));
        break;
      case 0x8b: {
        // LONG4
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) fail('negative LONG4 length');
        stack.push(decodeLong(bytes(n)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x74: {
        // TUPLE (popMark replaces `stack`, so read it only after the call)
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x6c: {
        // LIST (popMark replaces `stack`, so read it only after the call)
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x64: {
        // DICT
        const items = popMark();
        const m = new Map<PickleKey, unknown>();
        setItems(m, items);
        stack.push(m);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(hooks.findClass(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(hooks.findClass(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const f = callable(pop());
        if (!Array.isArray(args)) fail(`REDUCE ${f.qualifiedName}: arguments are not a tuple`);
        stack.push(f.call(args as unknown[]));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const f = callable(pop());
        if (!Array.isArray(args)) fail(`NEWOBJ ${f.qualifiedName}: arguments are not a tuple`);
        stack.push(f.call(args as unknown[]));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        hooks.build(top(), state);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      default:
        fail('opcode not allowed by the restricted unpickler');
    }
  }
}

/** Emits a protocol-2 pickle program; the caller walks its data and calls these in order. */
export class PickleWriter {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1 << 16);
  private len = 0;
  private readonly enc = new TextEncoder();

  constructor() {
    this.byte(0x80, 2); // PROTO 2
  }

  private ensure(n: number): void {
    if (this.len + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.len));
    this.cur = new Uint8Array(Math.max(1 << 16, n));
    this.len = 0;
  }
  private byte(...b: number[]): void {
    this.ensure(b.length);
    for (const x of b) this.cur[this.len++] = x;
  }
  private raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.cur.set(b, this.len);
    this.len += b.length;
  }
  private u32(v: number): void {
    this.ensure(4);
    new DataView(this.cur.buffer, this.cur.byteOffset).setUint32(this.len, v, true);
    this.len += 4;
  }

  mark(): void {
    this.byte(0x28);
  }
  global(module: string, name: string): void {
    this.byte(0x63);
    this.raw(this.enc.encode(`${module}\n${name}\n`));
  }
  str(s: string): void {
    const b = this.enc.encode(s);
    this.byte(0x58);
    this.u32(b.length);
    this.raw(b);
  }
  int(v: number | bigint): void {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`PickleWriter.int: ${v} is not a safe integer`);
    if (typeof v === 'number' && v >= 0 && v < 256) this.byte(0x4b, v);
    else if (typeof v === 'number' && v >= 0 && v < 65536) this.byte(0x4d, v & 0xff, v >> 8);
    else if (typeof v === 'number' && v >= -0x80000000 && v <= 0x7fffffff) {
      this.byte(0x4a);
      this.ensure(4);
      new DataView(this.cur.buffer, this.cur.byteOffset).setInt32(this.len, v, true);
      this.len += 4;
    } else {
      const b = encodeLong(BigInt(v));
      if (b.length > 255) throw new RangeError('PickleWriter.int: integer too large');
      this.byte(0x8a, b.length);
      this.raw(b);
    }
  }
  float(v: number): void {
    this.byte(0x47);
    this.ensure(8);
    new DataView(this.cur.buffer, this.cur.byteOffset).setFloat64(this.len, v, false);
    this.len += 8;
  }
  bool(v: boolean): void {
    this.byte(v ? 0x88 : 0x89);
  }
  none(): void {
    this.byte(0x4e);
  }
  /** TUPLE of the items since the last mark. */
  tupleFromMark(): void {
    this.byte(0x74);
  }
  emptyTuple(): void {
    this.byte(0x29);
  }
  emptyList(): void {
    this.byte(0x5d);
  }
  appends(): void {
    this.byte(0x65);
  }
  emptyDict(): void {
    this.byte(0x7d);
  }
  setitems(): void {
    this.byte(0x75);
  }
  reduce(): void {
    this.byte(0x52);
  }
  binpersid(): void {
    this.byte(0x51);
  }
  /** Ends the program (STOP) and returns its bytes. */
  finish(): Uint8Array {
    this.byte(0x2e);
    this.chunks.push(this.cur.subarray(0, this.len));
    const total = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(total);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}
