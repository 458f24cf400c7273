// Zip container as torch.save writes it (ports caffe2::serialize::PyTorchStreamReader/Writer's use of miniz):
// a reader for stored or deflated entries (zip64 aware) and a writer of stored, 64-byte aligned entries.
import { crc32 as zlibCrc32, inflateRawSync } from 'node:zlib';

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

/** CRC-32 (zip polynomial) of bytes; uses node:zlib's when the Node version has it. */
export function crc32(bytes: Uint8Array): number {
  if (typeof zlibCrc32 === 'function') return zlibCrc32(bytes) >>> 0;
  let c = 0xffffffff;
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

function u64(view: DataView, at: number, where: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(where, `64-bit field at byte ${at} is too large (${v})`);
  return Number(v);
}

/** A parsed zip archive over bytes in memory (entries are read on demand). */
export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly where = '<zip>',
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.parseCentralDirectory();
  }

  private need(at: number, len: number, what: string): void {
    if (at < 0 || len < 0 || at + len > this.bytes.length) {
      throw new ZipError(
        this.where,
        `${what} at byte ${at} (+${len}) runs past the end of the file (${this.bytes.length} bytes); the file is truncated or corrupt`,
      );
    }
  }

  private findEndOfCentralDirectory(): number {
    const n = this.bytes.length;
    const stop = Math.max(0, n - 22 - U16_MAX);
    for (let i = n - 22; i >= stop; i--) {
      if (this.view.getUint32(i, true) === SIG_EOCD) return i;
    }
    throw new ZipError(this.where, 'not a zip archive (no end-of-central-directory record)');
  }

  private parseCentralDirectory(): void {
    const v = this.view;
    if (this.bytes.length < 22) throw new ZipError(this.where, `not a zip archive (only ${this.bytes.length} bytes)`);
    const eocd = this.findEndOfCentralDirectory();
    let count = v.getUint16(eocd + 10, true);
    let cdSize = v.getUint32(eocd + 12, true);
    let cdOffset = v.getUint32(eocd + 16, true);
    if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
      const loc = eocd - 20;
      if (loc < 0 || v.getUint32(loc, true) !== SIG_ZIP64_LOCATOR) throw new ZipError(this.where, 'zip64 fields without a zip64 locator');
      const rec = u64(v, loc + 8, this.where);
      this.need(rec, 56, 'zip64 end-of-central-directory record');
      if (v.getUint32(rec, true) !== SIG_ZIP64_EOCD) throw new ZipError(this.where, `bad zip64 end-of-central-directory signature at byte ${rec}`);
      count = u64(v, rec + 32, this.where);
      cdSize = u64(v, rec + 40, this.where);
      cdOffset = u64(v, rec + 48, this.where);
    }
    this.need(cdOffset, cdSize, 'central directory');
    let p = cdOffset;
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (let i = 0; i < count; i++) {
      this.need(p, 46, `central directory entry ${i}`);
      if (v.getUint32(p, true) !== SIG_CENTRAL) throw new ZipError(this.where, `bad central directory signature for entry ${i} at byte ${p}`);
      const method = v.getUint16(p + 10, true);
      const crc = v.getUint32(p + 16, true);
      let compressedSize = v.getUint32(p + 20, true);
      let size = v.getUint32(p + 24, true);
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      let localHeaderOffset = v.getUint32(p + 42, true);
      this.need(p + 46, nameLen + extraLen + commentLen, `central directory entry ${i} name/extra`);
      let name: string;
      try {
        name = decoder.decode(this.bytes.subarray(p + 46, p + 46 + nameLen));
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
      this.entries.set(name, { name, method, compressedSize, size, crc, localHeaderOffset });
      p = extraEnd + commentLen;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry's bytes (a view into the archive for stored entries, a new buffer for deflated ones), CRC-checked. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new ZipError(this.where, `no entry '${name}'`);
    const v = this.view;
    this.need(e.localHeaderOffset, 30, `local header of '${name}'`);
    if (v.getUint32(e.localHeaderOffset, true) !== SIG_LOCAL) throw new ZipError(this.where, `bad local header signature for '${name}'`);
    const nameLen = v.getUint16(e.localHeaderOffset + 26, true);
    const extraLen = v.getUint16(e.localHeaderOffset + 28, true);
    const start = e.localHeaderOffset + 30 + nameLen + extraLen;
    this.need(start, e.compressedSize, `data of '${name}' (${e.compressedSize} bytes)`);
    const raw = this.bytes.subarray(start, start + e.compressedSize);
    let out: Uint8Array;
    if (e.method === 0) {
      if (e.size !== e.compressedSize) throw new ZipError(this.where, `stored entry '${name}' has size ${e.size} != compressed size ${e.compressedSize}`);
      out = raw;
    } else if (e.method === 8) {
      try {
        out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
      } catch (err) {
        throw new ZipError(this.where, `entry '${name}': deflate data is corrupt (${(err as Error).message})`);
      }
      if (out.length !== e.size) throw new ZipError(this.where, `entry '${name}' inflated to ${out.length} bytes, expected ${e.size}`);
    } else {
      throw new ZipError(this.where, `entry '${name}' uses compression method ${e.method} (only stored and deflate are supported)`);
    }
    const c = crc32(out);
    if (c !== e.crc) throw new ZipError(this.where, `entry '${name}' fails its CRC-32 check (0x${c.toString(16)} != 0x${e.crc.toString(16)})`);
    return out;
  }
}

export interface ZipWriteEntry {
  name: string;
  data: Uint8Array;
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
  const align = options.align ?? 64;
  const force = options.forceZip64 === true;
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let offset = 0;
  const central: Uint8Array[] = [];
  const push = (b: Uint8Array): void => {
    parts.push(b);
    offset += b.length;
  };
  for (const entry of entries) {
    const name = enc.encode(entry.name);
    const crc = crc32(entry.data);
    const size = entry.data.length;
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
    push(local);
    push(entry.data);

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
  for (const c of central) push(c);
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
    push(rec);
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, needZip64 ? U16_MAX : count, true);
  ev.setUint16(10, needZip64 ? U16_MAX : count, true);
  ev.setUint32(12, needZip64 ? U32_MAX : cdSize, true);
  ev.setUint32(16, needZip64 ? U32_MAX : cdOffset, true);
  push(end);
  const out = new Uint8Array(offset);
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}
