// Zip container as torch.save writes it (ports caffe2::serialize::PyTorchStreamReader/Writer's use of miniz):
// a reader for stored or deflated entries (zip64 aware) over bytes in memory or a range of a file (only the end
// records and the directory are read up front, entries on demand, large ones in pieces), a front-to-back lister for
// zips whose directory is out of reach (cut short), and a writer of stored, 64-byte aligned entries.
import { crc32 as zlibCrc32, inflateRawSync } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';
import { asRandomAccess, type RandomAccessSource } from './random-access.js';

const BUFFER_MAX_LENGTH = bufferConstants.MAX_LENGTH;

export class ZipError extends Error {
  constructor(where: string, msg: string) {
    super(`${where}: ${msg}`);
    this.name = 'ZipError';
  }
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (zip polynomial) of bytes, continuing from `crc` (the CRC of the bytes before); uses node:zlib's when the Node version has it. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (typeof zlibCrc32 === 'function') return zlibCrc32(bytes, crc) >>> 0;
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localHeaderOffset: number;
}

/** What a torch.save reader needs of a zip: its entries' names and sizes, and their bytes on request. */
export interface ZipEntries {
  readonly where: string;
  /** Entry names in the archive's order. */
  names(): string[];
  has(name: string): boolean;
  /** The entry's uncompressed size (as its header declares it). */
  size(name: string): number;
  /** The entry's bytes, CRC-checked. */
  read(name: string): Uint8Array;
  /**
   * Streams a stored entry's bytes to `onChunk` in pieces of at most `chunkBytes` (a deflated entry comes in one
   * piece); the pieces are views that are only valid during the call. The CRC is checked after the last piece: when
   * it fails this throws, and whatever the pieces filled must be discarded.
   */
  readChunks(name: string, chunkBytes: number, onChunk: (chunk: Uint8Array, offset: number) => void): void;
  /** True when the listing may lack entries (a cut-short zip listed front to back). */
  readonly partial?: boolean;
}

/** Largest central directory read (a torch.save file of a million tensors has well under 100 MB). */
export const MAX_CENTRAL_DIRECTORY_BYTES = 256 << 20;

function u64(view: DataView, at: number, where: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(where, `64-bit field at byte ${at} is too large (${v})`);
  return Number(v);
}

const viewOf = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/**
 * A parsed zip archive over bytes in memory or a RandomAccessSource (a range of a file): only the end records and the
 * central directory are read up front; entries are read on demand.
 */
export class ZipArchive implements ZipEntries {
  readonly entries = new Map<string, ZipEntry>();
  readonly source: RandomAccessSource;
  private scratch: Uint8Array | null = null;

  constructor(
    bytes: Uint8Array | RandomAccessSource,
    readonly where = '<zip>',
  ) {
    this.source = asRandomAccess(bytes);
    this.parseCentralDirectory();
  }

  private need(at: number, len: number, what: string): void {
    if (at < 0 || len < 0 || at + len > this.source.size) {
      throw new ZipError(
        this.where,
        `${what} at byte ${at} (+${len}) runs past the end of the file (${this.source.size} bytes); the file is truncated or corrupt`,
      );
    }
  }

  /** Exactly `len` bytes at `at` (after need()). */
  private bytesAt(at: number, len: number, what: string): Uint8Array {
    this.need(at, len, what);
    const b = this.source.read(at, len);
    if (b.length !== len)
      throw new ZipError(this.where, `${what} at byte ${at}: the file ended after ${b.length} of ${len} bytes (it shrank while being read?)`);
    return b;
  }

