// POSIX tar, shared by .nemo archives (src/checkpoint) and NeMo tarred audio datasets (src/data/tarred.ts) (ports the subset of Python's tarfile.TarFile that NeMo's save_to / restore_from use: ustar + PAX
// extended headers): a streaming reader (TarReader over a ByteStream: members front to back, unsafe ones refused,
// hostile ones held to TarLimits, unwanted data skipped) and a writer of plain ustar archives.

import { constants as bufferConstants } from 'node:buffer';
import type { RandomAccessSource, SequentialReader, SizedChunks } from '../torch/serialize/index.js';
import { MemoryStream, type ByteStream } from './byte-stream.js';

const BUFFER_MAX_LENGTH = bufferConstants.MAX_LENGTH;

export class TarError extends Error {
  constructor(where: string, msg: string) {
    super(`${where}: ${msg}`);
    this.name = 'TarError';
  }
}

export type TarMemberType = 'file' | 'dir';

export interface TarMember {
  /** Normalised path: no leading './', no trailing '/'; '.' for the archive root. */
  name: string;
  /** The name exactly as stored (after PAX/GNU long-name overrides). */
  rawName: string;
  type: TarMemberType;
  size: number;
  /** PAX header records that applied to this member. */
  pax: Map<string, string>;
  /** Member contents (a view into the archive bytes). */
  data: Uint8Array;
}

const BLOCK = 512;
const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

function cString(b: Uint8Array): Uint8Array {
  const z = b.indexOf(0);
  return z < 0 ? b : b.subarray(0, z);
}