  private parseCentralDirectory(): void {
    const size = this.source.size;
    if (size < 22) throw new ZipError(this.where, `not a zip archive (only ${size} bytes)`);
    // the end-of-central-directory record is in the last 22 + 65535 (comment) bytes; the zip64 locator just before it
    const tailStart = Math.max(0, size - 22 - U16_MAX - 20);
    const tail = this.bytesAt(tailStart, size - tailStart, 'end of the zip');
    const tv = viewOf(tail);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0 && i >= tail.length - 22 - U16_MAX; i--) {
      if (tv.getUint32(i, true) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new ZipError(this.where, 'not a zip archive (no end-of-central-directory record)');
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
      const loc = eocd - 20;
      if (loc < 0 || tv.getUint32(loc, true) !== SIG_ZIP64_LOCATOR) throw new ZipError(this.where, 'zip64 fields without a zip64 locator');
      const rec = u64(tv, loc + 8, this.where);
      const rv = viewOf(this.bytesAt(rec, 56, 'zip64 end-of-central-directory record'));
      if (rv.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new ZipError(this.where, `bad zip64 end-of-central-directory signature at byte ${rec}`);
      count = u64(rv, 32, this.where);
      cdSize = u64(rv, 40, this.where);
      cdOffset = u64(rv, 48, this.where);
    }
    this.need(cdOffset, cdSize, 'central directory');
    if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES)
      throw new ZipError(this.where, `central directory of ${cdSize} bytes is larger than the ${MAX_CENTRAL_DIRECTORY_BYTES >> 20} MiB limit; refused`);
    if (count > cdSize / 46)
      throw new ZipError(this.where, `central directory of ${cdSize} bytes cannot hold the ${count} entries it declares; the file is corrupt`);
    const cd = this.bytesAt(cdOffset, cdSize, 'central directory');
    const size0 = size;
    const v = viewOf(cd);
    const at = (p: number): number => cdOffset + p;
    const needCd = (p: number, len: number, what: string): void => {
      if (p + len > cd.length)
        throw new ZipError(this.where, `${what} at byte ${at(p)} (+${len}) runs past the end of the central directory; the file is corrupt`);
    };
    let p = 0;
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (let i = 0; i < count; i++) {
      needCd(p, 46, `central directory entry ${i}`);
      if (v.getUint32(p, true) !== SIG_CENTRAL) throw new ZipError(this.where, `bad central directory signature for entry ${i} at byte ${at(p)}`);
      const method = v.getUint16(p + 10, true);
      const crc = v.getUint32(p + 16, true);
      let compressedSize = v.getUint32(p + 20, true);
      let size = v.getUint32(p + 24, true);
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      let localHeaderOffset = v.getUint32(p + 42, true);
      needCd(p + 46, nameLen + extraLen + commentLen, `central directory entry ${i} name/extra`);
      let name: string;
      try {
        name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
      } catch {
        throw new ZipError(this.where, `central directory entry ${i}: the name is not valid UTF-8`);
      }
      // zip64 extended information: only the fields whose 32-bit value is saturated are present, in this order.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = v.getUint16(e, true);
        const len = v.getUint16(e + 2, true);
        if (e + 4 + len > extraEnd) throw new ZipError(this.where, `entry '${name}': extra field overruns its header`);
        if (id === 0x0001) {
          let q = e + 4;
          const take = (): number => {
            if (q + 8 > e + 4 + len) throw new ZipError(this.where, `entry '${name}': zip64 extra field too short`);
            const r = u64(v, q, this.where);
            q += 8;
            return r;
          };
          if (size === U32_MAX) size = take();
          if (compressedSize === U32_MAX) compressedSize = take();
          if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
        }
        e += 4 + len;
      }
      if (this.entries.has(name)) throw new ZipError(this.where, `duplicate entry '${name}'`);
      // checked here, so that a size the directory declares (all that a 'meta' read looks at) is one the file can hold
      if (localHeaderOffset + 30 + compressedSize > size0)
        throw new ZipError(
          this.where,
          `data of '${name}' (${compressedSize} bytes after its local header at byte ${localHeaderOffset}) runs past the end of the file (${size0} bytes); the file is truncated or corrupt`,
        );
      if (method === 0 && size !== compressedSize)
        throw new ZipError(this.where, `stored entry '${name}' has size ${size} != compressed size ${compressedSize}`);
      this.entries.set(name, { name, method, compressedSize, size, crc, localHeaderOffset });
      p = extraEnd + commentLen;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  size(name: string): number {
    return this.entry(name).size;
  }

  private entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new ZipError(this.where, `no entry '${name}'`);
    return e;
  }

  /** Where the entry's (compressed) data start, after its local header. */
  private dataStart(e: ZipEntry): number {
    const lv = viewOf(this.bytesAt(e.localHeaderOffset, 30, `local header of '${e.name}'`));
    if (lv.getUint32(0, true) !== SIG_LOCAL) throw new ZipError(this.where, `bad local header signature for '${e.name}'`);
    const start = e.localHeaderOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    this.need(start, e.compressedSize, `data of '${e.name}' (${e.compressedSize} bytes)`);
    return start;
  }

  private inflate(e: ZipEntry, raw: Uint8Array): Uint8Array {
    if (e.method !== 8) throw new ZipError(this.where, `entry '${e.name}' uses compression method ${e.method} (only stored and deflate are supported)`);
    let out: Uint8Array;
    try {
      out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      throw new ZipError(this.where, `entry '${e.name}': deflate data is corrupt (${(err as Error).message})`);
    }
    if (out.length !== e.size) throw new ZipError(this.where, `entry '${e.name}' inflated to ${out.length} bytes, expected ${e.size}`);
    return out;
  }

  private checkCrc(e: ZipEntry, c: number): void {
    if (c !== e.crc) throw new ZipError(this.where, `entry '${e.name}' fails its CRC-32 check (0x${c.toString(16)} != 0x${e.crc.toString(16)})`);
  }

  /** The entry's bytes (a view into the archive for stored entries in memory, new bytes otherwise), CRC-checked. */
  read(name: string): Uint8Array {
    const e = this.entry(name);
    const start = this.dataStart(e);
    if (e.method === 0 && e.size !== e.compressedSize)
      throw new ZipError(this.where, `stored entry '${name}' has size ${e.size} != compressed size ${e.compressedSize}`);
    if (e.method !== 0 && e.method !== 8)
      throw new ZipError(this.where, `entry '${name}' uses compression method ${e.method} (only stored and deflate are supported)`);
    if (e.compressedSize > BUFFER_MAX_LENGTH || e.size > BUFFER_MAX_LENGTH)
      throw new ZipError(this.where, `entry '${name}' of ${e.size} bytes is too large to read into memory`);
    const raw = this.bytesAt(start, e.compressedSize, `data of '${name}' (${e.compressedSize} bytes)`);
    const out = e.method === 0 ? raw : this.inflate(e, raw);
    this.checkCrc(e, crc32(out));
    return out;
  }

  readChunks(name: string, chunkBytes: number, onChunk: (chunk: Uint8Array, offset: number) => void): void {
    const e = this.entry(name);
    if (e.method !== 0 || this.source.inMemory || e.size <= chunkBytes) {
      onChunk(this.read(name), 0);
      return;
    }
    const start = this.dataStart(e);
    if (e.size !== e.compressedSize) throw new ZipError(this.where, `stored entry '${name}' has size ${e.size} != compressed size ${e.compressedSize}`);
    if (this.scratch === null || this.scratch.length < chunkBytes) this.scratch = Buffer.allocUnsafe(chunkBytes);
    let c = 0;
    for (let off = 0; off < e.size; off += chunkBytes) {
      const n = Math.min(chunkBytes, e.size - off);
      const chunk = this.source.read(start + off, n, this.scratch);
      if (chunk.length !== n)
        throw new ZipError(this.where, `data of '${name}': the file ended at byte ${start + off + chunk.length} (it shrank while being read?)`);
      c = crc32(chunk, c);
      onChunk(chunk, off);
    }
    this.checkCrc(e, c);
  }
}

/** A byte stream read front to back (a tar member, a file): what scanZipLocalEntries reads. */
export interface SequentialReader {
  /** Up to `n` bytes (fewer only at the end). */
  read(n: number): Uint8Array;
  /** Skips up to `n` bytes; returns how many were skipped (fewer only at the end). */
  skip(n: number): number;
}

const SIG_DESCRIPTOR = Buffer.from([0x50, 0x4b, 0x07, 0x08]);

/** A SequentialReader with bytes pushed back in front of it. */
class Pushback implements SequentialReader {
  private front: Uint8Array = new Uint8Array(0);
  constructor(private readonly input: SequentialReader) {}
  unread(b: Uint8Array): void {
    this.front = this.front.length === 0 ? b : Buffer.concat([b, this.front]);
  }
  read(n: number): Uint8Array {
    if (this.front.length === 0) return this.input.read(n);
    if (this.front.length >= n) {
      const b = this.front.subarray(0, n);
      this.front = this.front.subarray(n);
      return b;
    }
    const head = this.front;
    this.front = new Uint8Array(0);
    return Buffer.concat([head, this.input.read(n - head.length)]);
  }
  skip(n: number): number {
    const k = Math.min(n, this.front.length);
    this.front = this.front.subarray(k);
    return k + (n > k ? this.input.skip(n - k) : 0);
  }
}