function parseNumber(field: Uint8Array, what: string, fail: (m: string) => never): number {
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bytes
    if (field[0]! & 0x40) fail(`negative ${what}`);
    let v = 0n;
    v = BigInt(field[0]! & 0x7f);
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i]!);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} too large`);
    return Number(v);
  }
  const s = latin1.decode(cString(field)).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) fail(`${what} field '${s}' is not octal`);
  return parseInt(s, 8);
}

/** Normalises a member path, refusing absolute paths and '..' components. */
function safeName(raw: string, fail: (m: string) => never): string {
  if (raw.includes('\0')) fail(`member name ${JSON.stringify(raw)} contains a NUL byte`);
  if (raw.startsWith('/') || /^[A-Za-z]:[\\/]/.test(raw) || raw.startsWith('\\')) fail(`member '${raw}' has an absolute path`);
  const parts = raw.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) fail(`member '${raw}' escapes the archive with '..'`);
  return parts.length === 0 ? '.' : parts.join('/');
}

function parsePax(data: Uint8Array, fail: (m: string) => never): Map<string, string> {
  const out = new Map<string, string>();
  let p = 0;
  while (p < data.length) {
    if (data[p] === 0) break;
    const sp = data.indexOf(0x20, p);
    if (sp < 0) fail('malformed PAX record (no length)');
    const len = Number(latin1.decode(data.subarray(p, sp)));
    if (!Number.isInteger(len) || len <= 0 || p + len > data.length || data[p + len - 1] !== 0x0a) fail('malformed PAX record length');
    const rec = utf8.decode(data.subarray(sp + 1, p + len - 1));
    const eq = rec.indexOf('=');
    if (eq < 0) fail(`malformed PAX record '${rec}'`);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    p += len;
  }
  return out;
}

/** Limits a hostile archive runs into before it can make the reader allocate or work without bound. */
export interface TarLimits {
  /** Most header blocks (files, directories, PAX and long-name headers). */
  maxMembers: number;
  /** Longest member name in bytes (after PAX / GNU long-name overrides). */
  maxNameBytes: number;
  /** Largest PAX or GNU long-name header data, in bytes. */
  maxHeaderBytes: number;
  /** Largest sum of the members' declared sizes, in bytes: for a gzip archive, about what is decompressed. */
  maxTotalBytes: number;
}

export const DEFAULT_TAR_LIMITS: Readonly<TarLimits> = {
  maxMembers: 10_000,
  maxNameBytes: 4096,
  maxHeaderBytes: 1 << 20,
  maxTotalBytes: 64 * 2 ** 30,
};

/** A member's header, as TarReader.next() gives it; its data are read (or skipped) through the reader. */
export interface TarEntry {
  /** Normalised path: no leading './', no trailing '/'; '.' for the archive root. */
  name: string;
  /** The name exactly as stored (after PAX/GNU long-name overrides). */
  rawName: string;
  type: TarMemberType;
  size: number;
  /** PAX header records that applied to this member. */
  pax: Map<string, string>;
  /** Byte offset (in the uncompressed tar) of the member's header and of its data. */
  headerAt: number;
  dataAt: number;
  /** Data bytes present in the archive: `size`, or fewer for a truncated last member that the reader was told to allow. */
  available: number;
}

const shown = (name: string): string => (name.length > 200 ? `${name.slice(0, 200)}… (${name.length} characters)` : name);

/**
 * Reads a tar front to back from a ByteStream: next() gives each member's header in turn, checked (unsafe names, links
 * and devices refused) and held to `limits` before anything is allocated; the data of a member are read only when
 * asked for (readData / dataSource) and otherwise skipped: a seek in a plain file, decompress-and-discard in gzip.
 * `where` names the archive in errors. `allowTruncated(name)` lets a regular member whose data run past the end of a
 * stream of known size through, with `available` < `size`; it is then the last member.
 */
export class TarReader {
  readonly limits: TarLimits;
  private current: TarEntry | null = null;
  /** Data bytes of the current member not yet consumed, and its declared size. */
  private dataLeft = 0;
  private declared = 0;
  private headers = 0;
  private total = 0;
  private done = false;
  private readonly seen = new Set<string>();

  constructor(
    readonly stream: ByteStream,
    readonly where = '<tar>',
    limits: Partial<TarLimits> = {},
    private readonly allowTruncated: (name: string) => boolean = () => false,
  ) {
    this.limits = { ...DEFAULT_TAR_LIMITS, ...limits };
  }

  private end(): string {
    return this.stream.size !== null ? `${this.stream.size} bytes` : `${this.stream.position} bytes decompressed`;
  }

  /** Consumes what is left of the current member (data and padding). */
  private finishCurrent(): void {
    const e = this.current;
    if (e === null) return;
    this.current = null;
    const size = this.declared;
    const left = this.dataLeft;
    this.dataLeft = 0;
    if (this.stream.skip(left) < left) {
      throw new TarError(
        this.where,
        `member '${shown(e.rawName)}' (header at byte ${e.headerAt}): size ${size} runs past the end of the archive (${this.end()})`,
      );
    }
    if (e.type === 'file' && e.available < size) {
      this.done = true; // a truncated member, let through: nothing follows it
      return;
    }
    this.stream.skip((BLOCK - (size % BLOCK)) % BLOCK); // a short final padding is tolerated, as before
  }

  /** The next member, or null at the end of the archive (end marker or end of data). */
  next(): TarEntry | null {
    this.finishCurrent();
    let pax = new Map<string, string>();
    let longName: string | null = null;
    while (!this.done) {
      const headerAt = this.stream.position;
      const h = this.stream.read(BLOCK);
      if (h.length < BLOCK || h.every((b) => b === 0)) break; // end-of-archive marker, or the data end
      const storedName = latin1.decode(cString(h.subarray(0, 100)));
      const fail = (msg: string): never => {
        throw new TarError(this.where, `member '${shown(longName ?? pax.get('path') ?? storedName)}' (header at byte ${headerAt}): ${msg}`);
      };
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
      const stored = parseNumber(h.subarray(148, 156), 'checksum', fail);
      if (stored !== sum) fail(`header checksum ${stored} != computed ${sum}; not a tar archive or corrupt`);
      this.headers += 1;
      if (this.headers > this.limits.maxMembers) fail(`the archive has more than ${this.limits.maxMembers} members (limit maxMembers); refused`);
      const typeflag = String.fromCharCode(h[156]!);
      let size = parseNumber(h.subarray(124, 136), 'size', fail);
      const magic = latin1.decode(h.subarray(257, 263));
      let name = storedName;
      if (magic.startsWith('ustar')) {
        const prefix = latin1.decode(cString(h.subarray(345, 500)));
        if (prefix !== '') name = `${prefix}/${storedName}`;
      }
      if (pax.has('size')) {
        const s = Number(pax.get('size'));
        if (!Number.isSafeInteger(s) || s < 0) fail(`bad PAX size '${pax.get('size')}'`);
        size = s;
      }
      if (pax.has('path')) name = pax.get('path')!;
      if (longName !== null) name = longName;
      // the declared size against the limits, then against the data present, before anything is read or allocated
      if ((typeflag === 'x' || typeflag === 'L') && size > this.limits.maxHeaderBytes)
        fail(`extended header of ${size} bytes is larger than ${this.limits.maxHeaderBytes} (limit maxHeaderBytes); refused`);
      if (this.total + size > this.limits.maxTotalBytes)
        fail(`size ${size} takes the archive's members past ${this.limits.maxTotalBytes} bytes in all (limit maxTotalBytes); refused`);
      this.total += size;
      const dataAt = headerAt + BLOCK;
      const regular = typeflag === '0' || typeflag === '\0' || typeflag === '7';
      let available = size;
      if (this.stream.size !== null && dataAt + size > this.stream.size) {
        if (regular && this.allowTruncated(safeName(name, fail))) available = Math.max(0, this.stream.size - dataAt);
        else fail(`size ${size} runs past the end of the archive (${this.stream.size} bytes)`);
      }
      switch (typeflag) {
        case 'x': // PAX header for the next member
        case 'L': {
          // GNU long name for the next member
          const data = this.stream.read(size);
          if (data.length < size) fail(`size ${size} runs past the end of the archive (${this.end()})`);
          this.stream.skip((BLOCK - (size % BLOCK)) % BLOCK);
          if (typeflag === 'x') pax = parsePax(data, fail);
          else longName = latin1.decode(cString(data));
          const override = typeflag === 'x' ? pax.get('path') : longName;
          if (override !== undefined && override !== null && Buffer.byteLength(override) > this.limits.maxNameBytes)
            fail(`name of ${Buffer.byteLength(override)} bytes is longer than ${this.limits.maxNameBytes} (limit maxNameBytes); refused`);
          continue;
        }
        case 'g': {
          // PAX global header: nothing we use
          if (this.stream.skip(size) < size) fail(`size ${size} runs past the end of the archive (${this.end()})`);
          this.stream.skip((BLOCK - (size % BLOCK)) % BLOCK);
          continue;
        }
        case '0':
        case '\0':
        case '7':
        case '5': {
          const isDir = typeflag === '5';
          if (Buffer.byteLength(name) > this.limits.maxNameBytes)
            fail(`name of ${Buffer.byteLength(name)} bytes is longer than ${this.limits.maxNameBytes} (limit maxNameBytes); refused`);
          const norm = safeName(name, fail);
          if (this.seen.has(norm)) fail('appears twice in the archive');
          this.seen.add(norm);
          const entry: TarEntry = {
            name: norm,
            rawName: name,
            type: isDir ? 'dir' : 'file',
            size: isDir ? 0 : size,
            pax,
            headerAt,
            dataAt,
            available: isDir ? 0 : available,
          };
          this.current = entry;
          this.declared = size;
          this.dataLeft = available;
          return entry;
        }
        case '1':
          return fail('is a hard link; links are refused');
        case '2':
          return fail('is a symbolic link; links are refused');
        case '3':
        case '4':
          return fail('is a device node; refused');
        case '6':
          return fail('is a FIFO; refused');
        default:
          return fail(`has unsupported type '${typeflag}'`);
      }
    }
    this.done = true;
    if (pax.size > 0 || longName !== null) throw new TarError(this.where, 'archive ends after an extended header with no member');
    return null;
  }

  private checkUnread(e: TarEntry): void {
    if (this.current !== e || e.type !== 'file' || this.dataLeft !== e.available)
      throw new Error(`TarReader: the data of '${e.rawName}' were already read or skipped`);
  }

  /**
   * The current member's data, whole: a view for in-memory streams, else one new buffer of its size (allocated after
   * the limits were checked) filled from the stream. Throws when the archive ends first.
   */
  readData(e: TarEntry): Uint8Array {
    this.checkUnread(e);
    if (e.available > BUFFER_MAX_LENGTH)
      throw new TarError(this.where, `member '${shown(e.rawName)}' (header at byte ${e.headerAt}): ${e.size} bytes are too many to hold in memory`);
    const data = this.stream.read(e.available);
    this.dataLeft -= data.length;
    if (data.length < e.available)
      throw new TarError(
        this.where,
        `member '${shown(e.rawName)}' (header at byte ${e.headerAt}): size ${e.size} runs past the end of the archive (${this.end()})`,
      );
    return data;
  }

  /** The current member's data by position, without reading them now: null when the stream cannot seek (gzip). */
  dataSource(e: TarEntry): RandomAccessSource | null {
    this.checkUnread(e);
    return this.stream.range(e.dataAt, e.available);
  }

  /** Reads the current member's data front to back (for streams that cannot seek); stays valid until next(). */
  dataReader(e: TarEntry): SequentialReader {
    this.checkUnread(e);
    return {
      read: (n: number): Uint8Array => {
        const b = this.stream.read(Math.min(n, this.dataLeft));
        this.dataLeft -= b.length;
        return b;
      },
      skip: (n: number): number => {
        const k = this.stream.skip(Math.min(n, this.dataLeft));
        this.dataLeft -= k;
        return k;
      },
    };
  }
}