/**
 * The entries of a zip read front to back through its local headers, for when the central directory at the end cannot
 * be reached (a file cut short): names and sizes of the entries met, and the bytes of those `keep` selects
 * (CRC-checked). An entry whose sizes follow its data (a data descriptor, as torch.save writes every entry) is read
 * until its descriptor: the signature followed by the CRC and the sizes of the bytes read since the data began.
 * Stops at the central directory (`complete`) or at the end of the data (`stoppedBecause`). Only a listing: entries
 * it did not keep cannot be read.
 */
export class ZipLocalScan implements ZipEntries {
  readonly sizes = new Map<string, number>();
  private readonly kept = new Map<string, Uint8Array>();
  complete = false;
  /** Why the scan stopped before the central directory, when it did. */
  stoppedBecause: string | null = null;

  constructor(
    source: SequentialReader,
    keep: (name: string) => boolean,
    readonly where = '<zip>',
    private readonly maxKeptBytes = 64 << 20,
  ) {
    const input = new Pushback(source);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let pos = 0;
    for (;;) {
      const sig = input.read(4);
      if (sig.length < 4) {
        this.stoppedBecause = `the data end at byte ${pos + sig.length} before the central directory`;
        return;
      }
      const s = viewOf(sig).getUint32(0, true);
      if (s === SIG_CENTRAL || s === SIG_EOCD || s === SIG_ZIP64_EOCD) {
        this.complete = true;
        return;
      }
      if (s !== SIG_LOCAL) {
        if (this.sizes.size === 0) throw new ZipError(where, 'not a zip archive (no local header at byte 0)');
        this.stoppedBecause = `no local header at byte ${pos}`;
        return;
      }
      const rest = input.read(26);
      if (rest.length < 26) {
        this.stoppedBecause = `the data end inside the local header at byte ${pos}`;
        return;
      }
      const v = viewOf(rest); // offsets 4.. of the local header
      const flags = v.getUint16(2, true);
      const method = v.getUint16(4, true);
      let crc = v.getUint32(10, true);
      let compressedSize = v.getUint32(14, true);
      let size = v.getUint32(18, true);
      const nameLen = v.getUint16(22, true);
      const extraLen = v.getUint16(24, true);
      const nameBytes = input.read(nameLen);
      const extra = input.read(extraLen);
      if (nameBytes.length < nameLen || extra.length < extraLen) {
        this.stoppedBecause = `the data end inside the local header at byte ${pos}`;
        return;
      }
      let name: string;
      try {
        name = decoder.decode(nameBytes);
      } catch {
        throw new ZipError(where, `local header at byte ${pos}: the name is not valid UTF-8`);
      }
      const ev = viewOf(extra);
      for (let e = 0; e + 4 <= extra.length; ) {
        const id = ev.getUint16(e, true);
        const len = ev.getUint16(e + 2, true);
        if (id === 0x0001 && e + 4 + len <= extra.length) {
          let q = e + 4;
          if (size === U32_MAX && q + 8 <= e + 4 + len) {
            size = u64(ev, q, where);
            q += 8;
          }
          if (compressedSize === U32_MAX && q + 8 <= e + 4 + len) compressedSize = u64(ev, q, where);
        }
        e += 4 + len;
      }
      if (this.sizes.has(name)) throw new ZipError(where, `duplicate entry '${name}'`);
      const wanted = keep(name);
      let raw: Uint8Array | null = null;
      let descriptorLen = 0;
      if (flags & 0x08) {
        // sizes and CRC follow the data
        if (method !== 0) {
          this.stoppedBecause = `entry '${name}' is compressed and gives its size after its data`;
          return;
        }
        const found = this.readToDescriptor(input, wanted, name);
        if (found === null) {
          this.stoppedBecause = `the data end inside entry '${name}'`;
          return;
        }
        ({ size, crc, data: raw, descriptorLen } = found);
        compressedSize = size;
      } else if (wanted) {
        if (compressedSize > maxKeptBytes || size > maxKeptBytes)
          throw new ZipError(where, `entry '${name}' of ${size} bytes is larger than the ${maxKeptBytes} bytes read here`);
        raw = input.read(compressedSize);
        if (raw.length < compressedSize) {
          this.stoppedBecause = `the data end inside entry '${name}'`;
          return;
        }
      } else if (input.skip(compressedSize) < compressedSize) {
        this.sizes.set(name, size); // listed: its data are cut short, but a listing does not read them
        this.stoppedBecause = `the data end inside entry '${name}'`;
        return;
      }
      this.sizes.set(name, size);
      if (wanted && raw !== null) {
        let out: Uint8Array;
        if (method === 0) out = raw;
        else if (method === 8) {
          try {
            out = inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
          } catch (err) {
            throw new ZipError(where, `entry '${name}': deflate data is corrupt (${(err as Error).message})`);
          }
        } else throw new ZipError(where, `entry '${name}' uses compression method ${method} (only stored and deflate are supported)`);
        if (out.length !== size) throw new ZipError(where, `entry '${name}' holds ${out.length} bytes, its header says ${size}`);
        const c = crc32(out);
        if (c !== crc) throw new ZipError(where, `entry '${name}' fails its CRC-32 check (0x${c.toString(16)} != 0x${crc.toString(16)})`);
        this.kept.set(name, out);
      }
      pos += 30 + nameLen + extraLen + compressedSize + descriptorLen;
    }
  }

  /**
   * Reads a stored entry's data up to its data descriptor: the first signature followed by the CRC of the bytes before
   * it and their count (32- or 64-bit sizes). The bytes after the descriptor are pushed back. Null at the end of the input.
   */
  private readToDescriptor(input: Pushback, keep: boolean, name: string): { size: number; crc: number; data: Uint8Array | null; descriptorLen: number } | null {
    let pending: Buffer = Buffer.alloc(0);
    let done = 0; // bytes before `pending` that are data
    let crc = 0;
    const parts: Uint8Array[] = [];
    const confirm = (n: number): void => {
      const b = pending.subarray(0, n);
      crc = crc32(b, crc);
      if (keep) {
        if (done + n > this.maxKeptBytes) throw new ZipError(this.where, `entry '${name}' is larger than the ${this.maxKeptBytes} bytes read here`);
        parts.push(Uint8Array.from(b));
      }
      done += n;
      pending = pending.subarray(n);
    };
    for (;;) {
      let from = 0;
      let settledTo = Math.max(0, pending.length - 23); // a descriptor starting before this is complete in `pending`
      for (;;) {
        const i = pending.indexOf(SIG_DESCRIPTOR, from);
        if (i < 0 || i >= settledTo) {
          if (i >= 0) settledTo = i;
          break;
        }
        const v = new DataView(pending.buffer, pending.byteOffset, pending.byteLength);
        const size = done + i;
        const c = crc32(pending.subarray(0, i), crc);
        const small = v.getUint32(i + 4, true) === c && v.getUint32(i + 8, true) === size && v.getUint32(i + 12, true) === size;
        const big = !small && v.getUint32(i + 4, true) === c && Number(v.getBigUint64(i + 8, true)) === size && Number(v.getBigUint64(i + 16, true)) === size;
        if (small || big) {
          confirm(i);
          const len = small ? 16 : 24;
          input.unread(Uint8Array.from(pending.subarray(len)));
          return { size, crc, data: keep ? (parts.length === 1 ? parts[0]! : Buffer.concat(parts)) : null, descriptorLen: len };
        }
        from = i + 1;
      }
      confirm(settledTo);
      const more = input.read(64 << 10);
      if (more.length === 0) return null;
      pending = Buffer.concat([pending, more]);
    }
  }