/** Lists and reads the members of an uncompressed tar held in memory (data are views). `where` names the archive in errors. */
export function readTar(bytes: Uint8Array, where = '<tar>', limits: Partial<TarLimits> = {}): TarMember[] {
  const r = new TarReader(new MemoryStream(bytes), where, limits);
  const members: TarMember[] = [];
  for (let e = r.next(); e !== null; e = r.next()) {
    members.push({ name: e.name, rawName: e.rawName, type: e.type, size: e.size, pax: e.pax, data: e.type === 'dir' ? new Uint8Array(0) : r.readData(e) });
  }
  return members;
}

function octal(value: number, width: number): string {
  const s = value.toString(8);
  if (s.length > width - 1) throw new RangeError(`tar: ${value} does not fit in a ${width}-byte octal field`);
  return s.padStart(width - 1, '0');
}

function header(name: string, typeflag: '0' | '5' | 'x', size: number, mode: number, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const put = (s: string, at: number, width: number): void => {
    const b = Buffer.from(s, 'utf8');
    if (b.length > width) throw new RangeError(`tar: '${s}' does not fit in a ${width}-byte field`);
    h.set(b, at);
  };
  put(name, 0, 100);
  put(octal(mode, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(size, 12), 124, 12);
  put(octal(mtime, 12), 136, 12);
  h[156] = typeflag.charCodeAt(0);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

export interface TarWriteMember {
  name: string;
  /** Omitted for directories. Bytes made on demand (SizedChunks) stream through writeTarStream. */
  data?: Uint8Array | SizedChunks;
  type?: TarMemberType;
}

/**
 * An uncompressed ustar archive of `members` (names longer than 100 bytes and sizes of 8 GiB or more get PAX
 * records), ending
 * with the two zero blocks. Returns the archive as chunks in order (no single large copy).
 */
export function writeTar(members: readonly TarWriteMember[], mtime = Math.floor(Date.now() / 1000)): Uint8Array[] {
  return [...writeTarStream(members, mtime)];
}

/** writeTar's chunks made on demand: members given as SizedChunks are streamed, one chunk in memory at a time. */
export function* writeTarStream(members: readonly TarWriteMember[], mtime = Math.floor(Date.now() / 1000)): Generator<Uint8Array> {
  for (const m of members) yield* tarMemberChunks(m, mtime);
  yield tarEndMarker();
}

/** One member of an archive as chunks in order (PAX header when needed, header, data, padding): for writing archives member by member. */
export function tarMemberChunks(m: TarWriteMember, mtime = Math.floor(Date.now() / 1000)): Uint8Array[] {
  return [...tarMemberStream(m, mtime)];
}

/** tarMemberChunks made on demand (data given as SizedChunks are streamed; their declared size is checked). */
function* tarMemberStream(m: TarWriteMember, mtime: number): Generator<Uint8Array> {
  const out: Uint8Array[] = [];
  const isDir = m.type === 'dir';
  const data = m.data;
  const size = isDir || !data ? 0 : data instanceof Uint8Array ? data.length : data.size;
  let name = isDir && !m.name.endsWith('/') ? `${m.name}/` : m.name;
  const longName = Buffer.byteLength(name) > 100;
  const hugeSize = size > 0o77777777777; // more than 11 octal digits (8 GiB): size goes in a PAX record
  if (longName || hugeSize) {
    const rec = Buffer.from((longName ? paxRecord('path', name) : '') + (hugeSize ? paxRecord('size', String(size)) : ''), 'utf8');
    out.push(header('././@PaxHeader', 'x', rec.length, 0o644, mtime), rec, new Uint8Array((BLOCK - (rec.length % BLOCK)) % BLOCK));
    if (longName) name = name.slice(0, 99);
  }
  out.push(header(name, isDir ? '5' : '0', hugeSize ? 0 : size, isDir ? 0o755 : 0o644, mtime));
  yield* out;
  if (isDir || !data) return;
  if (data instanceof Uint8Array) yield data;
  else {
    let n = 0;
    for (const c of data.chunks()) {
      n += c.length;
      yield c;
    }
    if (n !== size) throw new TarError('tar writer', `member ${m.name} made ${n} bytes where ${size} were declared`);
  }
  const pad = (BLOCK - (size % BLOCK)) % BLOCK;
  if (pad > 0) yield new Uint8Array(pad);
}

/** The two zero blocks that end an archive. */
export function tarEndMarker(): Uint8Array {
  return new Uint8Array(2 * BLOCK);
}