  get partial(): boolean {
    return !this.complete;
  }
  names(): string[] {
    return [...this.sizes.keys()];
  }
  has(name: string): boolean {
    return this.sizes.has(name);
  }
  size(name: string): number {
    const s = this.sizes.get(name);
    if (s === undefined) throw new ZipError(this.where, `no entry '${name}'`);
    return s;
  }
  read(name: string): Uint8Array {
    const b = this.kept.get(name);
    if (!b) throw new ZipError(this.where, `entry '${name}' was not read (the zip was only listed front to back)`);
    return b;
  }
  readChunks(name: string, _chunkBytes: number, onChunk: (chunk: Uint8Array, offset: number) => void): void {
    onChunk(this.read(name), 0);
  }
}

/** A SequentialReader over a RandomAccessSource, from `start`. */
export function sequentialReader(source: RandomAccessSource, start = 0): SequentialReader & { readonly position: number } {
  let pos = start;
  return {
    get position() {
      return pos;
    },
    read(n: number): Uint8Array {
      const b = source.read(pos, n);
      pos += b.length;
      return b;
    },
    skip(n: number): number {
      const k = Math.max(0, Math.min(n, source.size - pos));
      pos += k;
      return k;
    },
  };
}

export interface ZipWriteEntry {
  name: string;
  data: Uint8Array;
}

/**
 * An entry whose bytes are made only when the writer reaches it (a tensor's storage), so that a large zip streams
 * with one entry in memory at a time. `size` must be the length `data()` returns.
 */
export interface LazyZipEntry {
  name: string;
  size: number;
  data: () => Uint8Array;
}

/** Bytes made piece by piece, of a length known before any is made (a tar member can be written as it streams). */
export interface SizedChunks {
  readonly size: number;
  chunks(): Iterable<Uint8Array>;
}

export interface ZipWriteOptions {
  /** Data alignment in bytes (torch: 64). */
  align?: number;
  /** Write zip64 fields and records even where 32 bits suffice (they are always written past 4 GiB). */
  forceZip64?: boolean;
}

/**
 * Writes a zip of stored (uncompressed) entries whose data start on `align`-byte boundaries, padding the
 * local header's extra field as PyTorchStreamWriter does ('FB' field filled with 'Z'); zip64 records
 * are used when an offset or size needs them.
 */
export function writeZip(entries: readonly ZipWriteEntry[], options: ZipWriteOptions = {}): Uint8Array {
  const z = zipStream(
    entries.map((e) => ({ name: e.name, size: e.data.length, data: () => e.data })),
    options,
  );
  const out = new Uint8Array(z.size);
  let p = 0;
  for (const b of z.chunks()) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

/**
 * The zip of writeZip as chunks made on demand: its size is known up front (the headers do not depend on the data),
 * each entry's bytes are made, CRC'd and handed out one entry at a time.
 */
export function zipStream(entries: readonly LazyZipEntry[], options: ZipWriteOptions = {}): SizedChunks {
  let size = 0;
  for (const r of zipRecords(entries, options, null)) size += typeof r === 'number' ? r : r.length;
  return {
    size,
    chunks: function* () {
      let written = 0;
      for (const r of zipRecords(entries, options, (e) => e.data())) {
        if (typeof r === 'number') throw new ZipError('<zip writer>', 'internal: a data record without data');
        written += r.length;
        yield r;
      }
      if (written !== size) throw new ZipError('<zip writer>', `wrote ${written} bytes where ${size} were planned (an entry's data changed size)`);
    },
  };
}

/**
 * The records of the zip in order: local headers, data, central directory, end records. With `dataOf` null, each
 * entry's data is its size (a number) and the CRCs are 0: for planning the length without making the data.
 */
function* zipRecords(
  entries: readonly LazyZipEntry[],
  options: ZipWriteOptions,
  dataOf: ((e: LazyZipEntry) => Uint8Array) | null,
): Generator<Uint8Array | number> {
  const align = options.align ?? 64;
  const force = options.forceZip64 === true;
  const enc = new TextEncoder();
  let offset = 0;
  const central: Uint8Array[] = [];
  for (const entry of entries) {
    const name = enc.encode(entry.name);
    const data = dataOf ? dataOf(entry) : null;
    if (data && data.length !== entry.size) throw new ZipError('<zip writer>', `entry ${entry.name}: ${data.length} bytes where ${entry.size} were declared`);
    const crc = data ? crc32(data) : 0;
    const size = entry.size;
    const headerOffset = offset;
    const big = force || size >= U32_MAX || headerOffset >= U32_MAX;
    const zip64Local = big ? 20 : 0; // id, len, usize, csize
    // padding extra field 'FB' so that the data begin on an aligned offset
    const base = headerOffset + 30 + name.length + zip64Local + 4;
    const pad = (align - (base % align)) % align;
    const extraLen = zip64Local + 4 + pad;
    const local = new Uint8Array(30 + name.length + extraLen);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, SIG_LOCAL, true);
    lv.setUint16(4, big ? 45 : 20, true);
    lv.setUint16(6, 0x0800, true); // UTF-8 names
    lv.setUint16(8, 0, true); // stored
    lv.setUint16(10, 0, true); // time
    lv.setUint16(12, 0x21, true); // 1980-01-01
    lv.setUint32(14, crc, true);
    lv.setUint32(18, big ? U32_MAX : size, true);
    lv.setUint32(22, big ? U32_MAX : size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extraLen, true);
    local.set(name, 30);
    let x = 30 + name.length;
    if (big) {
      lv.setUint16(x, 0x0001, true);
      lv.setUint16(x + 2, 16, true);
      lv.setBigUint64(x + 4, BigInt(size), true);
      lv.setBigUint64(x + 12, BigInt(size), true);
      x += 20;
    }
    lv.setUint16(x, 0x4246, true); // 'FB'
    lv.setUint16(x + 2, pad, true);
    local.fill(0x5a, x + 4, x + 4 + pad); // 'Z'
    yield local;
    yield data ?? size;
    offset += local.length + size;

    const needSize = force || size >= U32_MAX;
    const needOffset = force || headerOffset >= U32_MAX;
    const z64Len = (needSize ? 16 : 0) + (needOffset ? 8 : 0);
    const cExtra = z64Len > 0 ? 4 + z64Len : 0;
    const c = new Uint8Array(46 + name.length + cExtra);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, z64Len > 0 ? 45 : 20, true); // version made by
    cv.setUint16(6, z64Len > 0 ? 45 : 20, true); // version needed
    cv.setUint16(8, 0x0800, true);
    cv.setUint16(10, 0, true);
    cv.setUint16(12, 0, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, needSize ? U32_MAX : size, true);
    cv.setUint32(24, needSize ? U32_MAX : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, cExtra, true);
    cv.setUint32(42, needOffset ? U32_MAX : headerOffset, true);
    c.set(name, 46);
    if (z64Len > 0) {
      let y = 46 + name.length;
      cv.setUint16(y, 0x0001, true);
      cv.setUint16(y + 2, z64Len, true);
      y += 4;
      if (needSize) {
        cv.setBigUint64(y, BigInt(size), true);
        cv.setBigUint64(y + 8, BigInt(size), true);
        y += 16;
      }
      if (needOffset) cv.setBigUint64(y, BigInt(headerOffset), true);
    }
    central.push(c);
  }
  const cdOffset = offset;
  for (const c of central) {
    yield c;
    offset += c.length;
  }
  const cdSize = offset - cdOffset;
  const count = entries.length;
  const needZip64 = force || count >= U16_MAX || cdOffset >= U32_MAX || cdSize >= U32_MAX;
  if (needZip64) {
    const rec = new Uint8Array(56 + 20);
    const rv = new DataView(rec.buffer);
    const recOffset = offset;
    rv.setUint32(0, SIG_ZIP64_EOCD, true);
    rv.setBigUint64(4, 44n, true);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(count), true);
    rv.setBigUint64(32, BigInt(count), true);
    rv.setBigUint64(40, BigInt(cdSize), true);
    rv.setBigUint64(48, BigInt(cdOffset), true);
    rv.setUint32(56, SIG_ZIP64_LOCATOR, true);
    rv.setBigUint64(64, BigInt(recOffset), true);
    rv.setUint32(72, 1, true);
    yield rec;
    offset += rec.length;
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, needZip64 ? U16_MAX : count, true);
  ev.setUint16(10, needZip64 ? U16_MAX : count, true);
  ev.setUint32(12, needZip64 ? U32_MAX : cdSize, true);
  ev.setUint32(16, needZip64 ? U32_MAX : cdOffset, true);
  yield end;
}
